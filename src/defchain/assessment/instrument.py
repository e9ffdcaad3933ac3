"""Assessment instruments as versioned data: items, derived facts and decision rules.

An instrument is a YAML file (``instruments/*.yaml``; local ones are checked with
``defchain assessment check FILE``). This module holds the data types, the constants
and the registry of shipped instruments; parsing and the checks run on loading (shape,
protected characteristics, meaning, monotone rules) live in ``loader.py``, whose public
functions are re-exported here. Loading fails with an ``InstrumentError`` that names the
element and the reason.

Scoring lives in ``scoring.py``; docs/assessment.md explains both to practitioners.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from types import MappingProxyType

UNKNOWN = "unknown"

# Where to look for an item's answer, with how a person says it.
SOURCE_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "records": "records",
        "interviews": "interviews",
        "wellness_check": "wellness-check fields",
        "social_media": "social media",
        "weapons_check": "weapons-access checks",
        "school_records": "school records",
        "reports": "reports",
    }
)
SOURCES = tuple(SOURCE_LABELS)

# The task kinds the cases domain knows; an action turns into a task of one of these.
TASK_KINDS: tuple[str, ...] = (
    "interview",
    "home_visit",
    "records_check",
    "social_media_review",
    "weapons_access_check",
    "mental_health_referral",
    "mobile_crisis",
    "involuntary_hold",
    "erpo_petition",
    "safety_plan",
    "target_protection",
    "charges",
    "support_housing",
    "support_employment",
    "mentoring",
    "counseling",
    "information_gap",
    "other",
)

_YES_NO_UNKNOWN = frozenset({"yes", "no", UNKNOWN})
# Wellness-check fields an item may be pre-filled from, with the values each can hold as
# a pre-fill key (booleans read as yes/no; ``None`` marks a free-text field, which can
# only pre-fill a text item). Mirrors intake.schemas.WellnessCheckDetails; a test keeps
# the two in step.
WELLNESS_FIELDS: Mapping[str, frozenset[str] | None] = MappingProxyType(
    {
        "contact_made": frozenset({"yes", "no"}),
        "weapons_seen": _YES_NO_UNKNOWN,
        "weapons_access_reported": _YES_NO_UNKNOWN,
        "hold_initiated": frozenset({"yes", "no"}),
        "referral_made": frozenset({"yes", "no"}),
        "officer_concern": frozenset({"low", "moderate", "high"}),
        "observed_state": None,
        "statements": None,
        "weapons_text": None,
        "others_in_home": None,
    }
)


class AnswerType(StrEnum):
    YES_NO = "yes_no"
    SCALE = "scale"
    TEXT = "text"


class Basis(StrEnum):
    """What an item looks at. Protective items lower nothing: their absence shapes the plan."""

    BEHAVIOR = "behavior"
    COMMUNICATION = "communication"
    CAPACITY = "capacity"
    CIRCUMSTANCE = "circumstance"
    PROTECTIVE = "protective"


class _Ranked(StrEnum):
    """A StrEnum ordered by declaration, so ``max()`` and ``<`` follow seriousness.

    Comparing with anything else (a plain string) raises ``TypeError`` rather than
    silently comparing alphabetically.
    """

    def _position(self) -> int:
        return list(type(self)).index(self)

    def _against(self, other: object) -> tuple[int, int]:
        if type(other) is not type(self):
            raise TypeError(f"cannot order {type(self).__name__} against {type(other).__name__}")
        return self._position(), other._position()

    def __lt__(self, other: object) -> bool:
        mine, theirs = self._against(other)
        return mine < theirs

    def __le__(self, other: object) -> bool:
        mine, theirs = self._against(other)
        return mine <= theirs

    def __gt__(self, other: object) -> bool:
        mine, theirs = self._against(other)
        return mine > theirs

    def __ge__(self, other: object) -> bool:
        mine, theirs = self._against(other)
        return mine >= theirs


class Level(_Ranked):
    """The level of concern, least to most serious (docs/assessment.md says what each asks)."""

    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"
    IMMINENT = "imminent"

    def rank(self) -> int:
        return self._position()


class Stage(_Ranked):
    """Pathway to violence (Calhoun & Weston), earliest to furthest; NONE when no rule says."""

    NONE = "none"
    GRIEVANCE = "grievance"
    IDEATION = "violent_ideation"
    RESEARCH = "research_planning"
    PREPARATION = "preparation"
    PROBING = "probing_breaching"
    ATTACK = "attack"

    @property
    def rank(self) -> int:
        return self._position()

    @property
    def label(self) -> str:
        return _STAGE_LABELS[self]


_STAGE_LABELS = {
    Stage.NONE: "none identified",
    Stage.GRIEVANCE: "grievance",
    Stage.IDEATION: "violent ideation",
    Stage.RESEARCH: "research and planning",
    Stage.PREPARATION: "preparation",
    Stage.PROBING: "probing and breaching",
    Stage.ATTACK: "attack",
}


class InstrumentError(ValueError):
    """An instrument that cannot be used; ``element`` says where, ``reason`` says why."""

    def __init__(self, element: str, reason: str) -> None:
        super().__init__(f"{element}: {reason}")
        self.element = element
        self.reason = reason


@dataclass(frozen=True)
class ScaleOption:
    value: str
    label: str


@dataclass(frozen=True)
class Prefill:
    """Suggest an answer from a wellness check: ``map`` turns the field's value into one."""

    wellness_field: str
    map: Mapping[str, str]

    def __hash__(self) -> int:  # a mapping is not hashable; its items are
        return hash((self.wellness_field, tuple(sorted(self.map.items()))))


@dataclass(frozen=True)
class Item:
    id: str
    section: str
    prompt: str
    guidance: str
    sources: tuple[str, ...]
    answer: AnswerType
    options: tuple[ScaleOption, ...]
    evidence_required: bool
    basis: Basis
    key: bool
    prefill: Prefill | None

    def allowed_values(self) -> tuple[str, ...]:
        """Every value an answer may take; free text has no fixed values."""
        if self.answer is AnswerType.YES_NO:
            return ("yes", "no", UNKNOWN)
        if self.answer is AnswerType.SCALE:
            return (*(o.value for o in self.options), UNKNOWN)
        return ()

    def risk_raising(self) -> frozenset[str]:
        """Answers that add to concern: for a protective item, its absence ("no")."""
        if self.answer is AnswerType.YES_NO:
            return frozenset({"no"} if self.basis is Basis.PROTECTIVE else {"yes"})
        if self.answer is AnswerType.SCALE:
            return frozenset(o.value for o in self.options[1:])
        return frozenset()

    def label_of(self, value: str) -> str:
        """How an answer reads aloud: a scale option's label, otherwise the value."""
        return next((o.label for o in self.options if o.value == value), value)


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    description: str


@dataclass(frozen=True)
class AnswerIn:
    """True when the item's answer (``unknown`` when unanswered) is one of ``values``."""

    item: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class AnswerAtLeast:
    """True when a scale answer is ``value`` or further up the scale; never for unknown."""

    item: str
    value: str


@dataclass(frozen=True)
class FactRef:
    fact: str


@dataclass(frozen=True)
class AllOf:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class AtLeastOf:
    count: int
    conditions: tuple[Condition, ...]


Condition = AnswerIn | AnswerAtLeast | FactRef | AllOf | AnyOf | AtLeastOf


@dataclass(frozen=True)
class Fact:
    id: str
    description: str
    when: Condition


@dataclass(frozen=True)
class Rule:
    """``description`` is the conclusion, written to follow "Because <answers>, "."""

    id: str
    description: str
    when: Condition
    level: Level
    stage: Stage
    finding: str
    actions: tuple[str, ...]


@dataclass(frozen=True)
class ActionSpec:
    """A management action of the catalog (actions.yaml)."""

    id: str
    title: str
    description: str
    task_kind: str


@dataclass(frozen=True)
class Instrument:
    id: str
    version: str
    title: str
    source: str
    sections: tuple[Section, ...]
    items: tuple[Item, ...]
    facts: tuple[Fact, ...]
    rules: tuple[Rule, ...]
    digest: str
    # The catalog actions the rules name, in catalog order (so scoring needs no files).
    actions: tuple[ActionSpec, ...] = ()
    _index: Mapping[str, Item] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {item.id: item for item in self.items})

    @property
    def key(self) -> str:
        return f"{self.id}@{self.version}"

    def item(self, item_id: str) -> Item:
        """The item with this id; ``KeyError`` when the instrument has none."""
        return self._index[item_id]


# ------------------------------------------------------------------ action catalog


@functools.cache
def action_catalog() -> Mapping[str, ActionSpec]:
    """The shipped catalog of management actions (actions.yaml)."""
    return parse_actions(resources.files(__package__).joinpath("actions.yaml").read_text("utf-8"))


# ------------------------------------------------------------------------ registry


def registry_from(instruments: Iterable[Instrument]) -> dict[str, Instrument]:
    """Instruments keyed by ``id@version``; two with the same key are an error."""
    registry: dict[str, Instrument] = {}
    for instrument in instruments:
        if instrument.key in registry:
            raise ValueError(f"two instruments are {instrument.key}")
        registry[instrument.key] = instrument
    return registry


@functools.cache
def _defaults() -> tuple[Instrument, ...]:
    folder = resources.files(__package__).joinpath("instruments")
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".yaml")), key=lambda f: f.name)
    return tuple(load_text(f.read_text("utf-8"), origin=f"instruments/{f.name}") for f in files)


def default_instruments() -> dict[str, Instrument]:
    """The shipped instruments (instruments/*.yaml), keyed by ``id@version``. Loaded once."""
    return registry_from(_defaults())


def version_key(version: str) -> tuple[int, ...]:
    """A version as numbers, for ordering (1.10 after 1.9)."""
    return tuple(int(part) for part in version.split("."))


def get_instrument(
    instrument_id: str,
    version: str | None = None,
    *,
    registry: Mapping[str, Instrument] | None = None,
) -> Instrument:
    """One instrument; the latest version (numerically: 1.10 after 1.9) when ``version`` is
    None. ``KeyError`` when there is none. ``registry`` defaults to the shipped ones."""
    found = default_instruments() if registry is None else registry
    if version is not None:
        return found[f"{instrument_id}@{version}"]
    versions = [i for i in found.values() if i.id == instrument_id]
    if not versions:
        raise KeyError(instrument_id)
    return max(versions, key=lambda i: version_key(i.version))


# Last, so that loader.py (which imports the types above) finds them all defined: the
# package imports this module first, and this import completes the public API.
from defchain.assessment.loader import load_file as load_file  # noqa: E402
from defchain.assessment.loader import load_text as load_text  # noqa: E402
from defchain.assessment.loader import parse_actions as parse_actions  # noqa: E402
from defchain.assessment.loader import protected_term as protected_term  # noqa: E402
