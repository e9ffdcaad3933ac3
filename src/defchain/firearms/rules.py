"""Pure decisions of the firearms domain: the denial follow-up's steps and decisions,
the ERPO stages and the deadlines the law sets between them, and the dashboard's maths.

Nothing here reads the database or the clock: ``now`` and every fact come in as values.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

# --- denial follow-up ----------------------------------------------------------------

DEFAULT_FOLLOWUP_DAYS = 3  # an agency without a policy row (FirearmPolicy)
MIN_FOLLOWUP_DAYS = 1
MAX_FOLLOWUP_DAYS = 60
MAX_NOTE = 2000


class FollowUpKind(StrEnum):
    """What started the follow-up: a NICS denial or a dealer's report of an attempt."""

    DENIAL = "denial"
    PURCHASE_ATTEMPT = "purchase_attempt"


# Report kinds (intake's ReportKind values) that start a follow-up.
KIND_OF_REPORT: dict[str, FollowUpKind] = {
    "nics_denial": FollowUpKind.DENIAL,
    "purchase_attempt": FollowUpKind.PURCHASE_ATTEMPT,
}
# Report kinds that alert the case lead of a person on the banned-person watch.
WATCH_ALERT_KINDS: frozenset[str] = frozenset({"nics_denial", "purchase_attempt", "tip"})


class FollowUpStatus(StrEnum):
    """``case``: the person already has a case, which the tripwire re-opened or told."""

    OPEN = "open"
    DONE = "done"
    CASE = "case"


class Step(StrEnum):
    """The follow-up's steps, in order; each is a link of the chain."""

    DECONFLICT = "deconflict"
    PRIOR_REPORTS = "prior_reports"
    DECIDE = "decide"
    OUTCOME = "outcome"


STEPS: tuple[Step, ...] = tuple(Step)
STEP_LABELS: dict[Step, str] = {
    Step.DECONFLICT: "Deconflict with the other agencies notified",
    Step.PRIOR_REPORTS: "Check for prior reports",
    Step.DECIDE: "Decide what to do",
    Step.OUTCOME: "Record the outcome",
}


class Decision(StrEnum):
    """What the agency decided after a denial or an attempt."""

    NO_ACTION = "no_action"
    INTERVIEW = "interview"
    REFER_ATF = "refer_atf"
    REFER_PROSECUTOR = "refer_prosecutor"
    OPEN_CASE = "open_case"


DECISION_LABELS: dict[Decision, str] = {
    Decision.NO_ACTION: "No action",
    Decision.INTERVIEW: "Interview the person",
    Decision.REFER_ATF: "Refer to ATF (attempted illegal purchase)",
    Decision.REFER_PROSECUTOR: "Refer to the prosecutor (attempted illegal purchase)",
    Decision.OPEN_CASE: "Open a threat case",
}


def followup_due(now: datetime, days: int) -> datetime:
    """When the whole follow-up is due: ``days`` of agency policy after receipt."""
    return now + timedelta(days=days)


def steps_missing_before(step: Step, done: Iterable[Step]) -> list[Step]:
    """The earlier steps not yet done: a step waits for every step before it."""
    finished = set(done)
    return [earlier for earlier in STEPS[: STEPS.index(step)] if earlier not in finished]


# --- banned-person watch ---------------------------------------------------------------


class ProhibitionKind(StrEnum):
    """What puts a person on the watch."""

    ERPO = "erpo"
    DV_ORDER = "dv_order"
    COURT_ORDER = "court_order"
    AGENCY_MARKED = "agency_marked"


PROHIBITION_LABELS: dict[ProhibitionKind, str] = {
    ProhibitionKind.ERPO: "Extreme risk protection order",
    ProhibitionKind.DV_ORDER: "Domestic-violence protection order",
    ProhibitionKind.COURT_ORDER: "Other prohibiting court order",
    ProhibitionKind.AGENCY_MARKED: "Marked prohibited by an agency with authority",
}
# Agency kinds (access AgencyKind values) with the authority to mark a person
# prohibited: law enforcement and prosecutors, who hold the records that prohibit.
MARKING_AGENCY_KINDS: frozenset[str] = frozenset({"police", "sheriff", "prosecutor"})


def prohibition_active(
    *, starts_at: datetime, ends_at: datetime | None, lifted_at: datetime | None, now: datetime
) -> bool:
    """A prohibition holds from its start until it ends or is lifted."""
    if lifted_at is not None and lifted_at <= now:
        return False
    return starts_at <= now and (ends_at is None or now < ends_at)


# --- ERPO tracker ----------------------------------------------------------------------


class ErpoStage(StrEnum):
    """The stages of an extreme risk protection order, in order."""

    PETITION_DRAFTED = "petition_drafted"
    FILED = "filed"
    EX_PARTE = "ex_parte"
    HEARING = "hearing"
    FINAL_ORDER = "final_order"
    SERVED = "served"
    SURRENDERED = "surrendered"
    EXPIRED = "expired"


ERPO_STAGES: tuple[ErpoStage, ...] = tuple(ErpoStage)
ERPO_STAGE_LABELS: dict[ErpoStage, str] = {
    ErpoStage.PETITION_DRAFTED: "Petition drafted",
    ErpoStage.FILED: "Petition filed",
    ErpoStage.EX_PARTE: "Ex parte or temporary order",
    ErpoStage.HEARING: "Hearing",
    ErpoStage.FINAL_ORDER: "Final order",
    ErpoStage.SERVED: "Order served",
    ErpoStage.SURRENDERED: "Firearms surrendered",
    ErpoStage.EXPIRED: "Expired",
}
# The order's column recording when each stage happened.
STAGE_FIELD: dict[ErpoStage, str] = {
    ErpoStage.PETITION_DRAFTED: "petition_drafted_at",
    ErpoStage.FILED: "filed_at",
    ErpoStage.EX_PARTE: "ex_parte_at",
    ErpoStage.HEARING: "hearing_at",
    ErpoStage.FINAL_ORDER: "final_order_at",
    ErpoStage.SERVED: "served_at",
    ErpoStage.SURRENDERED: "surrendered_at",
    ErpoStage.EXPIRED: "expired_at",
}
# An order in these stages prohibits, until it expires.
IN_FORCE: frozenset[ErpoStage] = frozenset(
    {ErpoStage.FINAL_ORDER, ErpoStage.SERVED, ErpoStage.SURRENDERED}
)
REMIND_BEFORE_EXPIRY = timedelta(days=30)
EXPIRING_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class StageDeadline:
    """A stage the law says must follow another within ``within``."""

    after: ErpoStage
    within: timedelta


# Deadlines the law sets, per state, only where DOMAIN-FACTS marks them verified (§4):
# the hearing after an ex parte or temporary order. Other states: no deadline.
STATE_DEADLINES: dict[str, dict[ErpoStage, StageDeadline]] = {
    "CA": {ErpoStage.HEARING: StageDeadline(ErpoStage.EX_PARTE, timedelta(days=21))},
    "CO": {ErpoStage.HEARING: StageDeadline(ErpoStage.EX_PARTE, timedelta(days=14))},
    "CT": {ErpoStage.HEARING: StageDeadline(ErpoStage.EX_PARTE, timedelta(days=14))},
    "DE": {ErpoStage.HEARING: StageDeadline(ErpoStage.EX_PARTE, timedelta(days=15))},
    "VT": {ErpoStage.HEARING: StageDeadline(ErpoStage.EX_PARTE, timedelta(days=14))},
    "VA": {ErpoStage.HEARING: StageDeadline(ErpoStage.EX_PARTE, timedelta(days=14))},
}


def next_stage(stage: ErpoStage) -> ErpoStage | None:
    """The stage after ``stage`` in the table (``None`` after the last)."""
    index = ERPO_STAGES.index(stage)
    return ERPO_STAGES[index + 1] if index + 1 < len(ERPO_STAGES) else None


def advance_problem(current: ErpoStage | None, target: ErpoStage) -> str:
    """Why an order in ``current`` cannot move to ``target`` ("" when it can). Stages
    may be skipped forward (not every petition has an ex parte order), never backwards."""
    if current is not None and ERPO_STAGES.index(target) <= ERPO_STAGES.index(current):
        later = [
            ERPO_STAGE_LABELS[s].lower() for s in ERPO_STAGES[ERPO_STAGES.index(current) + 1 :]
        ]
        allowed = "; ".join(later) if later else "none (the order has expired)"
        return (
            f"stage: the order is at {ERPO_STAGE_LABELS[current].lower()}; it can move to {allowed}"
        )
    return ""


def stage_deadline(
    state: str, stage: ErpoStage, times: dict[ErpoStage, datetime | None]
) -> datetime | None:
    """When ``stage`` is due under the state's law, given the times recorded so far;
    ``None`` when the law sets no deadline (or its starting stage has not happened)."""
    rule = STATE_DEADLINES.get(state.upper(), {}).get(stage)
    if rule is None:
        return None
    start = times.get(rule.after)
    return start + rule.within if start is not None else None


def may_add_firearms(stage: ErpoStage) -> bool:
    """Firearms surrendered later join the inventory while the order is at the
    surrender (before it, the surrender form records them; after expiry, none)."""
    return stage is ErpoStage.SURRENDERED


def reached_late(at: datetime | None, due_at: datetime | None) -> bool:
    """A stage that happened after the deadline the law set for it."""
    return at is not None and due_at is not None and at > due_at


def needs_reminder(
    *, stage: ErpoStage, expires_at: datetime | None, reminded_at: datetime | None, now: datetime
) -> bool:
    """An order in force, expiring within the reminder window, not yet reminded of."""
    if stage not in IN_FORCE or expires_at is None or reminded_at is not None:
        return False
    return now < expires_at <= now + REMIND_BEFORE_EXPIRY


# --- dashboard maths -------------------------------------------------------------------


def share_within_window(
    rows: Sequence[tuple[datetime, datetime | None]], now: datetime
) -> float | None:
    """Of the follow-ups that are due by now or have an outcome (``(due_at,
    outcome_at)``), the share whose outcome was recorded by its due time. Follow-ups
    still inside their window with no outcome do not count yet. ``None``: nothing to
    count."""
    counted = [(due, done) for due, done in rows if done is not None or due <= now]
    if not counted:
        return None
    met = sum(1 for due, done in counted if done is not None and done <= due)
    return met / len(counted)


def median_duration(durations: Sequence[timedelta]) -> timedelta | None:
    """The median of the durations (``None`` for none)."""
    if not durations:
        return None
    seconds = statistics.median(d.total_seconds() for d in durations)
    return timedelta(seconds=seconds)


def count_by_stage(stages: Iterable[str]) -> dict[ErpoStage, int]:
    """How many orders are at each stage, every stage present (zero included)."""
    counts = dict.fromkeys(ERPO_STAGES, 0)
    for stage in stages:
        if stage in ErpoStage.__members__.values():
            counts[ErpoStage(stage)] += 1
    return counts
