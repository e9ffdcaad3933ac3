"""Validated input for the cases domain. Field names match the form fields.

Whether the team, lead, owner, persons and reports exist and may be used is checked by
the service; these models check shape only.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from defchain.access.rules import Label
from defchain.cases.rules import MAX_TEXT, MAX_TITLE, TaskKind

Id = Annotated[int, Field(gt=0)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TITLE)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_TEXT)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CaseIn(_Input):
    """A new case as entered on ``/cases/new``."""

    title: Title
    summary: LongText = ""
    team_id: Id | None = None
    lead_user_id: Id | None = None
    person_ids: list[Id] = []
    report_ids: list[Id] = []


class TaskIn(_Input):
    """A task as entered on a case's page; it is due at the end of ``due_on`` (local)."""

    kind: TaskKind
    title: Title
    owner_user_id: Id
    due_on: date


class TaskOutcomeIn(_Input):
    """What came of a task (the service requires it to mark the task done)."""

    outcome: LongText


class NoteIn(_Input):
    """A note on a case, with the labels of what it contains."""

    body: LongText
    labels: list[Label] = []

    @field_validator("labels")
    @classmethod
    def _no_repeats(cls, values: list[Label]) -> list[Label]:
        return [label for label in Label if label in set(values)]
