"""Suggested triage priority: pure, table-driven, explainable.

Every report gets a *suggested* priority; a person accepts or overrides it. The
suggestion is computed in two steps, both pure (no database, clock or I/O):

1. ``facts_of`` turns a stored report (its kind, its ``details`` JSON, the
   ``danger_now`` flag, whether it names a subject) and what is already known about the
   linked person (``PersonFacts``) into ``Facts``: three-valued answers (yes / no /
   unknown) and a few plain values.
2. ``suggest`` evaluates every rule of ``RULES`` on those facts in Kleene three-valued
   logic. A rule *fires* (yes), does *not* fire (no), or *cannot be evaluated* (unknown,
   because an answer it needs is missing). The suggestion is the highest priority among
   the rules that fired. When no rule fired, or a rule of a higher priority could not be
   evaluated, the suggestion says "needs a person": a missing answer never lowers a
   priority silently and never produces P4.

Rules look at behavior and circumstances only. No fact, and so no rule, holds race,
ethnicity, religion, national origin, sex, sexual orientation, gender identity,
disability or political views. docs/triage.md explains every rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

from defchain.intake.rules import Concern, ReportKind, SarCode, Setting


class Priority(StrEnum):
    """P1 is the most urgent."""

    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


PRIORITY_LABELS: dict[Priority, str] = {
    Priority.P1: "P1 imminent",
    Priority.P2: "P2 urgent",
    Priority.P3: "P3 concerning",
    Priority.P4: "P4 information",
}

_RANK: dict[Priority, int] = {p: i for i, p in enumerate(Priority)}  # P1 -> 0 (highest)


def rank(priority: Priority | None) -> int:
    """A sort key, higher priority first; ``None`` (nothing fired) sorts last."""
    return len(_RANK) if priority is None else _RANK[priority]


class Tri(StrEnum):
    """A three-valued answer (Kleene logic)."""

    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"


def tri(value: Any) -> Tri:
    """A stored answer as a ``Tri``: ``"yes"``/``True`` → YES, ``"no"``/``False`` → NO,
    anything else (absent, ``"unknown"``, a value of the wrong type) → UNKNOWN."""
    if value is True or value == "yes":
        return Tri.YES
    if value is False or value == "no":
        return Tri.NO
    return Tri.UNKNOWN


def tri_any(*values: Tri) -> Tri:
    """Kleene OR."""
    if Tri.YES in values:
        return Tri.YES
    return Tri.UNKNOWN if Tri.UNKNOWN in values else Tri.NO


def tri_all(*values: Tri) -> Tri:
    """Kleene AND."""
    if Tri.NO in values:
        return Tri.NO
    return Tri.UNKNOWN if Tri.UNKNOWN in values else Tri.YES


# --- facts -----------------------------------------------------------------------------

UNKNOWN = "unknown"  # a plain-valued fact that nobody answered
KIND_UNKNOWN = "unknown"  # a report kind these rules do not know (all facts unknown)
NOT_RATED = "not_rated"  # officer_concern of a report that is not a wellness check

FIREARM_ATTEMPT_KINDS: frozenset[str] = frozenset(
    {ReportKind.NICS_DENIAL.value, ReportKind.PURCHASE_ATTEMPT.value}
)
# ISE-SAR categories that describe getting ready: acquiring weapons, materials or
# expertise, watching a place, probing or breaching its security.
SAR_PREPARATION: frozenset[str] = frozenset(
    code.value
    for code in (
        SarCode.WPNS,
        SarCode.MATRLS,
        SarCode.SURVL,
        SarCode.TESTSEC,
        SarCode.INTRSN,
        SarCode.EXPERT,
    )
)
REFERRAL_SETTING: dict[str, Setting] = {
    "school": Setting.SCHOOL,
    "campus": Setting.SCHOOL,
    "employer": Setting.WORKPLACE,
    "other": Setting.OTHER,
}


@dataclass(frozen=True)
class PersonFacts:
    """What is already known about the person a report is linked to."""

    linked: bool  # False: no person yet (unlinked, or link under review)
    has_open_case: Tri = Tri.NO  # an open or monitored case
    on_watch: Tri = Tri.NO  # the banned-person watch
    weapons_access: Tri = Tri.UNKNOWN  # known access to weapons from earlier records
    prior_reports: int = 0


@dataclass(frozen=True)
class Facts:
    """Everything the rules read. Build it with ``facts_of``."""

    kind: str  # a ReportKind value, or KIND_UNKNOWN
    danger_now: Tri  # the reporter says someone is in danger right now
    threat_to_others: Tri  # threatened to hurt or kill other people
    target_or_time: Tri  # a specific target (person, place, event) or time was named
    weapons: Tri  # weapons mentioned, seen or reported in this report
    preparation: Tri  # getting weapons, practising, watching a place, a plan
    self_harm: Tri  # talked about hurting or killing themselves
    grievance: Tri  # fixated on a grudge against a person, group or place
    setting: str  # a Setting value
    officer_concern: str  # a Concern value, NOT_RATED, or UNKNOWN
    has_subject: bool  # the report names or describes a person of concern
    linked: bool  # the subject is linked to a person in the registry
    weapons_access: Tri  # the person's known access to weapons from earlier records
    has_open_case: Tri  # the person has an open or monitored case
    on_watch: Tri  # the person is on the banned-person watch
    prior_reports: int  # earlier reports about the person (shown, not used by a rule)


# Plain-language names of the facts, used to say what is missing.
FACT_NAMES: dict[str, str] = {
    "kind": "the kind of report",
    "danger_now": "whether someone is in danger right now",
    "threat_to_others": "whether they threatened to hurt others",
    "target_or_time": "whether a specific target or time was named",
    "weapons": "whether weapons were mentioned or seen",
    "preparation": "whether they have prepared (weapons, practice, watching a place, a plan)",
    "self_harm": "whether they talked about hurting themselves",
    "grievance": "whether they are fixated on a grudge",
    "setting": "where it happened",
    "officer_concern": "the officer's level of concern",
    "weapons_access": "whether the person is known to have access to weapons",
    "has_open_case": "whether the person has an open or monitored case",
    "on_watch": "whether the person is on the banned-person watch",
}


def _setting(value: Any) -> str:
    return value if value in Setting.__members__.values() else Setting.UNKNOWN.value


def _report_facts(kind: str, details: Mapping[str, Any]) -> dict[str, Any]:
    """The facts a report of ``kind`` gives by itself (its ``details`` JSON).

    Anything a kind does not ask about stays UNKNOWN: silence is not a "no".
    """
    unknown = Tri.UNKNOWN
    facts: dict[str, Any] = {
        "threat_to_others": unknown,
        "target_or_time": unknown,
        "weapons": unknown,
        "preparation": unknown,
        "self_harm": unknown,
        "grievance": unknown,
        "setting": Setting.UNKNOWN.value,
        "officer_concern": NOT_RATED,
    }
    if kind == ReportKind.TIP:
        # The tip's guided questions, one to one.
        facts.update(
            threat_to_others=tri(details.get("threat_to_others")),
            target_or_time=tri(details.get("date_or_target")),
            weapons=tri(details.get("weapons")),
            preparation=tri(details.get("preparation")),
            self_harm=tri(details.get("self_harm")),
            grievance=tri(details.get("grievance")),
            setting=_setting(details.get("setting")),
        )
    elif kind == ReportKind.SAR:
        # A ticked category is a yes; an unticked one says nothing either way.
        raw = details.get("categories")
        codes = {str(c) for c in raw} if isinstance(raw, list) else set()
        facts.update(
            threat_to_others=Tri.YES if SarCode.THREAT in codes else unknown,
            weapons=Tri.YES if SarCode.WPNS in codes else unknown,
            preparation=Tri.YES if codes & SAR_PREPARATION else unknown,
        )
    elif kind in FIREARM_ATTEMPT_KINDS:
        # A denial or a suspicious purchase attempt tells us they tried to get a firearm
        # (the kind itself, read by its own rules), nothing about threats.
        pass
    elif kind == ReportKind.WELLNESS_CHECK:
        concern = details.get("officer_concern")
        facts.update(
            weapons=tri_any(
                tri(details.get("weapons_seen")), tri(details.get("weapons_access_reported"))
            ),
            officer_concern=concern if concern in Concern.__members__.values() else UNKNOWN,
        )
    elif kind == ReportKind.REFERRAL:
        organization = details.get("organization_type")
        setting = Setting.UNKNOWN
        if isinstance(organization, str):
            setting = REFERRAL_SETTING.get(organization, Setting.UNKNOWN)
        facts.update(setting=setting.value)
    elif kind == ReportKind.DIRECT_THREAT:
        facts.update(threat_to_others=Tri.YES, target_or_time=tri(details.get("target_named")))
    return facts


def facts_of(
    kind: str,
    details: Mapping[str, Any],
    *,
    danger_now: bool,
    has_subject: bool,
    person: PersonFacts | None,
) -> Facts:
    """The facts of one stored report (see the mapping table in docs/triage.md).

    ``person`` is what is known about the linked person. While there is no person yet
    (``None`` or ``linked=False``) the person facts are UNKNOWN, unless the report has no
    subject at all: then there is nobody to have a case, a watch entry or weapons.
    A kind these rules do not know yields ``kind="unknown"`` and every report fact
    UNKNOWN, so it needs a person.
    """
    known = kind in ReportKind.__members__.values()
    if known:
        report = _report_facts(kind, details)
    else:
        report = _report_facts(KIND_UNKNOWN, {})
        report["officer_concern"] = UNKNOWN
    if person is not None and person.linked:
        person_facts: dict[str, Any] = {
            "linked": True,
            "weapons_access": person.weapons_access,
            "has_open_case": person.has_open_case,
            "on_watch": person.on_watch,
            "prior_reports": person.prior_reports,
        }
    else:
        nobody = not has_subject
        missing = Tri.NO if nobody else Tri.UNKNOWN
        person_facts = {
            "linked": False,
            "weapons_access": missing,
            "has_open_case": missing,
            "on_watch": missing,
            "prior_reports": 0,
        }
    return Facts(
        kind=kind if known else KIND_UNKNOWN,
        danger_now=Tri.YES if danger_now else Tri.NO,
        has_subject=has_subject,
        **report,
        **person_facts,
    )


FACT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Facts))
TRI_FACTS: tuple[str, ...] = tuple(f.name for f in fields(Facts) if f.type == "Tri")


# --- conditions as data ----------------------------------------------------------------


@dataclass(frozen=True)
class Is:
    """``fact`` is one of ``values``. UNKNOWN when the fact is unanswered."""

    fact: str
    values: tuple[str, ...]

    def evaluate(self, facts: Facts) -> Tri:
        value = getattr(facts, self.fact)
        if value == UNKNOWN:
            return Tri.UNKNOWN
        return Tri.YES if value in self.values else Tri.NO

    def missing(self, facts: Facts) -> tuple[str, ...]:
        return (self.fact,) if self.evaluate(facts) is Tri.UNKNOWN else ()

    def describe(self) -> str:
        if len(self.values) == 1:
            return f"{self.fact} = {self.values[0]}"
        return f"{self.fact} in ({', '.join(self.values)})"


@dataclass(frozen=True)
class AllOf:
    """Kleene AND of the parts."""

    parts: tuple[Condition, ...]

    def evaluate(self, facts: Facts) -> Tri:
        return tri_all(*(p.evaluate(facts) for p in self.parts))

    def missing(self, facts: Facts) -> tuple[str, ...]:
        if self.evaluate(facts) is not Tri.UNKNOWN:
            return ()
        return tuple(name for p in self.parts for name in p.missing(facts))

    def describe(self) -> str:
        return " AND ".join(_paren(p) for p in self.parts)


@dataclass(frozen=True)
class AnyOf:
    """Kleene OR of the parts."""

    parts: tuple[Condition, ...]

    def evaluate(self, facts: Facts) -> Tri:
        return tri_any(*(p.evaluate(facts) for p in self.parts))

    def missing(self, facts: Facts) -> tuple[str, ...]:
        if self.evaluate(facts) is not Tri.UNKNOWN:
            return ()
        return tuple(name for p in self.parts for name in p.missing(facts))

    def describe(self) -> str:
        return " OR ".join(_paren(p) for p in self.parts)


Condition = Is | AllOf | AnyOf


def _paren(condition: Condition) -> str:
    text = condition.describe()
    return text if isinstance(condition, Is) else f"({text})"


def yes(fact: str) -> Is:
    return Is(fact, (Tri.YES.value,))


def no(fact: str) -> Is:
    return Is(fact, (Tri.NO.value,))


def one_of(fact: str, *values: str) -> Is:
    return Is(fact, tuple(values))


def all_of(*parts: Condition) -> AllOf:
    return AllOf(tuple(parts))


def any_of(*parts: Condition) -> AnyOf:
    return AnyOf(tuple(parts))


# --- the rules -------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One explainable rule: when ``condition`` holds, suggest at least ``priority``."""

    id: str
    priority: Priority
    reason: str  # plain language, read aloud to explain the suggestion
    condition: Condition

    def evaluate(self, facts: Facts) -> Tri:
        return self.condition.evaluate(facts)

    def missing(self, facts: Facts) -> tuple[str, ...]:
        """Human names of the unanswered facts that keep this rule from being decided."""
        names = dict.fromkeys(FACT_NAMES.get(f, f) for f in self.condition.missing(facts))
        return tuple(names)

    def describe(self) -> str:
        return self.condition.describe()


_ANY_WEAPONS = any_of(yes("weapons"), yes("weapons_access"))
_FIREARM_ATTEMPT = one_of("kind", *sorted(FIREARM_ATTEMPT_KINDS))

RULES: tuple[Rule, ...] = (
    Rule(
        "P1-DANGER-NOW",
        Priority.P1,
        "The reporter says someone is in danger right now.",
        yes("danger_now"),
    ),
    Rule(
        "P1-TARGET-AND-MEANS",
        Priority.P1,
        "A specific target or time was named, and the person has or can get weapons.",
        all_of(yes("target_or_time"), _ANY_WEAPONS),
    ),
    Rule(
        "P1-WEAPON-AT-SCHOOL",
        Priority.P1,
        "Weapons were mentioned or seen, and it is about a school.",
        all_of(one_of("setting", Setting.SCHOOL.value), yes("weapons")),
    ),
    Rule(
        "P2-THREAT-AND-PREPARATION",
        Priority.P2,
        "They threatened to hurt others and have done something to prepare.",
        all_of(yes("threat_to_others"), yes("preparation")),
    ),
    Rule(
        "P2-THREAT-AND-WEAPONS",
        Priority.P2,
        "They threatened to hurt others and have or can get weapons.",
        all_of(yes("threat_to_others"), _ANY_WEAPONS),
    ),
    Rule(
        "P2-FIREARM-ATTEMPT-OPEN-CASE",
        Priority.P2,
        "A person with an open or monitored case was denied a firearm or tried to buy one.",
        all_of(_FIREARM_ATTEMPT, yes("has_open_case")),
    ),
    Rule(
        "P2-WATCH",
        Priority.P2,
        "The report is about a person on the banned-person watch.",
        yes("on_watch"),
    ),
    Rule(
        "P3-THREAT",
        Priority.P3,
        "They threatened to hurt others. Weapons or preparation would make it urgent.",
        yes("threat_to_others"),
    ),
    Rule(
        "P3-TARGET-OR-TIME",
        Priority.P3,
        "A specific target or time was named.",
        yes("target_or_time"),
    ),
    Rule(
        "P3-PREPARATION",
        Priority.P3,
        "They have done something that may be preparation for violence.",
        yes("preparation"),
    ),
    Rule(
        "P3-WEAPONS",
        Priority.P3,
        "Weapons were mentioned or seen.",
        yes("weapons"),
    ),
    Rule(
        "P3-GRIEVANCE",
        Priority.P3,
        "They are fixated on a grudge against a person, group or place.",
        yes("grievance"),
    ),
    Rule(
        "P3-SELF-HARM",
        Priority.P3,
        "They talked about hurting or killing themselves.",
        yes("self_harm"),
    ),
    Rule(
        "P3-FIREARM-ATTEMPT",
        Priority.P3,
        "They were denied a firearm or made a suspicious attempt to buy one.",
        _FIREARM_ATTEMPT,
    ),
    Rule(
        "P3-REFERRAL",
        Priority.P3,
        "A school, employer or campus team referred this person because of their behavior.",
        one_of("kind", ReportKind.REFERRAL.value),
    ),
    Rule(
        "P3-SAR",
        Priority.P3,
        "A suspicious activity report describes behavior that may be preparation.",
        one_of("kind", ReportKind.SAR.value),
    ),
    Rule(
        "P3-OFFICER-CONCERN",
        Priority.P3,
        "The officer at the wellness check rated their concern moderate or high.",
        one_of("officer_concern", Concern.MODERATE.value, Concern.HIGH.value),
    ),
    Rule(
        "P4-NO-NEXUS",
        Priority.P4,
        "The answers show no danger now, no threat, no target or time, no weapons, "
        "no preparation, no talk of self-harm and no grudge.",
        all_of(
            no("danger_now"),
            no("threat_to_others"),
            no("target_or_time"),
            no("weapons"),
            no("preparation"),
            no("self_harm"),
            no("grievance"),
        ),
    ),
)

RULES_BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}


# --- the suggestion --------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One rule's outcome: fired, or could not be evaluated (then ``missing`` says why)."""

    rule_id: str
    priority: Priority
    reason: str
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class Suggestion:
    """The suggested priority, with every reason for it."""

    priority: Priority | None  # highest priority among the rules that fired
    needs_person: bool  # nothing fired, or a higher-priority rule could not be evaluated
    fired: tuple[Finding, ...]
    unknown: tuple[Finding, ...]

    def summary(self) -> str:
        if self.priority is None:
            return "Needs a person"
        if self.needs_person:
            return f"Needs a person (at least {self.priority.value})"
        return PRIORITY_LABELS[self.priority]


def suggest(facts: Facts) -> Suggestion:
    """Evaluate every rule on ``facts``."""
    fired: list[Finding] = []
    unknown: list[Finding] = []
    for rule in RULES:
        outcome = rule.evaluate(facts)
        if outcome is Tri.YES:
            fired.append(Finding(rule.id, rule.priority, rule.reason))
        elif outcome is Tri.UNKNOWN:
            unknown.append(Finding(rule.id, rule.priority, rule.reason, rule.missing(facts)))
    priority = min((f.priority for f in fired), key=rank, default=None)
    needs_person = priority is None or any(rank(f.priority) < rank(priority) for f in unknown)
    return Suggestion(priority, needs_person, tuple(fired), tuple(unknown))


def queue_rank(priority: str | None, needs_person: bool) -> int:
    """Where a report waiting for triage stands in the queue: P1 first, then anything
    that needs a person, then P2, P3, P4."""
    if priority == Priority.P1.value:
        return 0
    if needs_person or priority is None:
        return 1
    return {"P2": 2, "P3": 3, "P4": 4}.get(priority, 1)
