"""Pure rules around an assessment: evidence citations, when a gap task is due, pre-fill
from a wellness check, and how two assessors' answers differ. No database, no clock."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from defchain.assessment.instrument import UNKNOWN, AnswerType, Instrument, Item
from defchain.assessment.scoring import Level


class EvidenceKind(StrEnum):
    """What an answer may cite."""

    REPORT = "report"
    NOTE = "note"
    WELLNESS = "wellness"


@dataclass(frozen=True)
class Citation:
    """An answer's evidence: ``report:12``, ``note:7`` or ``wellness:12:weapons_seen``
    (field ``weapons_seen`` of wellness-check report 12)."""

    kind: EvidenceKind
    ref: int
    field: str = ""

    @property
    def token(self) -> str:
        """The form value that stands for this citation."""
        base = f"{self.kind.value}:{self.ref}"
        return f"{base}:{self.field}" if self.field else base


def parse_citation(token: str) -> Citation | None:
    """The citation a form value names; ``None`` for an empty value.

    Raises ``ValueError`` with a readable reason when the value is malformed.
    """
    token = token.strip()
    if not token:
        return None
    parts = token.split(":")
    try:
        kind = EvidenceKind(parts[0])
    except ValueError:
        raise ValueError(f"unknown kind of evidence {parts[0]!r}") from None
    want = 3 if kind is EvidenceKind.WELLNESS else 2
    if len(parts) != want or not parts[1].isdigit() or (want == 3 and not parts[2]):
        raise ValueError(f"malformed citation {token!r}")
    return Citation(kind, int(parts[1]), parts[2] if want == 3 else "")


# How long the team has to fill an information gap, by the level of concern the
# assessment reached: the more serious, the sooner the unknown must become known.
GAP_DUE: dict[Level, timedelta] = {
    Level.IMMINENT: timedelta(hours=4),
    Level.HIGH: timedelta(days=1),
    Level.MODERATE: timedelta(days=3),
    Level.LOW: timedelta(days=7),
}


def gap_due(level: Level) -> timedelta:
    """Time allowed to answer a key question left unknown at this level of concern."""
    return GAP_DUE[level]


def gap_origin(instrument_id: str, item_id: str) -> str:
    """The ``origin`` of the case task that stands for an unanswered key question."""
    return f"gap:{instrument_id}:{item_id}"


def is_known(value: str | None) -> bool:
    """An answer counts as given when it is present and not ``unknown``."""
    return bool(value) and value != UNKNOWN


def prefill_value(item: Item, wellness: Mapping[str, object]) -> str | None:
    """The answer a wellness check's structured field suggests for the item, if any.

    Booleans read as yes/no; enum values go through the item's ``map`` (an unmapped
    value suggests nothing); text fields pre-fill text items. An ``unknown`` suggests
    nothing, so a pre-fill never pretends to know more than the officer recorded.
    """
    if item.prefill is None or item.prefill.wellness_field not in wellness:
        return None
    raw = wellness[item.prefill.wellness_field]
    if isinstance(raw, bool):
        raw = "yes" if raw else "no"
    text = str(raw or "").strip()
    if not text:
        return None
    if item.answer is AnswerType.TEXT:
        return text[:5000]
    value = item.prefill.map.get(text, text if not item.prefill.map else None)
    if value is None or value == UNKNOWN or value not in item.allowed_values():
        return None
    return value


@dataclass(frozen=True)
class Difference:
    """One item on which two assessments disagree (or one knows and the other does not)."""

    item_id: str
    prompt: str
    first: str
    second: str
    key: bool


def compare(
    instrument: Instrument, first: Mapping[str, str], second: Mapping[str, str]
) -> list[Difference]:
    """Every item, in instrument order, whose answers differ; unanswered counts as
    unknown. Text answers differ only when one is empty and the other is not, since
    two people never word a note the same way."""
    out: list[Difference] = []
    for item in instrument.items:
        a = first.get(item.id) or (UNKNOWN if item.answer is not AnswerType.TEXT else "")
        b = second.get(item.id) or (UNKNOWN if item.answer is not AnswerType.TEXT else "")
        differs = bool(a.strip()) != bool(b.strip()) if item.answer is AnswerType.TEXT else a != b
        if differs:
            out.append(Difference(item.id, item.prompt, a, b, item.key))
    return out


def agreement(instrument: Instrument, differences: Sequence[Difference]) -> float:
    """Share of the instrument's scored items (not text) on which both agree."""
    scored = [i for i in instrument.items if i.answer is not AnswerType.TEXT]
    if not scored:
        return 1.0
    disagreeing = sum(1 for d in differences if instrument.item(d.item_id) in scored)
    return (len(scored) - disagreeing) / len(scored)
