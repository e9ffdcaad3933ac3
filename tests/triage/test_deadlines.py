"""Deadlines: the shipped defaults, a jurisdiction's overrides, and needs-a-person."""

from __future__ import annotations

import re
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from defchain.triage.deadlines import (
    LINKS,
    NEEDS_PERSON,
    REQUIRED_LINKS,
    ROWS,
    TIMERS,
    Deadlines,
    DeadlinesInvalid,
    deadlines_for,
    format_duration,
    load_defaults,
    load_text,
    parse_duration,
    parse_overrides,
)

DOC = Path(__file__).parents[2] / "docs" / "triage.md"
YAML = Path(__file__).parents[2] / "src" / "defchain" / "triage" / "data" / "deadlines.yaml"
M, H, D = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)


# --- durations ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("15m", 15 * M), ("4h", 4 * H), ("7d", 7 * D), ("1d12h", 36 * H), (" 90m ", 90 * M)],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "15", "m", "4 hours", "1h1d", "-5m", "1.5h", "15s"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@given(st.integers(min_value=0, max_value=400 * 24 * 60))
def test_format_duration_is_the_inverse(minutes: int) -> None:
    value = timedelta(minutes=minutes)
    text = format_duration(value)
    assert parse_duration(text) == value
    assert re.fullmatch(r"(\d+d)?(\d+h)?(\d+m)?", text) and text


def test_format_duration_examples() -> None:
    assert [format_duration(v) for v in (15 * M, 36 * H, 7 * D, timedelta(0))] == [
        "15m",
        "1d12h",
        "7d",
        "0m",
    ]
    with pytest.raises(ValueError):
        format_duration(timedelta(seconds=30))


# --- the shipped defaults ----------------------------------------------------------------


def test_defaults_load_with_the_headline_requirements() -> None:
    table = load_defaults()
    assert tuple(table) == ROWS
    assert table["P1"].links["acknowledged"] == 15 * M
    assert table["P2"].links["assessed"] == 24 * H
    assert table["P3"].links["reviewed"] == 72 * H
    assert table["P4"].links["closed"] == 7 * D
    for link in ("acknowledged", "triaged", "routed"):
        assert table[NEEDS_PERSON].links[link] == 1 * H
    assert [table[p].handoff_ack for p in ("P1", "P2", "P3", "P4")] == [15 * M, H, 24 * H, 72 * H]
    assert [table[p].escalate_every for p in ("P1", "P2", "P3", "P4")] == [5 * M, 30 * M, 4 * H, D]


def test_defaults_are_consistent() -> None:
    table = load_defaults()
    for row, deadlines in table.items():
        assert "received" not in deadlines.links, row
        assert set(REQUIRED_LINKS) <= set(deadlines.links), row
        ordered = [deadlines.links[name] for name in LINKS if name in deadlines.links]
        assert ordered == sorted(ordered), row
    # A higher priority is never due later than a lower one for a link both have.
    for higher, lower in pairwise(ROWS[:4]):
        for link, due in table[higher].links.items():
            if link in table[lower].links:
                assert due <= table[lower].links[link], (higher, lower, link)
        assert table[higher].handoff_ack <= table[lower].handoff_ack
        assert table[higher].escalate_every <= table[lower].escalate_every


def test_defaults_cannot_be_changed_through_the_result() -> None:
    table = load_defaults()
    with pytest.raises(TypeError):
        table["P1"].links["acknowledged"] = 2 * H  # type: ignore[index]
    table.pop("P1")
    assert "P1" in load_defaults()


GOOD: dict[str, Any] = yaml.safe_load(YAML.read_text(encoding="utf-8"))


def _bad(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(YAML.read_text(encoding="utf-8"))
    node = raw
    for key in path[:-1]:
        node = node[key]
    if value is DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return raw


DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("P3",), DELETE, "P3: is missing"),
        (("P5",), GOOD["P4"], "P5: not a priority"),
        (("P2", "links", "assessed"), "soon", "P2.links.assessed: 'soon' is not a duration"),
        (("P2", "links", "assessed"), 24, "P2.links.assessed: must be a duration"),
        (("P1", "links", "routed"), "0m", "P1.links.routed: must be longer than zero"),
        (("P1", "links", "received"), "1m", "P1.links.received: received starts the clock"),
        (("P1", "links", "asessed"), "1h", "P1.links.asessed: not a link of the chain"),
        (("P4", "links", "triaged"), DELETE, "P4.links.triaged: is missing"),
        (("P2", "links", "acknowledged"), "2d", "P2.links.triaged: due before acknowledged"),
        (("needs_person", "handoff_ack"), DELETE, "needs_person.handoff_ack: is missing"),
        (("P1", "escalate_every"), "-5m", "P1.escalate_every: '-5m' is not a duration"),
        (("P1", "colour"), "red", "P1.colour: not a known field"),
        (("P2", "links"), ["routed"], "P2.links: must be a mapping"),
    ],
)
def test_a_bad_file_names_the_key(path: tuple[str, ...], value: Any, message: str) -> None:
    with pytest.raises(DeadlinesInvalid) as caught:
        load_text(yaml.safe_dump(_bad(path, value)))
    assert str(caught.value).startswith(message)


def test_a_file_that_is_not_a_table() -> None:
    with pytest.raises(DeadlinesInvalid, match=r"^deadlines: "):
        load_text("- P1\n- P2\n")
    with pytest.raises(DeadlinesInvalid, match=r"^deadlines: not valid YAML"):
        load_text("P1: [unclosed\n")


# --- overrides ---------------------------------------------------------------------------


def test_parse_overrides() -> None:
    got = parse_overrides(
        {"P2": {"assessed": "12h", "handoff_ack": "30m"}, "needs_person": {"triaged": "45m"}}
    )
    assert got == {
        "P2": {"assessed": 12 * H, "handoff_ack": 30 * M},
        "needs_person": {"triaged": 45 * M},
    }


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"P5": {"assessed": "1h"}}, "P5: not a priority"),
        ({"P2": {"assesed": "12h"}}, "P2.assesed: not a link of the chain"),
        ({"P2": {"assessed": "twelve hours"}}, "P2.assessed: 'twelve hours' is not a duration"),
        ({"P2": {"assessed": "0h"}}, "P2.assessed: must be longer than zero"),
        ({"P2": {"assessed": timedelta(hours=-1)}}, "P2.assessed: must be longer than zero"),
        ({"P2": {"assessed": 12}}, "P2.assessed: must be a duration"),
        ({"P2": {"received": "1h"}}, "P2.received: received starts the clock"),
        ({"P2": "12h"}, "P2: must be a mapping"),
    ],
)
def test_parse_overrides_names_the_field(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_overrides(raw)
    assert str(caught.value).startswith(message)


def test_overrides_replace_single_defaults() -> None:
    overrides = parse_overrides({"P2": {"assessed": "12h", "escalate_every": "15m"}})
    got = deadlines_for("P2", needs_person=False, overrides=overrides)
    defaults = load_defaults()["P2"]
    assert got.links["assessed"] == 12 * H
    assert got.escalate_every == 15 * M
    assert got.handoff_ack == defaults.handoff_ack
    assert {k: v for k, v in got.links.items() if k != "assessed"} == {
        k: v for k, v in defaults.links.items() if k != "assessed"
    }
    assert deadlines_for("P3", needs_person=False, overrides=overrides) == load_defaults()["P3"]


# --- needs a person ----------------------------------------------------------------------


@pytest.mark.parametrize("priority", ["P1", "P2", "P3", "P4"])
def test_needs_person_takes_the_shorter_deadline(priority: str) -> None:
    table = load_defaults()
    own, person = table[priority], table[NEEDS_PERSON]
    got = deadlines_for(priority, needs_person=True)
    assert set(got.links) == set(own.links) | set(person.links)
    for link, due in got.links.items():
        candidates = [d.links[link] for d in (own, person) if link in d.links]
        assert due == min(candidates), link
    assert got.handoff_ack == min(own.handoff_ack, person.handoff_ack)
    assert got.escalate_every == min(own.escalate_every, person.escalate_every)
    assert deadlines_for(priority, needs_person=False) == own


def test_needs_person_examples() -> None:
    p4 = deadlines_for("P4", needs_person=True)
    assert (p4.links["acknowledged"], p4.links["closed"]) == (H, 7 * D)  # 1h beats 72h
    p1 = deadlines_for("P1", needs_person=True)
    assert p1.links["acknowledged"] == 15 * M  # P1's own 15m beats 1h


def test_no_priority_uses_the_needs_person_row() -> None:
    assert deadlines_for(None, needs_person=True) == load_defaults()[NEEDS_PERSON]
    assert deadlines_for(None, needs_person=False) == load_defaults()[NEEDS_PERSON]


def test_needs_person_overrides_apply_too() -> None:
    overrides = parse_overrides({"needs_person": {"acknowledged": "10m"}})
    assert deadlines_for("P1", needs_person=True, overrides=overrides).links["acknowledged"] == (
        10 * M
    )
    assert deadlines_for("P1", needs_person=False, overrides=overrides).links["acknowledged"] == (
        15 * M
    )


def test_custom_defaults() -> None:
    one = Deadlines(
        links={"routed": H, "acknowledged": H, "triaged": H}, handoff_ack=H, escalate_every=H
    )
    table = {row: one for row in ROWS}
    assert deadlines_for("P2", needs_person=True, defaults=table) == one
    with pytest.raises(KeyError):
        deadlines_for("P9", needs_person=False)


# --- the document ------------------------------------------------------------------------


def _doc_table() -> dict[str, dict[str, str]]:
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| deadline | P1 |"))
    header = [c.strip() for c in lines[start].strip("|").split("|")]
    table: dict[str, dict[str, str]] = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip().strip("`") for c in line.strip("|").split("|")]
        table[cells[0]] = dict(zip(header[1:], cells[1:], strict=True))
    return table


def test_the_document_shows_the_default_table() -> None:
    doc = _doc_table()
    assert list(doc) == [*LINKS[1:], *TIMERS]
    defaults = load_defaults()
    for name, row in doc.items():
        assert set(row) == set(ROWS), name
        for priority, cell in row.items():
            deadlines = defaults[priority]
            expected = getattr(deadlines, name) if name in TIMERS else deadlines.links.get(name)
            got = None if cell == "—" else parse_duration(cell)
            assert got == expected, (name, priority, cell)
