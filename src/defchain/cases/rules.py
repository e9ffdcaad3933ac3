"""Pure case rules: statuses and the table of transitions between them, task kinds,
levels of concern, the review cadence, the closure gate and the default monitoring plan.

No session, no clock, no HTTP: values in (including ``now``), decisions with reasons out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum


class CaseStatus(StrEnum):
    """Where a case stands. Today only ``open`` and ``assessing`` are reached."""

    OPEN = "open"
    ASSESSING = "assessing"
    MANAGING = "managing"
    MONITORING = "monitoring"
    CLOSED = "closed"


CASE_STATUS_LABELS: dict[CaseStatus, str] = {
    CaseStatus.OPEN: "Open",
    CaseStatus.ASSESSING: "Assessing",
    CaseStatus.MANAGING: "Managing",
    CaseStatus.MONITORING: "Monitoring",
    CaseStatus.CLOSED: "Closed",
}

# What recording an assessment does to each status: a case assessed for the first time
# moves on to "assessing"; one already further along keeps its status (re-assessment is
# part of managing and monitoring). A closed case is not assessed (the service refuses).
_AFTER_ASSESSMENT: dict[CaseStatus, CaseStatus] = {
    CaseStatus.OPEN: CaseStatus.ASSESSING,
    CaseStatus.ASSESSING: CaseStatus.ASSESSING,
    CaseStatus.MANAGING: CaseStatus.MANAGING,
    CaseStatus.MONITORING: CaseStatus.MONITORING,
    CaseStatus.CLOSED: CaseStatus.CLOSED,
}


def status_after_assessment(status: str) -> CaseStatus:
    """The case's status once an assessment has been recorded on it."""
    return _AFTER_ASSESSMENT[CaseStatus(status)]


class LevelOfConcern(StrEnum):
    """The team's judgement after an assessment."""

    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"
    IMMINENT = "imminent"


LEVEL_OF_CONCERN_LABELS: dict[LevelOfConcern, str] = {
    LevelOfConcern.LOW: "Low",
    LevelOfConcern.MODERATE: "Moderate",
    LevelOfConcern.HIGH: "High",
    LevelOfConcern.IMMINENT: "Imminent",
}


class TaskKind(StrEnum):
    """What a task asks someone to do: inquiry, intervention, support or a gap to close."""

    INTERVIEW = "interview"
    HOME_VISIT = "home_visit"
    RECORDS_CHECK = "records_check"
    SOCIAL_MEDIA_REVIEW = "social_media_review"
    WEAPONS_ACCESS_CHECK = "weapons_access_check"
    MENTAL_HEALTH_REFERRAL = "mental_health_referral"
    MOBILE_CRISIS = "mobile_crisis"
    INVOLUNTARY_HOLD = "involuntary_hold"
    ERPO_PETITION = "erpo_petition"
    SAFETY_PLAN = "safety_plan"
    TARGET_PROTECTION = "target_protection"
    CHARGES = "charges"
    SUPPORT_HOUSING = "support_housing"
    SUPPORT_EMPLOYMENT = "support_employment"
    MENTORING = "mentoring"
    COUNSELING = "counseling"
    INFORMATION_GAP = "information_gap"
    OTHER = "other"


TASK_KIND_LABELS: dict[TaskKind, str] = {
    TaskKind.INTERVIEW: "Interview",
    TaskKind.HOME_VISIT: "Home visit",
    TaskKind.RECORDS_CHECK: "Records check",
    TaskKind.SOCIAL_MEDIA_REVIEW: "Social media review",
    TaskKind.WEAPONS_ACCESS_CHECK: "Weapons access check",
    TaskKind.MENTAL_HEALTH_REFERRAL: "Mental health referral",
    TaskKind.MOBILE_CRISIS: "Mobile crisis response",
    TaskKind.INVOLUNTARY_HOLD: "Involuntary hold evaluation",
    TaskKind.ERPO_PETITION: "Extreme risk protection order petition",
    TaskKind.SAFETY_PLAN: "Safety plan",
    TaskKind.TARGET_PROTECTION: "Protect the potential target",
    TaskKind.CHARGES: "Criminal charges",
    TaskKind.SUPPORT_HOUSING: "Housing support",
    TaskKind.SUPPORT_EMPLOYMENT: "Employment support",
    TaskKind.MENTORING: "Mentoring",
    TaskKind.COUNSELING: "Counseling",
    TaskKind.INFORMATION_GAP: "Close an information gap",
    TaskKind.OTHER: "Other",
}


class TaskStatus(StrEnum):
    """A task is open until someone records its outcome or cancels it."""

    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


TASK_STATUS_LABELS: dict[TaskStatus, str] = {
    TaskStatus.OPEN: "Open",
    TaskStatus.DONE: "Done",
    TaskStatus.CANCELLED: "Cancelled",
}

MAX_TITLE = 200
MAX_TEXT = 10_000
MAX_ORIGIN = 200


def task_overdue(*, status: str, due_at: datetime, now: datetime) -> bool:
    """An open task whose due time has passed."""
    return status == TaskStatus.OPEN and due_at < now


def clean_text(value: str) -> str:
    """Text as entered, without surrounding blanks (inner line breaks kept)."""
    return (value or "").strip()


def clean_title(value: str) -> str:
    """A one-line title: runs of blanks and line breaks become one space."""
    return " ".join((value or "").split())


# --- the status workflow -----------------------------------------------------------------

# Every move a person may make, and the ones the system makes: (from, to) -> the event
# that names it in the audit log and on the timeline. Anything not in the table is
# refused. Closing is here too, but the service lets it through only when
# ``closure_gate`` finds nothing missing.
TRANSITIONS: dict[tuple[CaseStatus, CaseStatus], str] = {
    (CaseStatus.OPEN, CaseStatus.ASSESSING): "assessment started",
    (CaseStatus.ASSESSING, CaseStatus.MANAGING): "management plan started",
    (CaseStatus.OPEN, CaseStatus.MANAGING): "management plan started",
    (CaseStatus.MANAGING, CaseStatus.ASSESSING): "back to assessment",
    (CaseStatus.MANAGING, CaseStatus.MONITORING): "monitoring started",
    (CaseStatus.ASSESSING, CaseStatus.MONITORING): "monitoring started",
    (CaseStatus.MONITORING, CaseStatus.MANAGING): "back to active management",
    (CaseStatus.OPEN, CaseStatus.CLOSED): "closed",
    (CaseStatus.ASSESSING, CaseStatus.CLOSED): "closed",
    (CaseStatus.MANAGING, CaseStatus.CLOSED): "closed",
    (CaseStatus.MONITORING, CaseStatus.CLOSED): "closed",
    # Re-opening: by a person, or by the tripwire when new information arrives.
    (CaseStatus.CLOSED, CaseStatus.OPEN): "re-opened",
    (CaseStatus.MONITORING, CaseStatus.OPEN): "re-opened",
}


def transition(current: str, wanted: str) -> str:
    """The event name of moving from ``current`` to ``wanted``; ``ValueError`` saying
    which moves are allowed when the table has no such move."""
    key = (CaseStatus(current), CaseStatus(wanted))
    event = TRANSITIONS.get(key)
    if event is None:
        allowed = sorted(CASE_STATUS_LABELS[to] for (frm, to) in TRANSITIONS if frm == key[0])
        current_label = CASE_STATUS_LABELS[key[0]].lower()
        article = "an" if current_label[0] in "aeiou" else "a"
        raise ValueError(
            f"{article} {current_label} case cannot become "
            f"{CASE_STATUS_LABELS[key[1]].lower()}; it can become: {', '.join(allowed)}"
        )
    return event


def next_statuses(current: str) -> list[CaseStatus]:
    """Where a person may move the case from ``current`` (closing included)."""
    return [to for (frm, to) in TRANSITIONS if frm == CaseStatus(current)]


# --- review cadence ------------------------------------------------------------------------

# Days between reviews by level of concern; a jurisdiction may set its own.
DEFAULT_REVIEW_DAYS: dict[LevelOfConcern, int] = {
    LevelOfConcern.IMMINENT: 1,
    LevelOfConcern.HIGH: 7,
    LevelOfConcern.MODERATE: 30,
    LevelOfConcern.LOW: 90,
}


def review_days(overrides: Mapping[str, int] | None = None) -> dict[LevelOfConcern, int]:
    """The cadence in force: the defaults with a jurisdiction's overrides on top."""
    days = dict(DEFAULT_REVIEW_DAYS)
    for key, value in (overrides or {}).items():
        days[LevelOfConcern(key)] = int(value)
    return days


def parse_review_days(raw: Mapping[str, str]) -> tuple[dict[str, int], dict[str, str]]:
    """A jurisdiction's cadence form: whole days from 1 to 365, never longer for a more
    serious level than for a less serious one. Returns (values, errors by field)."""
    values: dict[str, int] = {}
    errors: dict[str, str] = {}
    for level in LevelOfConcern:
        text = str(raw.get(level.value, "")).strip()
        if not text:
            errors[level.value] = "is required"
        elif not text.isdigit() or not 1 <= int(text) <= 365:
            errors[level.value] = "must be a whole number of days from 1 to 365"
        else:
            values[level.value] = int(text)
    if not errors:
        order = [LevelOfConcern.IMMINENT, LevelOfConcern.HIGH, LevelOfConcern.MODERATE]
        for serious, lighter in zip(order, [*order[1:], LevelOfConcern.LOW], strict=True):
            if values[serious.value] > values[lighter.value]:
                errors[serious.value] = (
                    f"cannot be longer than for {LEVEL_OF_CONCERN_LABELS[lighter].lower()} "
                    f"({values[lighter.value]} days)"
                )
    return values, errors


def next_review(
    level: str | None, assessed_at: datetime, days: Mapping[LevelOfConcern, int]
) -> datetime | None:
    """When the case is next due for review, counted from its latest assessment."""
    if not level:
        return None
    return assessed_at + timedelta(days=days[LevelOfConcern(level)])


LEVEL_RANK = {level: rank for rank, level in enumerate(LevelOfConcern)}


def higher_level(a: str | None, b: str | None) -> str | None:
    """The more serious of two levels (``None`` counts as below low)."""
    if not a or not b:
        return a or b
    return a if LEVEL_RANK[LevelOfConcern(a)] >= LEVEL_RANK[LevelOfConcern(b)] else b


# --- closure ------------------------------------------------------------------------------

# A monitoring plan's default check-ins after closure, in days.
DEFAULT_CHECKINS: tuple[int, ...] = (30, 90, 180)
FIREARM_ANSWERED = frozenset({"known", "reported", "none_known"})


@dataclass(frozen=True)
class ClosureFacts:
    """Everything the closure gate looks at, gathered by the service."""

    level_of_concern: str | None
    last_assessed_at: datetime | None
    peak_level: str | None
    transfer_note: str
    open_tasks: int
    # person id -> latest firearm-access status (missing: never recorded)
    firearm_access: Mapping[int, str]
    subject_ids: Sequence[int]
    plan_outcome: str
    lead_user_id: int
    signoff_user_ids: Sequence[int]
    scheduled_checkins: int
    review_days: Mapping[LevelOfConcern, int] = field(default_factory=lambda: DEFAULT_REVIEW_DAYS)


@dataclass(frozen=True)
class Unmet:
    """One condition the case does not meet yet, and why it matters."""

    condition: str
    reason: str


def closure_gate(facts: ClosureFacts, now: datetime) -> list[Unmet]:
    """Every unmet condition for closing, each with its reason; empty when the case
    may close. The conditions follow the finding that attacks went ahead after
    follow-up on an early report was dropped: closing must be a decision the record
    supports, not a way to make a case disappear."""
    unmet: list[Unmet] = []
    unmet += _assessment_condition(facts, now)
    if facts.open_tasks:
        unmet.append(
            Unmet(
                "no open task",
                f"{facts.open_tasks} task{'s are' if facts.open_tasks != 1 else ' is'} still "
                "open: record each outcome, or cancel it with a reason",
            )
        )
    if not facts.subject_ids:
        unmet.append(Unmet("firearm access", "the case has no subject person to answer it for"))
    missing = [
        pid for pid in facts.subject_ids if facts.firearm_access.get(pid) not in FIREARM_ANSWERED
    ]
    if missing:
        unmet.append(
            Unmet(
                "firearm access",
                "firearm access is not answered for "
                + ", ".join(f"person #{pid}" for pid in missing)
                + " (known, reported or none known)",
            )
        )
    if not facts.plan_outcome.strip():
        unmet.append(Unmet("plan outcome", "record the outcome of the management plan"))
    if facts.peak_level in (LevelOfConcern.HIGH, LevelOfConcern.IMMINENT):
        unmet += _high_case_conditions(facts)
    return unmet


def _assessment_condition(facts: ClosureFacts, now: datetime) -> list[Unmet]:
    if facts.transfer_note.strip():
        return []
    if facts.level_of_concern is None or facts.last_assessed_at is None:
        return [
            Unmet("current low assessment", "the case was never assessed (or document a transfer)")
        ]
    level = LevelOfConcern(facts.level_of_concern)
    if level is not LevelOfConcern.LOW:
        return [
            Unmet(
                "current low assessment",
                f"the latest assessment found {LEVEL_OF_CONCERN_LABELS[level].lower()} concern; "
                "closing needs low (or a documented transfer)",
            )
        ]
    window = timedelta(days=facts.review_days[LevelOfConcern.LOW])
    if now - facts.last_assessed_at > window:
        return [
            Unmet(
                "current low assessment",
                f"the low assessment is older than the review interval ({window.days} days): "
                "reassess",
            )
        ]
    return []


def _high_case_conditions(facts: ClosureFacts) -> list[Unmet]:
    unmet: list[Unmet] = []
    signed = set(facts.signoff_user_ids)
    if facts.lead_user_id not in signed:
        unmet.append(
            Unmet("lead sign-off", "the case was once high or imminent: the lead signs off")
        )
    if not signed - {facts.lead_user_id}:
        unmet.append(
            Unmet(
                "second sign-off",
                "the case was once high or imminent: a second team member signs off",
            )
        )
    if facts.scheduled_checkins < 1:
        unmet.append(
            Unmet(
                "monitoring plan",
                "the case was once high or imminent: schedule at least one check-in "
                f"(the default plan is {', '.join(str(d) for d in DEFAULT_CHECKINS)} days)",
            )
        )
    return unmet


# Every closure condition, in the order the page lists them; the last three apply only
# to a case that was once high or imminent.
CLOSURE_CONDITIONS: tuple[str, ...] = (
    "current low assessment",
    "no open task",
    "firearm access",
    "plan outcome",
    "lead sign-off",
    "second sign-off",
    "monitoring plan",
)
HIGH_ONLY_CONDITIONS = CLOSURE_CONDITIONS[4:]
CLOSURE_CONDITION_LABELS: dict[str, str] = {
    "current low assessment": "A current assessment shows low concern, or a documented transfer",
    "no open task": "No task is open",
    "firearm access": "Firearm access is answered for every subject",
    "plan outcome": "The outcome of the management plan is recorded",
    "lead sign-off": "The lead has signed off",
    "second sign-off": "A second team member has signed off",
    "monitoring plan": "A monitoring plan has at least one scheduled check-in",
}


def closure_checklist(peak_level: str | None, unmet: Sequence[Unmet]) -> list[dict[str, object]]:
    """Every closure condition that applies to a case with this peak level, met or not,
    with the reasons it is not met (the close form's checklist)."""
    high = peak_level in (LevelOfConcern.HIGH, LevelOfConcern.IMMINENT)
    return [
        {
            "condition": condition,
            "label": CLOSURE_CONDITION_LABELS[condition],
            "reasons": [u.reason for u in unmet if u.condition == condition],
        }
        for condition in CLOSURE_CONDITIONS
        if high or condition not in HIGH_ONLY_CONDITIONS
    ]


def review_due(next_review_at: datetime | None, status: str, now: datetime) -> bool:
    """A case not closed whose review date has come."""
    return status != CaseStatus.CLOSED and next_review_at is not None and next_review_at <= now


def default_checkins(closed_at: datetime) -> list[datetime]:
    """The default monitoring plan's check-in dates."""
    return [closed_at + timedelta(days=d) for d in DEFAULT_CHECKINS]


# --- chronic cases -----------------------------------------------------------------------


class CareItemKind(StrEnum):
    """Care-continuity items of a long-term plan (after a 72-hour hold, for example)."""

    FOLLOWUP_MADE = "followup_made"
    FOLLOWUP_ATTENDED = "followup_attended"
    MEDICATION = "medication"
    NEXT_CONTACT = "next_contact"
    HOUSING = "housing"
    OTHER = "other"


CARE_ITEM_LABELS: dict[CareItemKind, str] = {
    CareItemKind.FOLLOWUP_MADE: "Follow-up appointment made?",
    CareItemKind.FOLLOWUP_ATTENDED: "Follow-up appointment attended?",
    CareItemKind.MEDICATION: "Medication continuity?",
    CareItemKind.NEXT_CONTACT: "Next contact arranged?",
    CareItemKind.HOUSING: "Housing stable?",
    CareItemKind.OTHER: "Other",
}

# The items a long-term plan starts with after an involuntary hold.
AFTER_HOLD: tuple[CareItemKind, ...] = (
    CareItemKind.FOLLOWUP_MADE,
    CareItemKind.FOLLOWUP_ATTENDED,
    CareItemKind.MEDICATION,
    CareItemKind.NEXT_CONTACT,
)


class TripwireMode(StrEnum):
    """What a new report about a person with a closed or monitored case does."""

    REOPEN = "reopen"
    FLAG = "flag"
