"""Which agency (and team) owns a report: routing rules as data, decided purely.

An administrator keeps an ordered list of rules (``RoutingRule`` rows). ``route`` tries
them in ``(position, id)`` order and the first *active* rule whose every condition holds
wins; a condition left empty matches anything. When no rule matches, the agency that
received the report keeps it. The answer says why in plain words, and, for the
administrator's tester, why each rule tried before the winner did not match.

No database, no clock: the service layer turns rows into ``RuleSpec`` and reports into
``Sample``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

FALLBACK_REASON = "No routing rule matched; the receiving agency keeps it."


@dataclass(frozen=True)
class RuleSpec:
    """A ``RoutingRule``'s data, detached from the database."""

    id: int
    position: int
    name: str
    active: bool
    jurisdiction_id: int | None
    kinds: tuple[str, ...]
    priorities: tuple[str, ...]
    school_contains: str
    employer_contains: str
    from_agency_id: int | None
    agency_id: int
    team_id: int | None
    info_agency_ids: tuple[int, ...]


@dataclass(frozen=True)
class Sample:
    """What routing reads from a report."""

    kind: str
    jurisdiction_id: int
    from_agency_id: int
    school: str = ""
    employer: str = ""
    priority: str | None = None


@dataclass(frozen=True)
class Route:
    """Who owns the report, who gets an info-only copy, and why."""

    agency_id: int
    team_id: int | None
    rule_id: int | None  # None: no rule matched (the receiving agency keeps it)
    reason: str
    info_agency_ids: tuple[int, ...]
    # Each rule tried before the match (or every rule, on fallback) and why it did not
    # match, in the order tried.
    checked: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class Names:
    """Display names for ids in reasons; an id without a name reads "agency #4"."""

    agencies: Mapping[int, str] = field(default_factory=dict)
    jurisdictions: Mapping[int, str] = field(default_factory=dict)
    teams: Mapping[int, str] = field(default_factory=dict)
    kinds: Mapping[str, str] = field(default_factory=dict)

    def agency(self, agency_id: int) -> str:
        return self.agencies.get(agency_id, f"agency #{agency_id}")

    def jurisdiction(self, jurisdiction_id: int) -> str:
        return self.jurisdictions.get(jurisdiction_id, f"jurisdiction #{jurisdiction_id}")

    def team(self, team_id: int) -> str:
        return self.teams.get(team_id, f"team #{team_id}")

    def kind(self, kind: str) -> str:
        return self.kinds.get(kind, kind)


_NO_NAMES = Names()


def _either(words: Iterable[str]) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    items = list(words)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


def _all(words: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _contains(haystack: str, needle: str) -> bool:
    return needle.strip().casefold() in haystack.casefold()


def _quoted(text: str) -> str:
    return f'"{text.strip()}"'


def conditions(rule: RuleSpec, names: Names = _NO_NAMES) -> list[str]:
    """The rule's conditions in words, one per condition that is set (empty: any)."""
    words: list[str] = []
    if rule.jurisdiction_id is not None:
        words.append(f"the report is in {names.jurisdiction(rule.jurisdiction_id)}")
    if rule.from_agency_id is not None:
        words.append(f"the report was received by {names.agency(rule.from_agency_id)}")
    if rule.kinds:
        words.append(f"the kind is {_either(names.kind(k) for k in rule.kinds)}")
    if rule.priorities:
        words.append(f"the priority is {_either(rule.priorities)}")
    if rule.school_contains.strip():
        words.append(f"the subject's school contains {_quoted(rule.school_contains)}")
    if rule.employer_contains.strip():
        words.append(f"the subject's workplace contains {_quoted(rule.employer_contains)}")
    return words


def mismatches(sample: Sample, rule: RuleSpec, names: Names = _NO_NAMES) -> list[str]:
    """Why ``rule`` does not match ``sample``: one phrase per failing condition
    (empty: it matches). An inactive rule never matches."""
    if not rule.active:
        return ["the rule is switched off"]
    why: list[str] = []
    if rule.jurisdiction_id is not None and sample.jurisdiction_id != rule.jurisdiction_id:
        why.append(
            f"jurisdiction is {names.jurisdiction(sample.jurisdiction_id)}, "
            f"rule wants {names.jurisdiction(rule.jurisdiction_id)}"
        )
    if rule.from_agency_id is not None and sample.from_agency_id != rule.from_agency_id:
        why.append(
            f"received by {names.agency(sample.from_agency_id)}, "
            f"rule wants {names.agency(rule.from_agency_id)}"
        )
    if rule.kinds and sample.kind not in rule.kinds:
        why.append(
            f"kind is {names.kind(sample.kind)}, "
            f"rule wants {_either(names.kind(k) for k in rule.kinds)}"
        )
    if rule.priorities and sample.priority not in rule.priorities:
        have = sample.priority or "not set yet"
        why.append(f"priority is {have}, rule wants {_either(rule.priorities)}")
    if rule.school_contains.strip() and not _contains(sample.school, rule.school_contains):
        have = _quoted(sample.school) if sample.school.strip() else "not given"
        why.append(f"school is {have}, rule wants one containing {_quoted(rule.school_contains)}")
    if rule.employer_contains.strip() and not _contains(sample.employer, rule.employer_contains):
        have = _quoted(sample.employer) if sample.employer.strip() else "not given"
        why.append(
            f"workplace is {have}, rule wants one containing {_quoted(rule.employer_contains)}"
        )
    return why


def ordered(rules: Iterable[RuleSpec]) -> list[RuleSpec]:
    """Rules in the order they are tried: by position, then id."""
    return sorted(rules, key=lambda r: (r.position, r.id))


def route(sample: Sample, rules: Sequence[RuleSpec], *, names: Names | None = None) -> Route:
    """The first active rule, by ``(position, id)``, whose every condition holds; else the
    receiving agency keeps the report. ``names`` only changes the wording of reasons."""
    words = names or _NO_NAMES
    checked: list[tuple[int, str]] = []
    for rule in ordered(rules):
        why = mismatches(sample, rule, words)
        if why:
            checked.append((rule.id, "; ".join(why)))
            continue
        matched = conditions(rule, words)
        because = _all(matched) if matched else "it has no conditions, so it matches every report"
        info = tuple(dict.fromkeys(a for a in rule.info_agency_ids if a != rule.agency_id))
        return Route(
            agency_id=rule.agency_id,
            team_id=rule.team_id,
            rule_id=rule.id,
            reason=f"Rule {_quoted(rule.name)}: {because}.",
            info_agency_ids=info,
            checked=tuple(checked),
        )
    return Route(
        agency_id=sample.from_agency_id,
        team_id=None,
        rule_id=None,
        reason=FALLBACK_REASON,
        info_agency_ids=(),
        checked=tuple(checked),
    )


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def sample_of(report: Any) -> Sample:
    """What routing reads from a report (duck-typed: ``kind``, ``jurisdiction_id``,
    ``agency_id``, ``subject`` with optional ``school`` and ``workplace``, and
    ``priority``, which may be ``None`` or absent)."""
    subject = getattr(report, "subject", None)
    subject = subject if isinstance(subject, Mapping) else {}
    priority = getattr(report, "priority", None)
    return Sample(
        kind=str(report.kind),
        jurisdiction_id=int(report.jurisdiction_id),
        from_agency_id=int(report.agency_id),
        school=_text(subject.get("school")),
        employer=_text(subject.get("workplace")),
        priority=str(priority) if priority else None,
    )
