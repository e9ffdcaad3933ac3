"""The triage priority rules: each rule fires, does not fire, or cannot be evaluated."""

from __future__ import annotations

import re
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from defchain.intake.rules import Concern, ReportKind, SarCode, Setting
from defchain.intake.schemas import (
    DirectThreatDetails,
    NicsDenialDetails,
    PurchaseAttemptDetails,
    ReferralDetails,
    SarDetails,
    TipDetails,
    WellnessCheckDetails,
)
from defchain.triage.rules import (
    FACT_FIELDS,
    FACT_NAMES,
    KIND_UNKNOWN,
    NOT_RATED,
    PRIORITY_LABELS,
    RULES,
    RULES_BY_ID,
    TRI_FACTS,
    AllOf,
    AnyOf,
    Condition,
    Facts,
    PersonFacts,
    Priority,
    Tri,
    facts_of,
    rank,
    suggest,
)

DOC = Path(__file__).parents[2] / "docs" / "triage.md"
Y, N, U = Tri.YES, Tri.NO, Tri.UNKNOWN

# Nothing answered: every three-valued fact unknown, a tip naming an unlinked person.
BLANK = Facts(
    kind=ReportKind.TIP.value,
    danger_now=U,
    threat_to_others=U,
    target_or_time=U,
    weapons=U,
    preparation=U,
    self_harm=U,
    grievance=U,
    setting=Setting.UNKNOWN.value,
    officer_concern=NOT_RATED,
    has_subject=True,
    linked=False,
    weapons_access=U,
    has_open_case=U,
    on_watch=U,
    prior_reports=0,
)
CALM = {
    "danger_now": N,
    "threat_to_others": N,
    "target_or_time": N,
    "weapons": N,
    "preparation": N,
    "self_harm": N,
    "grievance": N,
}


def facts(**changes: Any) -> Facts:
    return replace(BLANK, **changes)


# (rule id, facts, expected outcome). Every rule needs a yes, a no and an unknown case.
CASES: list[tuple[str, Facts, Tri]] = [
    ("P1-DANGER-NOW", facts(danger_now=Y), Y),
    ("P1-DANGER-NOW", facts(danger_now=N), N),
    ("P1-DANGER-NOW", facts(), U),
    ("P1-TARGET-AND-MEANS", facts(target_or_time=Y, weapons=Y), Y),
    ("P1-TARGET-AND-MEANS", facts(target_or_time=Y, weapons=N, weapons_access=Y), Y),
    ("P1-TARGET-AND-MEANS", facts(target_or_time=N, weapons=Y), N),
    ("P1-TARGET-AND-MEANS", facts(target_or_time=Y, weapons=N, weapons_access=N), N),
    ("P1-TARGET-AND-MEANS", facts(target_or_time=Y, weapons=N), U),
    ("P1-TARGET-AND-MEANS", facts(weapons=Y), U),
    ("P1-WEAPON-AT-SCHOOL", facts(setting="school", weapons=Y), Y),
    ("P1-WEAPON-AT-SCHOOL", facts(setting="home", weapons=Y), N),
    ("P1-WEAPON-AT-SCHOOL", facts(setting="school", weapons=N, weapons_access=Y), N),
    ("P1-WEAPON-AT-SCHOOL", facts(weapons=Y), U),
    ("P1-WEAPON-AT-SCHOOL", facts(setting="school"), U),
    ("P2-THREAT-AND-PREPARATION", facts(threat_to_others=Y, preparation=Y), Y),
    ("P2-THREAT-AND-PREPARATION", facts(threat_to_others=N, preparation=Y), N),
    ("P2-THREAT-AND-PREPARATION", facts(threat_to_others=Y, preparation=N), N),
    ("P2-THREAT-AND-PREPARATION", facts(threat_to_others=Y), U),
    ("P2-THREAT-AND-WEAPONS", facts(threat_to_others=Y, weapons_access=Y), Y),
    ("P2-THREAT-AND-WEAPONS", facts(threat_to_others=Y, weapons=Y), Y),
    ("P2-THREAT-AND-WEAPONS", facts(threat_to_others=Y, weapons=N, weapons_access=N), N),
    ("P2-THREAT-AND-WEAPONS", facts(threat_to_others=N, weapons=Y), N),
    ("P2-THREAT-AND-WEAPONS", facts(threat_to_others=Y, weapons=N), U),
    ("P2-FIREARM-ATTEMPT-OPEN-CASE", facts(kind="nics_denial", has_open_case=Y), Y),
    ("P2-FIREARM-ATTEMPT-OPEN-CASE", facts(kind="purchase_attempt", has_open_case=Y), Y),
    ("P2-FIREARM-ATTEMPT-OPEN-CASE", facts(kind="tip", has_open_case=Y), N),
    ("P2-FIREARM-ATTEMPT-OPEN-CASE", facts(kind="nics_denial", has_open_case=N), N),
    ("P2-FIREARM-ATTEMPT-OPEN-CASE", facts(kind="nics_denial"), U),
    ("P2-FIREARM-ATTEMPT-OPEN-CASE", facts(kind=KIND_UNKNOWN, has_open_case=Y), U),
    ("P2-WATCH", facts(on_watch=Y), Y),
    ("P2-WATCH", facts(on_watch=N), N),
    ("P2-WATCH", facts(), U),
    ("P3-THREAT", facts(threat_to_others=Y), Y),
    ("P3-THREAT", facts(threat_to_others=N), N),
    ("P3-THREAT", facts(), U),
    ("P3-TARGET-OR-TIME", facts(target_or_time=Y), Y),
    ("P3-TARGET-OR-TIME", facts(target_or_time=N), N),
    ("P3-TARGET-OR-TIME", facts(), U),
    ("P3-PREPARATION", facts(preparation=Y), Y),
    ("P3-PREPARATION", facts(preparation=N), N),
    ("P3-PREPARATION", facts(), U),
    ("P3-WEAPONS", facts(weapons=Y), Y),
    ("P3-WEAPONS", facts(weapons=N, weapons_access=Y), N),
    ("P3-WEAPONS", facts(), U),
    ("P3-GRIEVANCE", facts(grievance=Y), Y),
    ("P3-GRIEVANCE", facts(grievance=N), N),
    ("P3-GRIEVANCE", facts(), U),
    ("P3-SELF-HARM", facts(self_harm=Y), Y),
    ("P3-SELF-HARM", facts(self_harm=N), N),
    ("P3-SELF-HARM", facts(), U),
    ("P3-FIREARM-ATTEMPT", facts(kind="nics_denial"), Y),
    ("P3-FIREARM-ATTEMPT", facts(kind="purchase_attempt"), Y),
    ("P3-FIREARM-ATTEMPT", facts(kind="tip"), N),
    ("P3-FIREARM-ATTEMPT", facts(kind=KIND_UNKNOWN), U),
    ("P3-REFERRAL", facts(kind="referral"), Y),
    ("P3-REFERRAL", facts(kind="wellness_check"), N),
    ("P3-REFERRAL", facts(kind=KIND_UNKNOWN), U),
    ("P3-SAR", facts(kind="sar"), Y),
    ("P3-SAR", facts(kind="direct_threat"), N),
    ("P3-SAR", facts(kind=KIND_UNKNOWN), U),
    ("P3-OFFICER-CONCERN", facts(officer_concern="moderate"), Y),
    ("P3-OFFICER-CONCERN", facts(officer_concern="high"), Y),
    ("P3-OFFICER-CONCERN", facts(officer_concern="low"), N),
    ("P3-OFFICER-CONCERN", facts(officer_concern=NOT_RATED), N),
    ("P3-OFFICER-CONCERN", facts(officer_concern="unknown"), U),
    ("P4-NO-NEXUS", facts(**CALM), Y),
    ("P4-NO-NEXUS", facts(**CALM, setting="school", weapons_access=Y, on_watch=Y), Y),
    ("P4-NO-NEXUS", facts(**{**CALM, "grievance": Y}), N),
    ("P4-NO-NEXUS", facts(danger_now=Y), N),
    ("P4-NO-NEXUS", facts(**{**CALM, "self_harm": U}), U),
    ("P4-NO-NEXUS", facts(), U),
]


@pytest.mark.parametrize(
    ("rule_id", "case", "expected"),
    CASES,
    ids=[f"{rule_id}-{i}-{expected}" for i, (rule_id, _, expected) in enumerate(CASES)],
)
def test_rule_outcome(rule_id: str, case: Facts, expected: Tri) -> None:
    rule = RULES_BY_ID[rule_id]
    assert rule.evaluate(case) is expected
    missing = rule.missing(case)
    if expected is U:
        assert missing, "an unknown rule must say which answers are missing"
        assert all(name in FACT_NAMES.values() for name in missing)
    else:
        assert missing == ()


def test_every_rule_has_a_yes_a_no_and_an_unknown_case() -> None:
    seen: dict[str, set[Tri]] = {rule.id: set() for rule in RULES}
    for rule_id, _, expected in CASES:
        assert rule_id in seen, f"case for a rule that does not exist: {rule_id}"
        seen[rule_id].add(expected)
    lacking = {rule_id: {Y, N, U} - got for rule_id, got in seen.items() if got != {Y, N, U}}
    assert lacking == {}


def test_the_missing_names_are_the_unanswered_facts_only() -> None:
    rule = RULES_BY_ID["P1-TARGET-AND-MEANS"]
    assert rule.missing(facts(target_or_time=Y, weapons=N)) == (FACT_NAMES["weapons_access"],)
    assert rule.missing(facts(weapons=Y)) == (FACT_NAMES["target_or_time"],)


# --- the rule table itself ---------------------------------------------------------------


def _leaf_facts(condition: Condition) -> set[str]:
    if isinstance(condition, AllOf | AnyOf):
        return set().union(*(_leaf_facts(p) for p in condition.parts))
    return {condition.fact}


def test_rule_ids_are_unique_named_for_their_priority_and_ordered() -> None:
    ids = [rule.id for rule in RULES]
    assert len(ids) == len(set(ids))
    for rule in RULES:
        assert re.fullmatch(r"P[1-4](-[A-Z]+)+", rule.id), rule.id
        assert rule.id.startswith(rule.priority.value + "-")
        assert rule.reason.strip() and rule.reason.endswith("."), rule.id
    ranks = [rank(rule.priority) for rule in RULES]
    assert ranks == sorted(ranks)
    assert set(RULES_BY_ID) == set(ids)


def test_rules_read_only_facts_and_every_fact_has_a_plain_name() -> None:
    for rule in RULES:
        for fact in _leaf_facts(rule.condition):
            assert fact in FACT_FIELDS, (rule.id, fact)
            assert fact in FACT_NAMES, (rule.id, fact)


PROTECTED = re.compile(
    r"race|ethnic|religio|faith|national|citizen|immigra|sex|gender|orientation|"
    r"disab|politic|party|language",
    re.IGNORECASE,
)


def test_no_fact_or_rule_is_about_identity() -> None:
    """Behavior, not identity: nothing the rules read is a protected characteristic."""
    for name in FACT_FIELDS:
        assert not PROTECTED.search(name), name
    for rule in RULES:
        assert not PROTECTED.search(rule.id + " " + rule.reason), rule.id
        for fact in _leaf_facts(rule.condition):
            assert not PROTECTED.search(fact), (rule.id, fact)


def test_the_document_explains_exactly_these_rules() -> None:
    text = DOC.read_text(encoding="utf-8")
    documented = set(re.findall(r"^### `(P[1-4](?:-[A-Z]+)+)`", text, re.MULTILINE))
    assert documented == set(RULES_BY_ID)
    rows = re.findall(r"^\| `(P[1-4](?:-[A-Z]+)+)` \| (P[1-4]) \| `([^`]+)` \|", text, re.M)
    assert {r[0]: (r[1], r[2]) for r in rows} == {
        rule.id: (rule.priority.value, rule.describe()) for rule in RULES
    }


# --- suggestions -------------------------------------------------------------------------

NO_SUBJECT = {"has_subject": False, "weapons_access": N, "has_open_case": N, "on_watch": N}
LINKED_CLEAN = {"linked": True, "weapons_access": N, "has_open_case": N, "on_watch": N}

SCENARIOS: list[tuple[str, Facts, Priority | None, bool, str]] = [
    ("nothing answered", facts(), None, True, "Needs a person"),
    ("calm, nobody named", facts(**CALM, **NO_SUBJECT), Priority.P4, False, "P4 information"),
    (
        "calm about a person not linked yet",
        facts(**CALM),
        Priority.P4,
        True,
        "Needs a person (at least P4)",
    ),
    ("danger now outranks every unknown", facts(danger_now=Y), Priority.P1, False, "P1 imminent"),
    (
        "a threat, means unknown",
        facts(**{**CALM, "threat_to_others": Y}),
        Priority.P3,
        True,
        "Needs a person (at least P3)",
    ),
    (
        "a threat with preparation by a linked person",
        facts(**{**CALM, "threat_to_others": Y, "preparation": Y}, **LINKED_CLEAN),
        Priority.P2,
        False,
        "P2 urgent",
    ),
    (
        "a denial, person with an open case",
        facts(kind="nics_denial", linked=True, has_open_case=Y, on_watch=N),
        Priority.P2,
        True,  # nothing is known about threats: the P1 rules stay open
        "Needs a person (at least P2)",
    ),
    (
        "self-harm only",
        facts(**{**CALM, "self_harm": Y}, **LINKED_CLEAN),
        Priority.P3,
        False,
        "P3 concerning",
    ),
]


@pytest.mark.parametrize(
    ("case", "priority", "needs_person", "summary"),
    [s[1:] for s in SCENARIOS],
    ids=[s[0] for s in SCENARIOS],
)
def test_suggestion(
    case: Facts, priority: Priority | None, needs_person: bool, summary: str
) -> None:
    result = suggest(case)
    assert result.priority == priority
    assert result.needs_person is needs_person
    assert result.summary() == summary
    assert {f.rule_id for f in result.fired} == {
        rule.id for rule in RULES if rule.evaluate(case) is Y
    }
    assert {f.rule_id for f in result.unknown} == {
        rule.id for rule in RULES if rule.evaluate(case) is U
    }


def test_an_unknown_finding_says_what_to_ask() -> None:
    result = suggest(facts(**{**CALM, "threat_to_others": Y}))
    by_id = {f.rule_id: f for f in result.unknown}
    assert by_id["P2-THREAT-AND-WEAPONS"].missing == (FACT_NAMES["weapons_access"],)
    assert all(f.missing for f in result.unknown)
    assert all(f.missing == () for f in result.fired)


def test_priority_labels() -> None:
    assert [PRIORITY_LABELS[p] for p in Priority] == [
        "P1 imminent",
        "P2 urgent",
        "P3 concerning",
        "P4 information",
    ]


# --- facts_of, every kind ----------------------------------------------------------------

NOW = "2026-01-04T10:00:00Z"
PARTY = {"name": "Pat Example"}


def stored(model: Any, **data: Any) -> dict[str, Any]:
    """Details as the service stores them: validated, then dumped as JSON."""
    dumped: dict[str, Any] = model.model_validate(data).model_dump(mode="json")
    return dumped


def of(kind: str, details: dict[str, Any], **kw: Any) -> Facts:
    options: dict[str, Any] = {"danger_now": False, "has_subject": True, "person": None}
    options.update(kw)
    return facts_of(kind, details, **options)


def test_facts_of_a_tip_reads_every_question() -> None:
    details = stored(
        TipDetails,
        weapons="yes",
        date_or_target="no",
        threat_to_others="yes",
        preparation="no",
        self_harm="unknown",
        grievance="yes",
        setting="school",
    )
    got = of("tip", details, danger_now=True)
    assert (got.kind, got.danger_now, got.weapons, got.target_or_time) == ("tip", Y, Y, N)
    assert (got.threat_to_others, got.preparation, got.self_harm, got.grievance) == (Y, N, U, Y)
    assert (got.setting, got.officer_concern) == ("school", NOT_RATED)


def test_facts_of_an_old_tip_leave_new_questions_unknown() -> None:
    got = of("tip", {"weapons": "no", "date_or_target": "no", "how_known": "I saw it"})
    assert (got.weapons, got.target_or_time) == (N, N)
    assert (got.threat_to_others, got.preparation, got.self_harm, got.grievance) == (U, U, U, U)
    assert got.setting == "unknown" and got.danger_now is N
    # Nonsense in stored JSON is unknown, never a "no".
    odd = of("tip", {"weapons": "maybe", "setting": "moon", "grievance": 1})
    assert (odd.weapons, odd.setting, odd.grievance) == (U, "unknown", U)


@pytest.mark.parametrize(
    ("codes", "threat", "weapons", "preparation"),
    [
        ([SarCode.THREAT, SarCode.PHOTO], Y, U, U),
        ([SarCode.WPNS], U, Y, Y),
        ([SarCode.SURVL], U, U, Y),
        ([SarCode.MATRLS], U, U, Y),
        ([SarCode.TESTSEC], U, U, Y),
        ([SarCode.INTRSN], U, U, Y),
        ([SarCode.EXPERT], U, U, Y),
        ([SarCode.CYBER, SarCode.MISREP], U, U, U),
    ],
)
def test_facts_of_a_sar_read_its_categories(
    codes: list[SarCode], threat: Tri, weapons: Tri, preparation: Tri
) -> None:
    details = stored(
        SarDetails,
        categories=codes,
        site="The water plant",
        why_suspicious="Walked the fence line twice taking notes",
        other_factors="Asked staff about shift changes and guard rounds",
    )
    got = of("sar", details)
    assert (got.threat_to_others, got.weapons, got.preparation) == (threat, weapons, preparation)
    assert (got.target_or_time, got.self_harm, got.grievance, got.setting) == (U, U, U, "unknown")
    assert "P3-SAR" in {f.rule_id for f in suggest(got).fired}


@pytest.mark.parametrize("kind", ["nics_denial", "purchase_attempt"])
def test_facts_of_a_firearm_attempt(kind: str) -> None:
    if kind == "nics_denial":
        details = stored(
            NicsDenialDetails,
            denied_at=NOW,
            transaction_number="NTN-42",
            denial_category="felony_conviction",
            purchaser=PARTY,
            dealer={"name": "Example Guns"},
        )
    else:
        details = stored(
            PurchaseAttemptDetails,
            attempted_at=NOW,
            dealer={"name": "Example Guns"},
            sought="A rifle",
            behavior="A companion chose and paid for the rifle",
            straw_indicators=["companion_pays"],
        )
    unlinked = of(kind, details)
    assert unlinked.kind == kind
    assert (unlinked.threat_to_others, unlinked.weapons, unlinked.preparation) == (U, U, U)
    assert unlinked.has_open_case is U
    result = suggest(unlinked)
    assert result.priority is Priority.P3
    assert result.summary() == "Needs a person (at least P3)"
    person = PersonFacts(linked=True, has_open_case=Y)
    assert suggest(of(kind, details, person=person)).priority is Priority.P2


@pytest.mark.parametrize(
    ("seen", "reported", "weapons"),
    [
        ("yes", "no", Y),
        ("no", "yes", Y),
        ("no", "no", N),
        ("no", "unknown", U),
        ("unknown", "unknown", U),
    ],
)
def test_facts_of_a_wellness_check(seen: str, reported: str, weapons: Tri) -> None:
    details = stored(
        WellnessCheckDetails,
        officer="Ofc. Example",
        checked_at=NOW,
        contact_made=True,
        weapons_seen=seen,
        weapons_access_reported=reported,
        officer_concern=Concern.HIGH,
    )
    got = of("wellness_check", details)
    assert got.weapons is weapons
    assert got.officer_concern == "high"
    assert (got.threat_to_others, got.self_harm) == (U, U)
    assert of("wellness_check", {**details, "officer_concern": None}).officer_concern == "unknown"


@pytest.mark.parametrize(
    ("organization", "setting"),
    [("school", "school"), ("campus", "school"), ("employer", "workplace"), ("other", "other")],
)
def test_facts_of_a_referral(organization: str, setting: str) -> None:
    details = stored(
        ReferralDetails,
        organization_type=organization,
        organization_name="Example High",
        behaviors="Keeps drawing the gym with exits marked",
    )
    got = of("referral", details)
    assert got.setting == setting
    assert (got.threat_to_others, got.weapons, got.preparation) == (U, U, U)
    assert "P3-REFERRAL" in {f.rule_id for f in suggest(got).fired}


@pytest.mark.parametrize("named", ["yes", "no", "unknown"])
def test_facts_of_a_direct_threat(named: str) -> None:
    details = stored(
        DirectThreatDetails,
        recipient="Example Middle School",
        medium="email",
        threat_text="You will all pay on Friday",
        received_at=NOW,
        target_named=named,
    )
    got = of("direct_threat", details)
    assert got.threat_to_others is Y
    assert got.target_or_time == Tri(named)
    assert "P3-THREAT" in {f.rule_id for f in suggest(got).fired}


def test_facts_of_an_unknown_kind_needs_a_person() -> None:
    got = of("carrier_pigeon", {"weapons": "no"}, danger_now=False, has_subject=False)
    assert got.kind == KIND_UNKNOWN and got.weapons is U and got.officer_concern == "unknown"
    result = suggest(got)
    assert result.needs_person and result.priority is None


def test_every_report_kind_is_mapped() -> None:
    for kind in ReportKind:
        assert of(kind.value, {}).kind == kind.value


@pytest.mark.parametrize(
    ("has_subject", "person", "expected"),
    [
        (False, None, (False, N, N, N)),  # nobody named: no case, watch or weapons to have
        (True, None, (False, U, U, U)),  # somebody, not linked yet: unknown
        (True, PersonFacts(linked=False, has_open_case=Y, on_watch=Y), (False, U, U, U)),
        (
            True,
            PersonFacts(linked=True, has_open_case=Y, on_watch=N, weapons_access=Y),
            (True, Y, N, Y),
        ),
        (True, PersonFacts(linked=True), (True, N, N, U)),
    ],
)
def test_person_facts(
    has_subject: bool, person: PersonFacts | None, expected: tuple[bool, Tri, Tri, Tri]
) -> None:
    got = of("tip", {}, has_subject=has_subject, person=person)
    assert (got.linked, got.has_open_case, got.on_watch, got.weapons_access) == expected


def test_prior_reports_come_from_a_linked_person_only() -> None:
    person = PersonFacts(linked=True, prior_reports=3)
    assert of("tip", {}, person=person).prior_reports == 3
    assert of("tip", {}, person=replace(person, linked=False)).prior_reports == 0


# --- properties --------------------------------------------------------------------------

KINDS = [k.value for k in ReportKind] + [KIND_UNKNOWN]
SETTINGS = [s.value for s in Setting]
CONCERNS = [c.value for c in Concern] + [NOT_RATED, "unknown"]
TRIS = st.sampled_from(list(Tri))

ANY_FACTS = st.builds(
    Facts,
    kind=st.sampled_from(KINDS),
    setting=st.sampled_from(SETTINGS),
    officer_concern=st.sampled_from(CONCERNS),
    has_subject=st.booleans(),
    linked=st.booleans(),
    prior_reports=st.integers(0, 50),
    **{name: TRIS for name in TRI_FACTS},
)

# An unanswered plain-valued fact, and the answers it could get.
PLAIN_UNKNOWN: dict[str, tuple[str, list[str]]] = {
    "kind": (KIND_UNKNOWN, [k.value for k in ReportKind]),
    "setting": ("unknown", [s for s in SETTINGS if s != "unknown"]),
    "officer_concern": ("unknown", [c.value for c in Concern] + [NOT_RATED]),
}


def test_the_tri_facts_are_the_three_valued_fields() -> None:
    assert set(TRI_FACTS) == {name for name in FACT_FIELDS if isinstance(getattr(BLANK, name), Tri)}


@given(ANY_FACTS)
def test_answering_yes_never_lowers_the_priority(case: Facts) -> None:
    before = rank(suggest(case).priority)
    for name in TRI_FACTS:
        if getattr(case, name) is U:
            changes: dict[str, Any] = {name: Y}
            after = suggest(replace(case, **changes))
            assert rank(after.priority) <= before, name


@given(ANY_FACTS, st.data())
def test_any_answer_to_an_unknown_plain_fact_never_lowers_the_priority(
    case: Facts, data: st.DataObject
) -> None:
    before = rank(suggest(case).priority)
    for name, (unknown, answers) in PLAIN_UNKNOWN.items():
        if getattr(case, name) == unknown:
            changes: dict[str, Any] = {name: data.draw(st.sampled_from(answers))}
            assert rank(suggest(replace(case, **changes)).priority) <= before, name


@given(ANY_FACTS)
def test_p4_only_from_the_p4_rule(case: Facts) -> None:
    result = suggest(case)
    fired = {f.rule_id for f in result.fired}
    if result.priority is Priority.P4 and not result.needs_person:
        assert "P4-NO-NEXUS" in fired
    if result.priority is Priority.P4:
        assert "P4-NO-NEXUS" in fired
        assert fired == {"P4-NO-NEXUS"}
    if any(getattr(case, name) is U for name in CALM):
        assert result.priority is not Priority.P4  # a missing answer never makes P4


@given(ANY_FACTS)
def test_needs_person_exactly_when_the_suggestion_is_not_settled(case: Facts) -> None:
    result = suggest(case)
    higher_unknown = any(rank(f.priority) < rank(result.priority) for f in result.unknown)
    assert result.needs_person is (result.priority is None or higher_unknown)
    if result.fired:
        assert result.priority == min((f.priority for f in result.fired), key=rank)
    assert all(f.missing for f in result.unknown)
    assert result.summary().startswith("Needs a person") is result.needs_person


@given(ANY_FACTS)
def test_the_result_depends_only_on_the_facts(case: Facts) -> None:
    copy = Facts(**asdict(case))
    assert copy == case and copy is not case
    first = suggest(case)
    assert suggest(copy) == first
    assert suggest(case) == first
    assert hash(first) == hash(suggest(copy))


@given(
    kind=st.sampled_from([k.value for k in ReportKind]),
    danger_now=st.booleans(),
    has_subject=st.booleans(),
    linked=st.booleans(),
    case=TRIS,
    watch=TRIS,
)
def test_facts_of_depends_only_on_its_inputs(
    kind: str, danger_now: bool, has_subject: bool, linked: bool, case: Tri, watch: Tri
) -> None:
    person = PersonFacts(linked=linked, has_open_case=case, on_watch=watch)
    args: dict[str, Any] = {"danger_now": danger_now, "has_subject": has_subject, "person": person}
    first = facts_of(kind, {"weapons": "yes"}, **args)
    assert facts_of(kind, {"weapons": "yes"}, **args) == first
    assert first.danger_now is (Y if danger_now else N)


def test_queue_rank_puts_p1_first_then_needs_a_person_then_p2_p3_p4() -> None:
    from defchain.triage.rules import queue_rank

    order = [
        queue_rank("P1", True),
        queue_rank("P3", True),
        queue_rank(None, True),
        queue_rank("P2", False),
        queue_rank("P3", False),
        queue_rank("P4", False),
    ]
    assert order == [0, 1, 1, 2, 3, 4]
