"""Pure rules of the firearm-law table: instruments, petitioner kinds, which fields carry
a verification mark, how an edit is validated, and which team agencies may petition.

No session, no clock, no HTTP: values in, decisions out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from defchain.access import AgencyKind


class Instrument(StrEnum):
    """A kind of legal instrument that can separate a dangerous person from firearms."""

    ERPO = "erpo"
    DV_PROTECTIVE_ORDER = "dv_protective_order"
    MENTAL_HEALTH_HOLD = "mental_health_hold"
    VOLUNTARY_SURRENDER = "voluntary_surrender"
    OTHER = "other"


INSTRUMENT_LABELS: dict[Instrument, str] = {
    Instrument.ERPO: "Extreme risk protection order (red-flag law)",
    Instrument.DV_PROTECTIVE_ORDER: "Domestic-violence protective order with firearm surrender",
    Instrument.MENTAL_HEALTH_HOLD: "Mental-health hold with firearm provisions",
    Instrument.VOLUNTARY_SURRENDER: "Voluntary surrender or safe storage",
    Instrument.OTHER: "Other",
}


class PetitionerKind(StrEnum):
    """Who may ask a court for the order, in the coarse kinds the app reasons with."""

    LAW_ENFORCEMENT = "law_enforcement"
    FAMILY_HOUSEHOLD = "family_household"
    HEALTH_PROFESSIONAL = "health_professional"
    EDUCATOR = "educator"
    EMPLOYER = "employer"
    PROSECUTOR = "prosecutor"
    OTHER = "other"


PETITIONER_KIND_LABELS: dict[PetitionerKind, str] = {
    PetitionerKind.LAW_ENFORCEMENT: "Law enforcement",
    PetitionerKind.FAMILY_HOUSEHOLD: "Family or household member",
    PetitionerKind.HEALTH_PROFESSIONAL: "Health or mental-health professional",
    PetitionerKind.EDUCATOR: "Educator or school administrator",
    PetitionerKind.EMPLOYER: "Employer",
    PetitionerKind.PROSECUTOR: "Prosecutor",
    PetitionerKind.OTHER: "Other (see the petitioners text)",
}

# Which kinds of team agency a petitioner kind covers. Family, employers and "other"
# petitioners are people, not agencies on the team: no agency matches them.
AGENCY_KINDS_FOR_PETITIONER: dict[PetitionerKind, frozenset[AgencyKind]] = {
    PetitionerKind.LAW_ENFORCEMENT: frozenset({AgencyKind.POLICE, AgencyKind.SHERIFF}),
    PetitionerKind.EDUCATOR: frozenset({AgencyKind.SCHOOL_DISTRICT}),
    PetitionerKind.HEALTH_PROFESSIONAL: frozenset({AgencyKind.BEHAVIORAL_HEALTH}),
    PetitionerKind.PROSECUTOR: frozenset({AgencyKind.PROSECUTOR}),
}

# The fields that state the law, each with its own "verified" mark. A field missing
# from a row's ``verified`` map counts as unverified.
VERIFIABLE_FIELDS: tuple[str, ...] = (
    "petitioners",
    "ex_parte",
    "final_order",
    "standard_of_proof",
    "citation",
)
TEXT_FIELDS: tuple[str, ...] = (
    "name",
    "petitioners",
    "ex_parte",
    "final_order",
    "standard_of_proof",
    "citation",
    "source_url",
    "guidance_use",
    "guidance_avoid",
)
# Every field an edit may change.
EDITABLE_FIELDS: tuple[str, ...] = (*TEXT_FIELDS, "petitioner_kinds", "as_of", "verified")
MAX_LENGTHS: dict[str, int] = {
    "name": 200,
    "petitioners": 1000,
    "ex_parte": 500,
    "final_order": 500,
    "standard_of_proof": 500,
    "citation": 500,
    "source_url": 500,
    "guidance_use": 4000,
    "guidance_avoid": 4000,
    "reason": 1000,
}
FIELD_LABELS: dict[str, str] = {
    "name": "Name",
    "petitioners": "Who may petition",
    "petitioner_kinds": "Petitioner kinds",
    "ex_parte": "Ex parte or temporary order",
    "final_order": "Final order",
    "standard_of_proof": "Standard of proof",
    "citation": "Statute citation",
    "source_url": "Source URL",
    "as_of": "As of",
    "verified": "Verified fields",
    "guidance_use": "When to use it",
    "guidance_avoid": "When not to use it",
    "reason": "Reason for the change",
    "form": "Form",
}
UNVERIFIED_TEXT = "unverified — check before relying on it"


def is_verified(verified: Mapping[str, bool], field: str) -> bool:
    """Whether ``field`` has been checked against the statute (absent means no)."""
    return verified.get(field) is True


def unverified_fields(verified: Mapping[str, bool]) -> list[str]:
    """The verifiable fields not yet checked, in table order."""
    return [f for f in VERIFIABLE_FIELDS if not is_verified(verified, f)]


def url_problem(url: str) -> str | None:
    """Why ``url`` is not an absolute http(s) address, or ``None`` (empty is allowed)."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in url:
        return "must be an http:// or https:// address"
    return None


def _parse_date(raw: object, today: date) -> tuple[date | None, str | None]:
    if raw is None or raw == "":
        return None, None
    if isinstance(raw, date):
        value = raw
    else:
        try:
            value = date.fromisoformat(str(raw).strip())
        except ValueError:
            return None, "must be a date like 2024-02-13"
    if value > today:
        return None, "must not be in the future"
    return value, None


def _parse_kinds(raw: object) -> tuple[list[str], str | None]:
    items = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, Iterable) else []
    kinds = [str(k) for k in items if str(k)]
    bad = sorted(set(kinds) - {k.value for k in PetitionerKind})
    if bad:
        return [], f"unknown kind {bad[0]!r}"
    return [k.value for k in PetitionerKind if k.value in kinds], None


def _parse_verified(raw: object) -> tuple[dict[str, bool], str | None]:
    """A map ``{field: bool}`` or the list of ticked fields (a form's checkboxes)."""
    if isinstance(raw, str):  # one ticked box
        raw = [raw] if raw else []
    if isinstance(raw, Mapping):
        ticked = {str(k) for k, v in raw.items() if v is True}
        named = {str(k) for k in raw}
    else:
        ticked = {str(k) for k in raw} if isinstance(raw, Iterable) else set()
        named = ticked
    bad = sorted(named - set(VERIFIABLE_FIELDS))
    if bad:
        return {}, f"{bad[0]!r} is not a field that can be verified"
    return {f: f in ticked for f in VERIFIABLE_FIELDS}, None


def parse_edit(values: Mapping[str, Any], *, today: date) -> tuple[dict[str, Any], dict[str, str]]:
    """Typed values of an edit, and every problem by field name.

    Only the fields given are changed. Text is stripped; lengths are limited; the source
    URL must be http(s); ``as_of`` is an ISO date, never in the future; petitioner kinds
    come from ``PetitionerKind``; ``verified`` is a map or the list of verified fields.
    """
    typed: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, raw in values.items():
        problem: str | None = None
        if name in TEXT_FIELDS:
            # Browsers send a textarea's line breaks as CRLF: store plain LF.
            text = str(raw if raw is not None else "").replace("\r\n", "\n").strip()
            if len(text) > MAX_LENGTHS[name]:
                problem = f"must be at most {MAX_LENGTHS[name]} characters"
            elif name == "name" and not text:
                problem = "is required"
            elif name == "source_url":
                problem = url_problem(text)
            typed[name] = text
        elif name == "as_of":
            typed[name], problem = _parse_date(raw, today)
        elif name == "petitioner_kinds":
            typed[name], problem = _parse_kinds(raw)
        elif name == "verified":
            typed[name], problem = _parse_verified(raw)
        else:
            problem = "is not a field of the law table"
        if problem:
            errors[name] = problem
    return typed, errors


def reason_problem(reason: str) -> str | None:
    """Every edit says why; the reason shows in the change history."""
    if not reason.strip():
        return "is required: say what you checked or why it changed"
    if len(reason) > MAX_LENGTHS["reason"]:
        return f"must be at most {MAX_LENGTHS['reason']} characters"
    return None


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def edit_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """``{field: [old, new]}`` for what changed; dates as ISO text, and each verification
    mark that moved as its own ``verified.<field>`` entry."""
    changes: dict[str, list[Any]] = {}
    for name, new in after.items():
        old = before.get(name)
        if name == "verified":
            old_map: Mapping[str, bool] = old or {}
            for field in VERIFIABLE_FIELDS:
                was, now = is_verified(old_map, field), is_verified(new, field)
                if was != now:
                    changes[f"verified.{field}"] = [was, now]
        elif name == "petitioner_kinds" and set(old or ()) == set(new):
            continue  # the same kinds in another order
        elif _plain(old) != _plain(new):
            changes[name] = [_plain(old), _plain(new)]
    return changes


def petitioning_agencies(
    petitioner_kinds: Sequence[str], agencies: Iterable[tuple[str, str]]
) -> list[str]:
    """The names of the team's agencies (``(name, agency kind)`` pairs) whose kind may
    petition under a law with these petitioner kinds, sorted, each once."""
    allowed = {
        agency_kind.value
        for petitioner, agency_kinds in AGENCY_KINDS_FOR_PETITIONER.items()
        if petitioner.value in petitioner_kinds
        for agency_kind in agency_kinds
    }
    return sorted({name for name, kind in agencies if kind in allowed})
