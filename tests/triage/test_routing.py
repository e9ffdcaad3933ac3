"""Routing decided purely: each condition, order, switched-off rules, fallback, info
copies and the words of every reason."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest

from defchain.triage.routing import (
    FALLBACK_REASON,
    Names,
    RuleSpec,
    Sample,
    conditions,
    route,
    sample_of,
)

A, B, C, D = 1, 2, 3, 4  # agencies
COUNTY, OTHER_COUNTY = 10, 11  # jurisdictions
TEAM = 7


def rule(rule_id: int = 1, **fields: Any) -> RuleSpec:
    """A rule that matches everything and gives the report to agency B, unless told."""
    base = RuleSpec(
        id=rule_id,
        position=rule_id,
        name=f"Rule {rule_id}",
        active=True,
        jurisdiction_id=None,
        kinds=(),
        priorities=(),
        school_contains="",
        employer_contains="",
        from_agency_id=None,
        agency_id=B,
        team_id=None,
        info_agency_ids=(),
    )
    return replace(base, **fields)


SAMPLE = Sample(
    kind="tip",
    jurisdiction_id=COUNTY,
    from_agency_id=A,
    school="Lincoln High School",
    employer="Acme Tools Inc.",
    priority="P2",
)


# (condition, value that matches SAMPLE, value that does not, why the second fails)
CONDITIONS: list[tuple[str, Any, Any, str]] = [
    ("jurisdiction_id", COUNTY, OTHER_COUNTY, "jurisdiction is jurisdiction #10, rule wants "),
    ("from_agency_id", A, C, "received by agency #1, rule wants agency #3"),
    ("kinds", ("sar", "tip"), ("sar",), "kind is tip, rule wants sar"),
    ("priorities", ("P1", "P2"), ("P1",), "priority is P2, rule wants P1"),
    ("school_contains", "lincoln", "roosevelt", 'rule wants one containing "roosevelt"'),
    ("school_contains", " HIGH ", "elementary", 'school is "Lincoln High School"'),
    ("employer_contains", "acme", "globex", 'workplace is "Acme Tools Inc."'),
]


@pytest.mark.parametrize(("field", "good", "bad", "why"), CONDITIONS)
def test_each_condition_matches_or_says_why_not(field: str, good: Any, bad: Any, why: str) -> None:
    matched = route(SAMPLE, [rule(**{field: good})])
    assert (matched.rule_id, matched.agency_id, matched.checked) == (1, B, ())

    missed = route(SAMPLE, [rule(**{field: bad})])
    assert missed.rule_id is None
    assert missed.agency_id == A  # the receiving agency keeps it
    [(rule_id, reason)] = missed.checked
    assert rule_id == 1
    assert why in reason


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("jurisdiction_id", None),
        ("from_agency_id", None),
        ("kinds", ()),
        ("priorities", ()),
        ("school_contains", ""),
        ("school_contains", "   "),
        ("employer_contains", ""),
    ],
)
def test_an_empty_condition_matches_anything(field: str, value: Any) -> None:
    bare = Sample(kind="sar", jurisdiction_id=OTHER_COUNTY, from_agency_id=D)
    assert route(bare, [rule(**{field: value})]).rule_id == 1


def test_every_condition_must_hold() -> None:
    both = rule(kinds=("tip",), school_contains="roosevelt", employer_contains="globex")
    result = route(SAMPLE, [both])
    assert result.rule_id is None
    [(_, reason)] = result.checked
    # Every failing condition is named, not only the first.
    assert reason == (
        'school is "Lincoln High School", rule wants one containing "roosevelt"; '
        'workplace is "Acme Tools Inc.", rule wants one containing "globex"'
    )


def test_missing_subject_fields_and_priority_are_said_plainly() -> None:
    bare = Sample(kind="tip", jurisdiction_id=COUNTY, from_agency_id=A)
    result = route(
        bare,
        [
            rule(1, school_contains="lincoln"),
            rule(2, employer_contains="acme"),
            rule(3, priorities=("P1",)),
        ],
    )
    assert [why for _, why in result.checked] == [
        'school is not given, rule wants one containing "lincoln"',
        'workplace is not given, rule wants one containing "acme"',
        "priority is not set yet, rule wants P1",
    ]


def test_first_match_by_position_then_id_wins() -> None:
    rules = [
        rule(5, position=2, agency_id=C),
        rule(4, position=2, agency_id=D),  # same position: the lower id is tried first
        rule(9, position=1, kinds=("sar",)),  # tried first, does not match
    ]
    result = route(SAMPLE, rules)
    assert (result.rule_id, result.agency_id) == (4, D)
    assert result.checked == ((9, "kind is tip, rule wants sar"),)


def test_a_switched_off_rule_is_skipped_and_says_so() -> None:
    result = route(SAMPLE, [rule(1, active=False, agency_id=C), rule(2, agency_id=D)])
    assert (result.rule_id, result.agency_id) == (2, D)
    assert result.checked == ((1, "the rule is switched off"),)


def test_fallback_keeps_the_receiving_agency_and_lists_every_rule_tried() -> None:
    result = route(SAMPLE, [rule(1, kinds=("sar",)), rule(2, active=False)])
    assert result.agency_id == A
    assert result.team_id is None
    assert result.rule_id is None
    assert result.reason == FALLBACK_REASON
    assert result.info_agency_ids == ()
    assert [rule_id for rule_id, _ in result.checked] == [1, 2]


def test_no_rules_at_all_is_the_fallback() -> None:
    result = route(SAMPLE, [])
    assert (result.agency_id, result.rule_id, result.reason, result.checked) == (
        A,
        None,
        FALLBACK_REASON,
        (),
    )


def test_team_and_info_copies_come_from_the_rule_and_the_owner_gets_no_copy() -> None:
    result = route(SAMPLE, [rule(team_id=TEAM, agency_id=B, info_agency_ids=(C, B, D, C))])
    assert (result.agency_id, result.team_id) == (B, TEAM)
    assert result.info_agency_ids == (C, D)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (
            {"name": "Lincoln USD schools", "school_contains": "lincoln"},
            'Rule "Lincoln USD schools": the subject\'s school contains "lincoln".',
        ),
        (
            {"name": "Everything", "kinds": ()},
            'Rule "Everything": it has no conditions, so it matches every report.',
        ),
        (
            {"name": "Tips from A", "kinds": ("tip", "sar"), "from_agency_id": A},
            'Rule "Tips from A": the report was received by Agency A and the kind is Tip or SAR.',
        ),
        (
            {
                "name": "All",
                "jurisdiction_id": COUNTY,
                "priorities": ("P1", "P2", "P3"),
                "employer_contains": "Acme",
            },
            'Rule "All": the report is in Test County, the priority is P1, P2 or P3 and '
            'the subject\'s workplace contains "Acme".',
        ),
    ],
)
def test_reasons_are_plain_language(fields: dict[str, Any], reason: str) -> None:
    names = Names(
        agencies={A: "Agency A"},
        jurisdictions={COUNTY: "Test County"},
        kinds={"sar": "SAR", "tip": "Tip"},
    )
    assert route(SAMPLE, [rule(**fields)], names=names).reason == reason


def test_names_change_only_the_words() -> None:
    names = Names(kinds={"tip": "Tip", "sar": "Suspicious activity report"})
    result = route(SAMPLE, [rule(kinds=("sar",))], names=names)
    assert result.checked == ((1, "kind is Tip, rule wants Suspicious activity report"),)


def test_conditions_in_words_for_the_list_page() -> None:
    assert conditions(rule()) == []
    assert conditions(rule(kinds=("tip",), school_contains=" lincoln ")) == [
        "the kind is tip",
        'the subject\'s school contains "lincoln"',
    ]


def test_sample_of_reads_a_report_duck_typed() -> None:
    report = SimpleNamespace(
        kind="referral",
        jurisdiction_id=COUNTY,
        agency_id=A,
        subject={"name": "J. Doe", "school": " Lincoln High ", "workplace": "Acme"},
        priority="P3",
    )
    assert sample_of(report) == Sample(
        kind="referral",
        jurisdiction_id=COUNTY,
        from_agency_id=A,
        school="Lincoln High",
        employer="Acme",
        priority="P3",
    )


@pytest.mark.parametrize("subject", [None, {}, {"school": None, "workplace": 42}])
def test_sample_of_tolerates_missing_subject_and_priority(subject: Any) -> None:
    report = SimpleNamespace(kind="tip", jurisdiction_id=COUNTY, agency_id=A, subject=subject)
    assert sample_of(report) == Sample(kind="tip", jurisdiction_id=COUNTY, from_agency_id=A)
