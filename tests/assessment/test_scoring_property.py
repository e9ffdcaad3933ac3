"""Properties of scoring on both shipped instruments, over random answers (items may be
left unanswered): the result depends only on the answers; learning that an unknown item
has a risk-raising answer never lowers the level or the stage and never switches a rule
off; answering a key question removes its gap and adds none."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from defchain.assessment.instrument import (
    UNKNOWN,
    AnswerType,
    Instrument,
    Item,
    default_instruments,
)
from defchain.assessment.scoring import score

INSTRUMENTS = sorted(default_instruments().values(), key=lambda i: i.key)
BY_KEY = pytest.mark.parametrize("instrument", INSTRUMENTS, ids=[i.key for i in INSTRUMENTS])


def _value(item: Item) -> st.SearchStrategy[str]:
    if item.answer is AnswerType.TEXT:
        return st.text(max_size=30)
    return st.sampled_from(item.allowed_values())


def answers(instrument: Instrument) -> st.SearchStrategy[dict[str, str]]:
    """Any subset of the items answered with any allowed value."""
    return st.fixed_dictionaries({}, optional={item.id: _value(item) for item in instrument.items})


def scored_items(instrument: Instrument) -> list[Item]:
    return [item for item in instrument.items if item.answer is not AnswerType.TEXT]


@BY_KEY
@given(data=st.data())
def test_result_depends_only_on_the_answers(instrument: Instrument, data: st.DataObject) -> None:
    given_answers = data.draw(answers(instrument))
    order = data.draw(st.permutations(list(given_answers)))
    reordered = {item_id: given_answers[item_id] for item_id in order}
    first = score(instrument, given_answers)
    assert score(instrument, reordered) == first
    assert score(instrument, given_answers) == first
    assert first.explanation() == score(instrument, reordered).explanation()


@BY_KEY
@given(data=st.data())
def test_risk_raising_answer_for_an_unknown_item_never_lowers_anything(
    instrument: Instrument, data: st.DataObject
) -> None:
    base = data.draw(answers(instrument))
    item = data.draw(st.sampled_from(scored_items(instrument)))
    if data.draw(st.booleans(), label="unanswered rather than unknown"):
        base.pop(item.id, None)
    else:
        base[item.id] = UNKNOWN
    before = score(instrument, base)
    for value in sorted(item.risk_raising()):
        after = score(instrument, {**base, item.id: value})
        assert after.level >= before.level, (item.id, value)
        assert after.stage.rank >= before.stage.rank, (item.id, value)
        assert set(after.fired) >= set(before.fired), (item.id, value)
        assert after.facts >= before.facts, (item.id, value)


@BY_KEY
@given(data=st.data())
def test_answering_an_unknown_key_item_shrinks_the_gaps(
    instrument: Instrument, data: st.DataObject
) -> None:
    base = data.draw(answers(instrument))
    key_items = [i for i in scored_items(instrument) if i.key]
    item = data.draw(st.sampled_from(key_items))
    base[item.id] = UNKNOWN
    before = {gap.item_id for gap in score(instrument, base).gaps}
    assert item.id in before
    value = data.draw(st.sampled_from([v for v in item.allowed_values() if v != UNKNOWN]))
    after = {gap.item_id for gap in score(instrument, {**base, item.id: value}).gaps}
    assert after == before - {item.id}
