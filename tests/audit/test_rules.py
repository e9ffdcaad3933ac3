"""Pure rules of the audit chain: canonical form, hashing and chain checking."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from defchain.audit.rules import (
    GENESIS_HASH,
    TAG_PATTERN,
    EventContent,
    check_chain,
    event_hash,
    normalize_changes,
)
from defchain.audit.service import diff

AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _content(seq: int = 1, prev_hash: str = GENESIS_HASH, **overrides: Any) -> EventContent:
    values: dict[str, Any] = {
        "seq": seq,
        "at": AT,
        "actor_id": 7,
        "actor_label": "lead_a (#7)",
        "tag": "access:team:created",
        "subject_type": "team",
        "subject_id": "3",
        "changes": {"name": [None, "Team T"]},
        "prev_hash": prev_hash,
    }
    values.update(overrides)
    return EventContent(**values)


def _chain(contents: list[EventContent]) -> list[tuple[EventContent, str]]:
    """Link contents into a valid chain: renumber from 1 and set each prev_hash."""
    chain: list[tuple[EventContent, str]] = []
    prev = GENESIS_HASH
    for index, content in enumerate(contents, start=1):
        linked = dataclasses.replace(content, seq=index, prev_hash=prev)
        prev = event_hash(linked)
        chain.append((linked, prev))
    return chain


# --- hashing ---------------------------------------------------------------------------


def test_hash_is_sha256_of_the_documented_canonical_json() -> None:
    content = _content(actor_label="Zoë (#7)")
    canonical = (
        '{"actor_id":7,"actor_label":"Zoë (#7)","at":"2026-01-05T09:00:00.000000+00:00",'
        '"changes":{"name":[null,"Team T"]},"prev_hash":"' + "0" * 64 + '","seq":1,'
        '"subject_id":"3","subject_type":"team","tag":"access:team:created"}'
    )
    assert event_hash(content) == hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def test_hash_depends_on_the_instant_not_its_time_zone() -> None:
    eastern = timezone(timedelta(hours=-5))
    same_instant = _content(at=AT.astimezone(eastern))
    assert event_hash(same_instant) == event_hash(_content())
    assert event_hash(_content(at=AT + timedelta(microseconds=1))) != event_hash(_content())


def test_hash_ignores_key_order_of_changes() -> None:
    one = _content(changes={"a": [1, 2], "b": [3, 4]})
    other = _content(changes={"b": [3, 4], "a": [1, 2]})
    assert event_hash(one) == event_hash(other)


# --- normalize_changes and diff ---------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "ab"},
        {"name": 1},
        {"name": [1]},
        {"name": [1, 2, 3]},
        {"name": None},
        {"ok": [1, 2], "name": {"old": 1, "new": 2}},
    ],
)
def test_normalize_changes_rejects_anything_but_pairs(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="'name' must be \\[old, new\\]"):
        normalize_changes(bad)


def test_normalize_changes_gives_what_a_json_column_reads_back() -> None:
    eastern = timezone(timedelta(hours=-5))
    normalized = normalize_changes(
        {
            "when": (None, datetime(2026, 1, 5, 4, 0, tzinfo=eastern)),
            "labels": [{"intel", "cji"}, frozenset()],
            "amount": [Decimal("1.50"), 2],
        }
    )
    assert normalized == {
        "when": [None, "2026-01-05T09:00:00+00:00"],
        "labels": [["cji", "intel"], []],
        "amount": ["1.50", 2],
    }


def test_diff_lists_only_changed_fields() -> None:
    before = {"name": "A", "phone": "", "active": True}
    after = {"name": "B", "phone": "", "active": False}
    assert diff(before, after) == {"name": ["A", "B"], "active": [True, False]}
    assert diff(before, dict(before)) == {}


@pytest.mark.parametrize(
    ("tag", "ok"),
    [
        ("access:agency:updated", True),
        ("audit:chain:verified", True),
        ("access:agency", False),
        ("Access:agency:updated", False),
        ("a:b:c:d", False),
    ],
)
def test_tag_pattern(tag: str, ok: bool) -> None:
    assert bool(TAG_PATTERN.match(tag)) is ok


# --- check_chain on hand-built lists ----------------------------------------------------


def _five() -> list[tuple[EventContent, str]]:
    return _chain([_content(subject_id=str(n)) for n in range(1, 6)])


def test_valid_chain_has_no_problems() -> None:
    assert check_chain(_five()) == []
    assert check_chain([]) == []


def test_edited_content_is_reported_at_its_seq() -> None:
    chain = _five()
    content, stored = chain[2]
    chain[2] = (dataclasses.replace(content, actor_label="someone else"), stored)
    problems = check_chain(chain)
    assert [(p.seq, p.reason) for p in problems] == [(3, "content does not match its hash")]


def test_edited_and_rehashed_row_breaks_the_next_link() -> None:
    chain = _five()
    edited = dataclasses.replace(chain[2][0], changes={"name": [None, "forged"]})
    chain[2] = (edited, event_hash(edited))
    problems = check_chain(chain)
    assert [(p.seq, p.reason) for p in problems] == [(4, "previous-hash link does not match")]


def test_deleted_row_is_reported_at_the_next_seq() -> None:
    chain = _five()
    del chain[2]
    problems = check_chain(chain)
    assert {p.seq for p in problems} == {4}
    reasons = {p.reason for p in problems}
    assert "sequence jumps from 2 to 4" in reasons
    assert "previous-hash link does not match" in reasons


def test_deleted_first_row_is_reported() -> None:
    chain = _five()[1:]
    problems = check_chain(chain)
    assert {p.seq for p in problems} == {2}


def test_duplicate_seq_is_reported() -> None:
    chain = _five()
    duplicate = dataclasses.replace(chain[1][0], subject_id="forged")
    chain.insert(2, (duplicate, event_hash(duplicate)))
    problems = check_chain(chain)
    assert any(p.seq == 2 and p.reason.startswith("sequence jumps") for p in problems)
    assert any(p.reason == "previous-hash link does not match" for p in problems)


def test_out_of_order_seq_is_reported() -> None:
    chain = _five()
    chain[1], chain[2] = chain[2], chain[1]
    problems = check_chain(chain)
    assert {p.seq for p in problems} >= {3, 2}


def test_wrong_genesis_link_is_reported() -> None:
    first = _content(prev_hash="f" * 64)
    problems = check_chain([(first, event_hash(first))])
    assert [(p.seq, p.reason) for p in problems] == [(1, "previous-hash link does not match")]


# --- property: any single-field change anywhere is found ---------------------------------

_json_scalar = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=8)
_pair = st.lists(_json_scalar, min_size=2, max_size=2)
_changes = st.dictionaries(st.text(min_size=1, max_size=8), _pair, max_size=3)

_event = st.builds(
    EventContent,
    seq=st.just(0),
    at=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    actor_id=st.none() | st.integers(1, 10**6),
    actor_label=st.text(max_size=20),
    tag=st.from_regex(TAG_PATTERN, fullmatch=True),
    subject_type=st.text(min_size=1, max_size=10),
    subject_id=st.text(min_size=1, max_size=10),
    changes=_changes.map(normalize_changes),
    prev_hash=st.just(GENESIS_HASH),
)

_FIELDS = [f.name for f in dataclasses.fields(EventContent)] + ["stored_hash"]


def _different(draw: st.DrawFn, strategy: st.SearchStrategy[Any], original: Any) -> Any:
    return draw(strategy.filter(lambda value: value != original))


def _mutate(
    draw: st.DrawFn, content: EventContent, stored: str, field: str
) -> tuple[EventContent, str]:
    hexes = st.text("0123456789abcdef", min_size=64, max_size=64)
    if field == "stored_hash":
        return content, _different(draw, hexes, stored)
    original = getattr(content, field)
    strategy: st.SearchStrategy[Any] = {
        "seq": st.integers(-5, 10**6),
        "at": st.integers(1, 10**9).map(lambda us: original + timedelta(microseconds=us)),
        "actor_id": st.none() | st.integers(1, 10**6),
        "actor_label": st.text(max_size=20),
        "tag": st.from_regex(TAG_PATTERN, fullmatch=True),
        "subject_type": st.text(min_size=1, max_size=10),
        "subject_id": st.text(min_size=1, max_size=10),
        "changes": _changes.map(normalize_changes),
        "prev_hash": hexes,
    }[field]
    return dataclasses.replace(content, **{field: _different(draw, strategy, original)}), stored


@given(data=st.data(), events=st.lists(_event, min_size=1, max_size=8))
def test_any_single_field_change_is_detected_at_that_event(
    data: st.DataObject, events: list[EventContent]
) -> None:
    chain = _chain(events)
    assert check_chain(chain) == []
    index = data.draw(st.integers(0, len(chain) - 1), label="index")
    field = data.draw(st.sampled_from(_FIELDS), label="field")
    mutated, stored = _mutate(data.draw, *chain[index], field)
    chain[index] = (mutated, stored)
    problems = check_chain(chain)
    assert mutated.seq in {p.seq for p in problems}, (field, problems)
