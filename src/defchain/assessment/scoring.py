"""Scoring an assessment: answers in, a level of concern with its reasons out.

``score`` is a pure function of the instrument and the answers (no database, no clock,
no files). Every rule whose condition holds *fires*. The level is the most serious level
among the fired rules (low when none fires), the stage the furthest pathway stage among
them; findings and reasons follow rule order, actions follow catalog order and say which
rules asked for them. Nothing lowers a conclusion another rule reached: conditions have
no negation and the loader refuses any that could switch off as an unknown answer becomes
a risk-raising one, so learning more never silently lowers the level. Protective factors
shape the plan (their rules recommend supports); they never cancel evidence of risk.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from defchain.assessment.instrument import (
    SOURCE_LABELS,
    UNKNOWN,
    AllOf,
    AnswerAtLeast,
    AnswerIn,
    AnswerType,
    AnyOf,
    AtLeastOf,
    Condition,
    FactRef,
    Instrument,
    Item,
    Level,
    Rule,
    Stage,
)

__all__ = [
    "TEXT_MAX",
    "Action",
    "AnswerError",
    "Gap",
    "Level",
    "Reason",
    "Result",
    "Stage",
    "score",
    "validate_answers",
]

TEXT_MAX = 5000

# (item id, answer) pairs that made a condition true; ``None`` when it is false.
_Witness = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Reason:
    """One fired rule, as a sentence a person can read aloud."""

    rule_id: str
    text: str
    answers: tuple[tuple[str, str], ...]
    level: Level
    stage: Stage


@dataclass(frozen=True)
class Gap:
    """A key question still unknown: it becomes a task on the case until answered."""

    item_id: str
    prompt: str
    where_to_look: tuple[str, ...]


@dataclass(frozen=True)
class Action:
    """A recommended management action; ``because`` lists the rules that asked for it."""

    id: str
    title: str
    description: str
    task_kind: str
    because: tuple[str, ...]


@dataclass(frozen=True)
class Result:
    level: Level
    stage: Stage
    findings: tuple[str, ...]
    reasons: tuple[Reason, ...]
    gaps: tuple[Gap, ...]
    actions: tuple[Action, ...]
    fired: tuple[str, ...]
    facts: frozenset[str]

    def explanation(self) -> list[str]:
        """The chain of reasoning, one line each, to read aloud or print."""
        lines = [f"Level of concern: {self.level.value}. Pathway stage: {self.stage.label}."]
        if self.findings:
            lines.append("Findings: " + "; ".join(self.findings) + ".")
        if not self.reasons:
            lines.append("No rule fired, so the level of concern is low.")
        lines.extend(f"{n}. {reason.text}" for n, reason in enumerate(self.reasons, start=1))
        if self.actions:
            lines.append("Recommended actions: " + "; ".join(a.title for a in self.actions) + ".")
        lines.extend(
            f"Information gap: {gap.prompt} (look in: {_places(gap.where_to_look)})"
            for gap in self.gaps
        )
        return lines


def _places(sources: Iterable[str]) -> str:
    return ", ".join(SOURCE_LABELS.get(source, source) for source in sources)


class AnswerError(ValueError):
    """``score`` was given answers ``validate_answers`` refuses; ``problems`` has them."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        super().__init__("; ".join(problems.values()))
        self.problems = dict(problems)


def validate_answers(instrument: Instrument, answers: Mapping[str, str]) -> dict[str, str]:
    """Problems by item id (empty when all is well). An empty string means "unanswered"."""
    problems: dict[str, str] = {}
    for item_id, value in answers.items():
        try:
            item = instrument.item(item_id)
        except KeyError:
            problems[item_id] = f'"{item_id}" is not an item of {instrument.key}'
            continue
        name = f'Item "{item.id}" ({item.prompt})'
        if not isinstance(value, str):
            problems[item_id] = f"{name}: the answer must be text"
        elif item.answer is AnswerType.TEXT:
            if len(value) > TEXT_MAX:
                problems[item_id] = f"{name}: at most {TEXT_MAX} characters ({len(value)} given)"
        elif value and value not in item.allowed_values():
            allowed = ", ".join(item.allowed_values())
            problems[item_id] = f'{name}: "{value}" is not an allowed answer (one of: {allowed})'
    return problems


class _Evaluator:
    def __init__(self, instrument: Instrument, answers: Mapping[str, str]) -> None:
        self.instrument = instrument
        self.answers = answers
        self.facts: dict[str, _Witness | None] = {}

    def value(self, item_id: str) -> str:
        return self.answers.get(item_id) or UNKNOWN

    def holds(self, condition: Condition) -> _Witness | None:
        match condition:
            case AnswerIn(item_id, accepted):
                value = self.value(item_id)
                return ((item_id, value),) if value in accepted else None
            case AnswerAtLeast(item_id, floor):
                value = self.value(item_id)
                order = [o.value for o in self.instrument.item(item_id).options]
                if value in order and order.index(value) >= order.index(floor):
                    return ((item_id, value),)
                return None
            case FactRef(fact_id):
                return self.facts[fact_id]
            case AllOf(parts):
                each = [self.holds(part) for part in parts]
                return _join(w for w in each if w is not None) if None not in each else None
            case AnyOf(parts):
                found = self.true_parts(parts)
                return _join(_prefer_known(found, 1)) if found else None
            case AtLeastOf(count, parts):
                found = self.true_parts(parts)
                return _join(_prefer_known(found, count)) if len(found) >= count else None
        raise TypeError(f"not a condition: {condition!r}")  # pragma: no cover

    def true_parts(self, parts: Iterable[Condition]) -> list[_Witness]:
        found = (self.holds(part) for part in parts)
        return [w for w in found if w is not None]


def _prefer_known(found: list[_Witness], needed: int) -> list[_Witness]:
    """The true alternatives worth reading aloud: those resting on a known answer, when
    enough of them hold on their own; otherwise all (an unknown can be the reason)."""
    known = [w for w in found if any(value != UNKNOWN for _, value in w)]
    return known if len(known) >= needed else found


def _join(witnesses: Iterable[_Witness]) -> _Witness:
    """Concatenate, keeping the first mention of each pair."""
    return tuple(dict.fromkeys(pair for w in witnesses for pair in w))


def _clause(item: Item, value: str) -> str:
    if value == UNKNOWN:
        return f'"{item.prompt}" is not known yet'
    return f'the answer to "{item.prompt}" is "{item.label_of(value)}"'


def _reason(instrument: Instrument, rule: Rule, witness: _Witness) -> Reason:
    clauses = [_clause(instrument.item(item_id), value) for item_id, value in witness]
    said = clauses[0] if len(clauses) == 1 else ", ".join(clauses[:-1]) + " and " + clauses[-1]
    text = f"Because {said}, {rule.description.strip().rstrip('.')}."
    return Reason(rule.id, text, witness, rule.level, rule.stage)


def _gaps(instrument: Instrument, answers: Mapping[str, str]) -> tuple[Gap, ...]:
    return tuple(
        Gap(item.id, item.prompt, item.sources)
        for item in instrument.items
        if item.key and (answers.get(item.id) or UNKNOWN).strip() in ("", UNKNOWN)
    )


def score(instrument: Instrument, answers: Mapping[str, str]) -> Result:
    """The result of the instrument's rules on these answers (missing = unknown).

    Raises ``AnswerError`` when ``validate_answers`` finds a problem.
    """
    problems = validate_answers(instrument, answers)
    if problems:
        raise AnswerError(problems)
    evaluator = _Evaluator(instrument, answers)
    for fact in instrument.facts:
        evaluator.facts[fact.id] = evaluator.holds(fact.when)
    reasons = []
    for rule in instrument.rules:
        witness = evaluator.holds(rule.when)
        if witness is not None:
            reasons.append(_reason(instrument, rule, witness))
    fired = tuple(r.rule_id for r in reasons)
    rules = [rule for rule in instrument.rules if rule.id in fired]
    actions = []
    for spec in instrument.actions:
        because = tuple(rule.id for rule in rules if spec.id in rule.actions)
        if because:
            actions.append(Action(spec.id, spec.title, spec.description, spec.task_kind, because))
    return Result(
        level=max((rule.level for rule in rules), default=Level.LOW),
        stage=max((rule.stage for rule in rules), default=Stage.NONE),
        findings=tuple(rule.finding for rule in rules if rule.finding),
        reasons=tuple(reasons),
        gaps=_gaps(instrument, answers),
        actions=tuple(actions),
        fired=fired,
        facts=frozenset(f for f, w in evaluator.facts.items() if w is not None),
    )
