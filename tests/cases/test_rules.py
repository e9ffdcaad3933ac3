"""Pure case rules: task kinds and their labels, statuses after an assessment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from defchain.cases.rules import (
    CASE_STATUS_LABELS,
    LEVEL_OF_CONCERN_LABELS,
    TASK_KIND_LABELS,
    TASK_STATUS_LABELS,
    CaseStatus,
    LevelOfConcern,
    TaskKind,
    TaskStatus,
    clean_title,
    status_after_assessment,
    task_overdue,
)


@pytest.mark.parametrize(
    ("labels", "enum"),
    [
        (TASK_KIND_LABELS, TaskKind),
        (CASE_STATUS_LABELS, CaseStatus),
        (LEVEL_OF_CONCERN_LABELS, LevelOfConcern),
        (TASK_STATUS_LABELS, TaskStatus),
    ],
)
def test_every_value_has_a_distinct_human_label(labels: dict[str, str], enum: type) -> None:
    assert set(labels) == set(enum)
    assert all(text and text[0].isupper() for text in labels.values())
    assert len(set(labels.values())) == len(labels)


def test_the_task_kinds_the_assessment_relies_on() -> None:
    assert TaskKind("information_gap") is TaskKind.INFORMATION_GAP
    assert TaskKind("weapons_access_check") is TaskKind.WEAPONS_ACCESS_CHECK
    assert TASK_KIND_LABELS[TaskKind.ERPO_PETITION] == "Extreme risk protection order petition"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("open", CaseStatus.ASSESSING),
        ("assessing", CaseStatus.ASSESSING),
        ("managing", CaseStatus.MANAGING),
        ("monitoring", CaseStatus.MONITORING),
        ("closed", CaseStatus.CLOSED),
    ],
)
def test_status_after_assessment(before: str, after: CaseStatus) -> None:
    assert status_after_assessment(before) is after


def test_status_after_assessment_refuses_an_unknown_status() -> None:
    with pytest.raises(ValueError, match="'reopened'"):
        status_after_assessment("reopened")


def test_only_an_open_task_past_its_due_time_is_overdue() -> None:
    now = datetime(2026, 1, 5, 9, tzinfo=UTC)
    past, future = now - timedelta(minutes=1), now + timedelta(minutes=1)
    assert task_overdue(status="open", due_at=past, now=now)
    assert not task_overdue(status="open", due_at=future, now=now)
    assert not task_overdue(status="done", due_at=past, now=now)
    assert not task_overdue(status="cancelled", due_at=past, now=now)


def test_a_title_is_one_line() -> None:
    assert clean_title("  Threats at\n  Lincoln   High ") == "Threats at Lincoln High"
