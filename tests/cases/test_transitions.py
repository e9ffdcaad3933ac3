"""The status workflow is a table: every (from, to) pair of statuses is allowed exactly
when the table lists it, and a refused move says which moves are allowed."""

from __future__ import annotations

import itertools

import pytest

from defchain.cases.rules import (
    CASE_STATUS_LABELS,
    TRANSITIONS,
    CaseStatus,
    next_statuses,
    transition,
)

PAIRS = list(itertools.product(CaseStatus, CaseStatus))


@pytest.mark.parametrize(("current", "wanted"), PAIRS, ids=lambda s: s.value)
def test_a_move_is_allowed_exactly_when_the_table_lists_it(
    current: CaseStatus, wanted: CaseStatus
) -> None:
    if (current, wanted) in TRANSITIONS:
        assert transition(current.value, wanted.value) == TRANSITIONS[(current, wanted)]
        assert wanted in next_statuses(current.value)
    else:
        with pytest.raises(ValueError, match="cannot become") as refused:
            transition(current.value, wanted.value)
        assert wanted not in next_statuses(current.value)
        allowed = [CASE_STATUS_LABELS[to] for to in next_statuses(current.value)]
        assert all(label in str(refused.value) for label in allowed)


def test_the_path_through_the_workflow_and_back() -> None:
    path = ["open", "assessing", "managing", "monitoring", "closed", "open"]
    events = [transition(a, b) for a, b in itertools.pairwise(path)]
    assert events == [
        "assessment started",
        "management plan started",
        "monitoring started",
        "closed",
        "re-opened",
    ]


def test_no_status_moves_to_itself_and_a_closed_case_only_reopens() -> None:
    assert all(frm is not to for frm, to in TRANSITIONS)
    assert next_statuses("closed") == [CaseStatus.OPEN]
    assert CaseStatus.CLOSED in next_statuses("open")


def test_every_status_can_reach_closed_and_be_reopened() -> None:
    for status in CaseStatus:
        if status is not CaseStatus.CLOSED:
            assert CaseStatus.CLOSED in next_statuses(status.value), status


def test_an_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError, match="'archived'"):
        transition("open", "archived")
