"""The firearms domain's pure rules: steps, ERPO stages and deadlines, reminders and
the dashboard's maths."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from defchain.firearms.rules import (
    ERPO_STAGES,
    ErpoStage,
    Step,
    advance_problem,
    count_by_stage,
    followup_due,
    median_duration,
    needs_reminder,
    next_stage,
    prohibition_active,
    share_within_window,
    stage_deadline,
    steps_missing_before,
)

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def test_the_follow_up_is_due_after_the_policy_days() -> None:
    assert followup_due(T0, 3) == T0 + 3 * DAY


@pytest.mark.parametrize(
    ("step", "done", "missing"),
    [
        (Step.DECONFLICT, [], []),
        (Step.PRIOR_REPORTS, [], [Step.DECONFLICT]),
        (Step.DECIDE, [Step.DECONFLICT], [Step.PRIOR_REPORTS]),
        (Step.OUTCOME, [Step.DECONFLICT, Step.PRIOR_REPORTS, Step.DECIDE], []),
        (Step.OUTCOME, [], [Step.DECONFLICT, Step.PRIOR_REPORTS, Step.DECIDE]),
    ],
)
def test_a_step_waits_for_every_earlier_step(
    step: Step, done: list[Step], missing: list[Step]
) -> None:
    assert steps_missing_before(step, done) == missing


def active(
    now: datetime, *, ends: datetime | None = T0 + 10 * DAY, lifted: datetime | None = None
) -> bool:
    return prohibition_active(starts_at=T0, ends_at=ends, lifted_at=lifted, now=now)


def test_a_prohibition_holds_from_its_start_until_its_end_or_lifting() -> None:
    assert not active(T0 - DAY)
    assert active(T0)
    assert active(T0 + 9 * DAY)
    assert not active(T0 + 10 * DAY)
    assert active(T0 + DAY, lifted=T0 + 2 * DAY)
    assert not active(T0 + 3 * DAY, lifted=T0 + 2 * DAY)
    assert active(T0 + 3650 * DAY, ends=None)


def test_stages_run_in_table_order() -> None:
    assert [next_stage(s) for s in ERPO_STAGES] == [*ERPO_STAGES[1:], None]


def test_an_order_moves_forward_and_may_skip_but_never_goes_back() -> None:
    assert advance_problem(None, ErpoStage.PETITION_DRAFTED) == ""
    assert advance_problem(ErpoStage.FILED, ErpoStage.HEARING) == ""  # no ex parte order
    back = advance_problem(ErpoStage.HEARING, ErpoStage.FILED)
    assert back.startswith("stage: the order is at hearing; it can move to final order")
    assert advance_problem(ErpoStage.HEARING, ErpoStage.HEARING) != ""
    assert "none (the order has expired)" in advance_problem(ErpoStage.EXPIRED, ErpoStage.EXPIRED)


def test_the_hearing_deadline_is_the_states_and_counts_from_the_ex_parte_order() -> None:
    times: dict[ErpoStage, datetime | None] = {ErpoStage.EX_PARTE: T0}
    assert stage_deadline("CA", ErpoStage.HEARING, times) == T0 + 21 * DAY
    assert stage_deadline("co", ErpoStage.HEARING, times) == T0 + 14 * DAY
    assert stage_deadline("DE", ErpoStage.HEARING, times) == T0 + 15 * DAY
    assert stage_deadline("OH", ErpoStage.HEARING, times) is None  # no ERPO law known
    assert stage_deadline("CA", ErpoStage.SERVED, times) is None  # no deadline set
    assert stage_deadline("CA", ErpoStage.HEARING, {}) is None  # no ex parte order yet


def test_the_expiry_reminder_is_due_once_within_thirty_days_for_an_order_in_force() -> None:
    soon = T0 + 30 * DAY
    assert needs_reminder(stage=ErpoStage.SERVED, expires_at=soon, reminded_at=None, now=T0)
    assert not needs_reminder(
        stage=ErpoStage.SERVED, expires_at=soon + DAY, reminded_at=None, now=T0
    )
    assert not needs_reminder(stage=ErpoStage.SERVED, expires_at=soon, reminded_at=T0, now=T0)
    assert not needs_reminder(stage=ErpoStage.HEARING, expires_at=soon, reminded_at=None, now=T0)
    assert not needs_reminder(stage=ErpoStage.SERVED, expires_at=T0, reminded_at=None, now=T0)


def test_the_share_within_the_window_counts_only_follow_ups_due_or_done() -> None:
    rows = [
        (T0, T0 - DAY),  # on time
        (T0, T0 + DAY),  # late
        (T0 - DAY, None),  # overdue, no outcome
        (T0 + 5 * DAY, None),  # still inside its window: not counted
    ]
    assert share_within_window(rows, T0) == pytest.approx(1 / 3)
    assert share_within_window([(T0 + DAY, None)], T0) is None
    assert share_within_window([], T0) is None


def test_the_median_of_durations() -> None:
    assert median_duration([]) is None
    assert median_duration([DAY, 3 * DAY, 2 * DAY]) == 2 * DAY
    assert median_duration([DAY, 2 * DAY]) == timedelta(hours=36)


def test_orders_are_counted_at_every_stage() -> None:
    counts = count_by_stage(["filed", "filed", "served", "not-a-stage"])
    assert counts[ErpoStage.FILED] == 2 and counts[ErpoStage.SERVED] == 1
    assert set(counts) == set(ERPO_STAGES) and sum(counts.values()) == 3
