"""Typed shapes of the firearm-law table: a seed row as read from the data file, and the
views the pages show (a row with its verification marks, a change, a case's options)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from defchain.errors import ValidationFailed
from defchain.reference.models import FirearmLaw


class SeedFileInvalid(ValidationFailed):
    """The seed file breaks its JSON schema; ``field`` names where (``laws[3].as_of``)."""


class LawEditInvalid(ValidationFailed):
    """An edit broke a rule; ``errors`` holds every problem by field name."""

    def __init__(self, errors: dict[str, str]) -> None:
        first = next(iter(errors))
        super().__init__(f"{first}: {errors[first]}", field=first)
        self.errors = dict(errors)


@dataclass(frozen=True)
class SeedLaw:
    """One row of ``data/firearm_laws.yaml``, defaults applied."""

    state: str
    instrument: str
    name: str
    petitioners: str
    petitioner_kinds: tuple[str, ...]
    ex_parte: str
    final_order: str
    standard_of_proof: str
    citation: str
    source_url: str
    as_of: date | None
    verified: dict[str, bool]
    guidance_use: str
    guidance_avoid: str

    def columns(self) -> dict[str, Any]:
        """The values of a new ``FirearmLaw`` row."""
        return {
            "state": self.state,
            "instrument": self.instrument,
            "name": self.name,
            "petitioners": self.petitioners,
            "petitioner_kinds": list(self.petitioner_kinds),
            "ex_parte": self.ex_parte,
            "final_order": self.final_order,
            "standard_of_proof": self.standard_of_proof,
            "citation": self.citation,
            "source_url": self.source_url,
            "as_of": self.as_of,
            "verified": dict(self.verified),
            "guidance_use": self.guidance_use,
            "guidance_avoid": self.guidance_avoid,
        }


@dataclass(frozen=True)
class LawChange:
    """One entry of a row's change history, newest first."""

    at: datetime
    who: str
    reason: str
    changes: dict[str, list[Any]]


@dataclass(frozen=True)
class CaseOption:
    """A law that applies in a case's jurisdiction, and who on the team may petition."""

    law: FirearmLaw
    team_petitioners: list[str]
    unverified: list[str] = field(default_factory=list)

    def is_unverified(self, name: str) -> bool:
        """Whether the page must mark ``name`` as unverified."""
        return name in self.unverified
