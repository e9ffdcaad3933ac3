"""The closure gate, pure: each condition on its own, met and unmet, with its reason.

``ready`` describes a case that may close; each test changes one fact and checks that
exactly that condition (and nothing else) becomes unmet."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from defchain.cases import rules
from defchain.cases.rules import (
    DEFAULT_CHECKINS,
    ClosureFacts,
    LevelOfConcern,
    closure_gate,
    default_checkins,
    review_days,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LEAD, SECOND = 10, 11


@pytest.fixture
def ready() -> ClosureFacts:
    """A case assessed low yesterday, nothing open, everything answered."""
    return ClosureFacts(
        level_of_concern="low",
        last_assessed_at=NOW - timedelta(days=1),
        peak_level="moderate",
        transfer_note="",
        open_tasks=0,
        firearm_access={1: "none_known", 2: "known"},
        subject_ids=[1, 2],
        plan_outcome="Counseling completed; the school reports no concerns.",
        lead_user_id=LEAD,
        signoff_user_ids=[],
        scheduled_checkins=0,
    )


def conditions(facts: ClosureFacts, now: datetime = NOW) -> list[str]:
    return [u.condition for u in closure_gate(facts, now)]


def test_a_case_meeting_every_condition_may_close(ready: ClosureFacts) -> None:
    assert closure_gate(ready, NOW) == []


# --- a current low assessment, or a transfer ------------------------------------------------


@pytest.mark.parametrize("level", ["moderate", "high", "imminent"])
def test_a_latest_assessment_above_low_blocks_closing(ready: ClosureFacts, level: str) -> None:
    (unmet,) = closure_gate(replace(ready, level_of_concern=level), NOW)
    assert unmet.condition == "current low assessment"
    assert f"found {level} concern" in unmet.reason


def test_a_case_never_assessed_cannot_close(ready: ClosureFacts) -> None:
    facts = replace(ready, level_of_concern=None, last_assessed_at=None)
    (unmet,) = closure_gate(facts, NOW)
    assert unmet.condition == "current low assessment" and "never assessed" in unmet.reason


def test_a_low_assessment_older_than_the_review_interval_is_stale(ready: ClosureFacts) -> None:
    limit = NOW - timedelta(days=90)
    assert conditions(replace(ready, last_assessed_at=limit)) == []
    (unmet,) = closure_gate(replace(ready, last_assessed_at=limit - timedelta(minutes=1)), NOW)
    assert unmet.condition == "current low assessment"
    assert "older than the review interval (90 days)" in unmet.reason


def test_the_staleness_follows_the_jurisdictions_cadence(ready: ClosureFacts) -> None:
    days = review_days({"low": 30, "moderate": 20})
    facts = replace(ready, last_assessed_at=NOW - timedelta(days=31), review_days=days)
    assert conditions(facts) == ["current low assessment"]
    assert conditions(replace(facts, last_assessed_at=NOW - timedelta(days=29))) == []


@pytest.mark.parametrize("level", [None, "moderate", "imminent"])
def test_a_documented_transfer_stands_in_for_a_low_assessment(
    ready: ClosureFacts, level: str | None
) -> None:
    facts = replace(ready, level_of_concern=level, transfer_note="Taken over by county MH team.")
    assert conditions(facts) == []


def test_a_blank_transfer_note_is_no_transfer(ready: ClosureFacts) -> None:
    facts = replace(ready, level_of_concern="high", transfer_note="   ")
    assert conditions(facts) == ["current low assessment"]


# --- open tasks, firearm access, the plan's outcome -----------------------------------------


@pytest.mark.parametrize(("count", "words"), [(1, "1 task is still open"), (3, "3 tasks are")])
def test_an_open_task_blocks_closing(ready: ClosureFacts, count: int, words: str) -> None:
    (unmet,) = closure_gate(replace(ready, open_tasks=count), NOW)
    assert unmet.condition == "no open task" and words in unmet.reason


@pytest.mark.parametrize("status", ["known", "reported", "none_known"])
def test_firearm_access_answered(ready: ClosureFacts, status: str) -> None:
    assert conditions(replace(ready, firearm_access={1: status, 2: status})) == []


@pytest.mark.parametrize("status", ["unknown", None])
def test_firearm_access_unknown_or_never_recorded_is_not_an_answer(
    ready: ClosureFacts, status: str | None
) -> None:
    access = {2: "none_known"} if status is None else {1: status, 2: "none_known"}
    (unmet,) = closure_gate(replace(ready, firearm_access=access), NOW)
    assert unmet.condition == "firearm access"
    assert "person #1" in unmet.reason and "person #2" not in unmet.reason


def test_a_case_without_subjects_cannot_answer_firearm_access(ready: ClosureFacts) -> None:
    (unmet,) = closure_gate(replace(ready, subject_ids=[], firearm_access={}), NOW)
    assert unmet.condition == "firearm access" and "no subject" in unmet.reason


@pytest.mark.parametrize("outcome", ["", "  \n "])
def test_the_plans_outcome_must_be_recorded(ready: ClosureFacts, outcome: str) -> None:
    (unmet,) = closure_gate(replace(ready, plan_outcome=outcome), NOW)
    assert unmet.condition == "plan outcome"


# --- a case that was ever high or imminent --------------------------------------------------


@pytest.mark.parametrize("peak", ["high", "imminent"])
def test_a_case_once_high_needs_two_signoffs_and_a_checkin(ready: ClosureFacts, peak: str) -> None:
    high = replace(ready, peak_level=peak)
    assert conditions(high) == ["lead sign-off", "second sign-off", "monitoring plan"]
    signed = replace(high, signoff_user_ids=[LEAD, SECOND], scheduled_checkins=1)
    assert conditions(signed) == []


@pytest.mark.parametrize("peak", [None, "low", "moderate"])
def test_a_case_never_high_needs_no_signoff_or_checkin(
    ready: ClosureFacts, peak: str | None
) -> None:
    assert conditions(replace(ready, peak_level=peak)) == []


def test_the_lead_alone_is_not_a_second_signoff(ready: ClosureFacts) -> None:
    facts = replace(ready, peak_level="high", signoff_user_ids=[LEAD], scheduled_checkins=3)
    assert conditions(facts) == ["second sign-off"]


def test_two_others_without_the_lead_still_miss_the_lead(ready: ClosureFacts) -> None:
    facts = replace(ready, peak_level="high", signoff_user_ids=[SECOND, 12], scheduled_checkins=1)
    assert conditions(facts) == ["lead sign-off"]


def test_a_monitoring_plan_needs_a_scheduled_checkin(ready: ClosureFacts) -> None:
    facts = replace(ready, peak_level="imminent", signoff_user_ids=[LEAD, SECOND])
    (unmet,) = closure_gate(facts, NOW)
    assert unmet.condition == "monitoring plan" and "30, 90, 180 days" in unmet.reason


def test_every_unmet_condition_is_listed_at_once() -> None:
    nothing = ClosureFacts(
        level_of_concern="high",
        last_assessed_at=NOW,
        peak_level=LevelOfConcern.IMMINENT.value,
        transfer_note="",
        open_tasks=2,
        firearm_access={},
        subject_ids=[5],
        plan_outcome="",
        lead_user_id=LEAD,
        signoff_user_ids=[],
        scheduled_checkins=0,
    )
    assert conditions(nothing) == [
        "current low assessment",
        "no open task",
        "firearm access",
        "plan outcome",
        "lead sign-off",
        "second sign-off",
        "monitoring plan",
    ]
    assert all(u.reason for u in closure_gate(nothing, NOW))


def test_the_default_monitoring_plan() -> None:
    assert DEFAULT_CHECKINS == (30, 90, 180)
    assert default_checkins(NOW) == [NOW + timedelta(days=d) for d in (30, 90, 180)]


def test_the_checklist_lists_the_high_only_conditions_only_for_a_case_once_high() -> None:
    unmet = [rules.Unmet("plan outcome", "record it")]
    low = rules.closure_checklist("low", unmet)
    high = rules.closure_checklist("imminent", unmet)
    assert [row["condition"] for row in low] == list(rules.CLOSURE_CONDITIONS[:4])
    assert [row["condition"] for row in high] == list(rules.CLOSURE_CONDITIONS)
    assert [row["reasons"] for row in low if row["condition"] == "plan outcome"] == [["record it"]]


def test_a_review_is_due_from_its_date_on_unless_the_case_is_closed() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    assert rules.review_due(at, "managing", at)
    assert not rules.review_due(at, "managing", at - timedelta(seconds=1))
    assert not rules.review_due(at, "closed", at + timedelta(days=1))
    assert not rules.review_due(None, "open", at)
