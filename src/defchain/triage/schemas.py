"""Validated input for the triage domain. Field names match the form fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from defchain.errors import ValidationFailed
from defchain.intake.rules import ReportKind
from defchain.triage.rules import Priority

Contains = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Id = Annotated[int, Field(gt=0)]

KIND_VALUES: tuple[str, ...] = tuple(k.value for k in ReportKind)
PRIORITY_VALUES: tuple[str, ...] = tuple(p.value for p in Priority)

M = TypeVar("M", bound=BaseModel)


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _kind(value: str) -> str:
    value = value.strip()
    if value not in KIND_VALUES:
        raise ValueError(f"unknown report kind '{value}'; choose from {', '.join(KIND_VALUES)}")
    return value


def _priority(value: str) -> str:
    value = value.strip().upper()
    if value not in PRIORITY_VALUES:
        raise ValueError(f"unknown priority '{value}'; choose from {', '.join(PRIORITY_VALUES)}")
    return value


class RoutingRuleIn(_Input):
    """A routing rule as an administrator enters it. An empty condition matches anything.

    Whether the jurisdiction, agencies and team exist is checked by the service."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
    active: bool = True
    jurisdiction_id: Id | None = None
    kinds: list[str] = []
    priorities: list[str] = []
    school_contains: Contains = ""
    employer_contains: Contains = ""
    from_agency_id: Id | None = None
    agency_id: Id
    team_id: Id | None = None
    info_agency_ids: list[Id] = []

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value:
            raise ValueError("must not be empty")
        return value

    @field_validator("kinds")
    @classmethod
    def _kinds(cls, values: list[str]) -> list[str]:
        chosen = {_kind(v) for v in values}
        return [k for k in KIND_VALUES if k in chosen]  # no repeats, in the usual order

    @field_validator("priorities")
    @classmethod
    def _priorities(cls, values: list[str]) -> list[str]:
        chosen = {_priority(v) for v in values}
        return [p for p in PRIORITY_VALUES if p in chosen]

    @field_validator("info_agency_ids")
    @classmethod
    def _info(cls, values: list[int]) -> list[int]:
        return sorted(set(values))


class SampleIn(_Input):
    """A made-up report for the routing tester: what routing reads from a report."""

    kind: str
    jurisdiction_id: Id
    from_agency_id: Id
    school: Contains = ""
    employer: Contains = ""
    priority: str | None = None

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        return _kind(value)

    @field_validator("priority")
    @classmethod
    def _priority(cls, value: str | None) -> str | None:
        return _priority(value) if value and value.strip() else None


class InputInvalid(ValidationFailed):
    """Input failed validation; ``errors`` maps each field to its problem (the first
    field is also ``field``)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(
            "; ".join(f"{k}: {v}" for k, v in errors.items()), field=next(iter(errors), None)
        )
        self.errors = errors


def field_errors(exc: ValidationError) -> dict[str, str]:
    """``{field: problem}`` of a Pydantic error, in the words the forms use."""
    found: dict[str, str] = {}
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else "form"
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "missing":
            message = "is required"
        elif err["type"] == "extra_forbidden":
            message = "is not a field of this form"
        found.setdefault(field, message)
    return found


def validate(schema: type[M], data: Mapping[str, Any]) -> M:
    """``schema`` from plain data, or ``InputInvalid`` naming every bad field."""
    try:
        return schema.model_validate(dict(data))
    except ValidationError as exc:
        raise InputInvalid(field_errors(exc)) from None
