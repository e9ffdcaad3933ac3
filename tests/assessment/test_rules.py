"""The pure rules around an assessment: citations, gap deadlines, wellness pre-fill,
comparing two assessors."""

from __future__ import annotations

import pytest

from defchain.assessment import rules
from defchain.assessment.instrument import (
    UNKNOWN,
    AnswerType,
    Basis,
    Item,
    Prefill,
    ScaleOption,
    get_instrument,
)
from defchain.assessment.scoring import Level


def _item(
    answer: AnswerType = AnswerType.YES_NO,
    *,
    prefill: Prefill | None = None,
    options: tuple[ScaleOption, ...] = (),
    item_id: str = "x",
) -> Item:
    return Item(
        id=item_id,
        section="s",
        prompt=f"Question {item_id}",
        guidance="",
        sources=(),
        answer=answer,
        options=options,
        evidence_required=False,
        basis=Basis.BEHAVIOR,
        key=False,
        prefill=prefill,
    )


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("report:12", rules.Citation(rules.EvidenceKind.REPORT, 12)),
        (" note:7 ", rules.Citation(rules.EvidenceKind.NOTE, 7)),
        (
            "wellness:3:weapons_seen",
            rules.Citation(rules.EvidenceKind.WELLNESS, 3, "weapons_seen"),
        ),
        ("", None),
    ],
)
def test_citations_parse(token: str, expected: rules.Citation | None) -> None:
    assert rules.parse_citation(token) == expected
    if expected is not None:
        assert rules.parse_citation(expected.token) == expected


@pytest.mark.parametrize(
    ("token", "words"),
    [
        ("gossip:1", "unknown kind"),
        ("report:", "malformed"),
        ("report:1:extra", "malformed"),
        ("wellness:3", "malformed"),
        ("wellness:3:", "malformed"),
        ("note:abc", "malformed"),
    ],
)
def test_malformed_citations_say_why(token: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        rules.parse_citation(token)


def test_gaps_are_due_sooner_the_higher_the_concern() -> None:
    ordered = [Level.LOW, Level.MODERATE, Level.HIGH, Level.IMMINENT]
    dues = [rules.gap_due(level) for level in ordered]
    assert dues == sorted(dues, reverse=True)
    assert len(set(dues)) == len(dues)


@pytest.mark.parametrize(
    ("raw", "mapping", "expected"),
    [
        ("yes", {}, "yes"),
        ("no", {}, "no"),
        ("unknown", {}, None),  # an officer's "unknown" suggests nothing
        (True, {}, "yes"),
        (False, {}, "no"),
        ("", {}, None),
        ("maybe", {}, None),  # not an allowed answer
        ("high", {"high": "yes", "moderate": "yes", "low": "no"}, "yes"),
        ("low", {"high": "yes", "moderate": "yes", "low": "no"}, "no"),
        ("none", {"high": "yes"}, None),  # unmapped value
    ],
)
def test_prefill_reads_a_wellness_field(
    raw: object, mapping: dict[str, str], expected: str | None
) -> None:
    item = _item(prefill=Prefill("weapons_seen", mapping))
    assert rules.prefill_value(item, {"weapons_seen": raw}) == expected


def test_prefill_needs_the_field_and_a_prefill_rule() -> None:
    assert rules.prefill_value(_item(prefill=Prefill("weapons_seen", {})), {}) is None
    assert rules.prefill_value(_item(), {"weapons_seen": "yes"}) is None
    text = _item(AnswerType.TEXT, prefill=Prefill("statements", {}))
    assert rules.prefill_value(text, {"statements": " He said no. "}) == "He said no."


def test_compare_lists_each_disagreement_in_instrument_order() -> None:
    instrument = get_instrument("DC-TA-1")
    scored = [i for i in instrument.items if i.answer is not AnswerType.TEXT]
    first_id, second_id = scored[0].id, scored[-1].id
    first = {first_id: "yes", second_id: UNKNOWN}
    second = {second_id: scored[-1].allowed_values()[0]}
    diffs = rules.compare(instrument, first, second)
    assert [d.item_id for d in diffs] == [first_id, second_id]
    assert diffs[0].first == "yes" and diffs[0].second == UNKNOWN
    assert rules.agreement(instrument, diffs) == pytest.approx((len(scored) - 2) / len(scored))
    assert rules.compare(instrument, first, dict(first)) == []


def test_text_answers_differ_only_when_one_is_empty() -> None:
    instrument = get_instrument("DC-TA-1")
    texts = [i for i in instrument.items if i.answer is AnswerType.TEXT]
    if not texts:
        pytest.skip("DC-TA-1 has no free-text item to compare")
    item_id = texts[0].id
    assert rules.compare(instrument, {item_id: "He said A"}, {item_id: "She heard B"}) == []
    assert [d.item_id for d in rules.compare(instrument, {item_id: "note"}, {})] == [item_id]
