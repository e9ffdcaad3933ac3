"""The bulk importer behind ``defchain import`` and the upload page."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from defchain.access import Actor
from defchain.errors import PermissionDenied
from defchain.intake import Report, ReportKind
from defchain.intake.importer import (
    ImportRefused,
    ImportResult,
    csv_columns,
    import_file,
    write_rejects,
)

DOC = Path(__file__).parents[2] / "docs" / "formats" / "reports.md"
HEADER = (
    "details.denied_at,details.transaction_number,details.denial_category,"
    "details.purchaser.name,details.dealer.name,narrative"
)
GOOD = "2026-01-04T10:00:00Z,NTN-1,felony_conviction,Pat Example,Example Guns,"


def reports(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(Report)) or 0)


def run(db: Session, actor: Actor, clock: Any, text: str | bytes, **kwargs: Any) -> ImportResult:
    stream: Any = io.BytesIO(text) if isinstance(text, bytes) else io.StringIO(text)
    options: dict[str, Any] = {"kind": ReportKind.NICS_DENIAL, "fmt": "csv", "skip_bad": False}
    options.update(kwargs)
    return import_file(db, actor=actor, stream=stream, now=clock.now(), **options)


@pytest.fixture
def analyst(cast: Any) -> Actor:
    actor: Actor = cast.actor("analyst_a")
    return actor


def test_rows_are_numbered_by_the_line_they_start_on(
    db: Session, analyst: Actor, clock: Any
) -> None:
    text = (
        f"\n{HEADER}\n"  # a blank first line: the header is line 2
        f'{GOOD}"a narrative\nover two lines"\n'  # lines 3-4
        "\n"  # line 5, blank
        "2026-01-04T10:00:00Z,bad number!,felony_conviction,Pat,Example Guns,\n"  # line 6
    )
    seen: list[int] = []
    result = run(db, analyst, clock, text, progress=seen.append)
    assert [(r.line, r.reason) for r in result.rejected] == [
        (6, "details.transaction_number: String should match pattern '^[A-Za-z0-9-]{4,40}$'")
    ]
    assert result.imported == 0 and reports(db) == 0  # all or nothing
    assert seen == [1, 2]


def test_skip_bad_keeps_the_good_rows(db: Session, analyst: Actor, clock: Any) -> None:
    again = GOOD.replace("NTN-1", "NTN-3")  # the same purchaser, another transaction
    text = f"{HEADER}\n{GOOD}\n2099-01-01T00:00:00Z,NTN-2,felony_conviction,Sam,Guns,\n{again}\n"
    result = run(db, analyst, clock, text, skip_bad=True)
    assert result.imported == 2 and reports(db) == 2
    assert [(r.line, r.reason) for r in result.rejected] == [
        (3, "details.denied_at: must not be in the future")
    ]
    out = io.StringIO()
    write_rejects(out, "csv", result)
    assert out.getvalue().splitlines() == [
        f"line,reason,{HEADER}",
        "3,details.denied_at: must not be in the future,"
        "2099-01-01T00:00:00Z,NTN-2,felony_conviction,Sam,Guns,",
    ]


def test_bytes_that_are_not_utf8_make_their_row_bad(
    db: Session, analyst: Actor, clock: Any
) -> None:
    text = f"\ufeff{HEADER}\n{GOOD}caf\xe9\n".encode()  # a BOM, and é in UTF-8: fine
    assert run(db, analyst, clock, text).imported == 1
    latin1 = f"{HEADER}\n{GOOD}caf".encode() + b"\xe9\n"
    result = run(db, analyst, clock, latin1, skip_bad=True)
    assert [(r.line, r.reason) for r in result.rejected] == [
        (2, "narrative: is not valid UTF-8 text")
    ]
    assert "\ufffd" in result.rejected[0].raw  # printable, with the bad byte replaced


def test_the_kind_column_must_match(db: Session, analyst: Actor, clock: Any) -> None:
    text = f"kind,{HEADER}\ntip,{GOOD}\n"
    result = run(db, analyst, clock, text)
    assert result.rejected[0].reason.startswith("kind: this import takes nics_denial reports")


def test_jsonl_rows(db: Session, analyst: Actor, clock: Any) -> None:
    text = (
        '{"narrative": "He said he would shoot them all"}\n'
        "\n"
        '{"narrative": "x", "jurisdiction_id": 999999}\n'
        "[1, 2]\n"
        '{"narrative": NaN}\n'
    )
    result = run(db, analyst, clock, text, kind=ReportKind.TIP, fmt="jsonl", skip_bad=True)
    assert result.imported == 1
    assert [(r.line, r.reason) for r in result.rejected] == [
        (3, "jurisdiction_id: no jurisdiction with id 999999"),
        (4, "line: must be one JSON object"),
        (5, "line: not valid JSON (NaN is not a JSON number)"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        (f"{HEADER}\n", "no rows"),
        (f"{HEADER},colour\n{GOOD},red\n", "'colour'"),
        (f"{HEADER},narrative\n{GOOD},x\n", "named twice"),
    ],
)
def test_a_file_that_cannot_be_imported_is_refused(
    db: Session, analyst: Actor, clock: Any, text: str, message: str
) -> None:
    with pytest.raises(ImportRefused) as info:
        run(db, analyst, clock, text)
    assert info.value.field == "file" and message in info.value.message
    assert reports(db) == 0


def test_only_those_who_may_import_can(db: Session, cast: Any, clock: Any) -> None:
    with pytest.raises(PermissionDenied):
        run(db, cast.actor("lead_a"), clock, f"{HEADER}\n{GOOD}\n")


def test_an_operator_without_an_agency_needs_a_jurisdiction_that_takes_reports(
    db: Session, cast: Any, clock: Any
) -> None:
    operator = Actor.system("cli:test")
    result = run(db, operator, clock, f"{HEADER}\n{GOOD}\n")
    assert result.rejected[0].reason.startswith("jurisdiction_id:")
    placed = dataclasses.replace(operator, agency_id=cast.agency_b.id)
    assert run(db, placed, clock, f"{HEADER}\n{GOOD}\n").imported == 1
    stored = db.scalars(select(Report)).one()
    assert (stored.agency_id, stored.created_by_user_id) == (cast.agency_b.id, None)


def _documented_columns() -> tuple[set[str], dict[str, set[str]]]:
    common: set[str] = set()
    per_kind: dict[str, set[str]] = {}
    target = common
    for line in DOC.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^### `(\w+)`", line)
        if heading:
            target = per_kind.setdefault(heading.group(1), set())
        cell = re.match(r"^\| `([\w.]+)` \|", line)
        if cell:
            target.add(cell.group(1))
    return common, per_kind


def test_the_format_document_lists_exactly_the_accepted_columns() -> None:
    common, per_kind = _documented_columns()
    assert set(per_kind) == {kind.value for kind in ReportKind}
    for kind in ReportKind:
        assert common | per_kind[kind.value] == set(csv_columns(kind)), kind


# --- random files ----------------------------------------------------------------------

CELLS = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        [
            "",
            "2026-01-04T10:00:00Z",
            "2099-01-01T00:00:00Z",
            "NTN-42",
            "felony_conviction",
            "Pat Example",
            'a "quoted", comma',
            "two\nlines",
            "a;b;;c",
            "\x00",
            "yes",
        ]
    ),
)
COLUMNS = [*HEADER.split(","), "details.agencies_notified", "subject.approximate_age", "labels"]


GOOD_CELLS = [*GOOD.split(","), "ATF;State Police", "17", "cji"]


@st.composite
def csv_rows(draw: st.DrawFn) -> list[str]:
    """A good row with up to two cells changed, or a row of random cells."""
    if draw(st.booleans()):
        return draw(st.lists(CELLS, min_size=len(COLUMNS), max_size=len(COLUMNS)))
    row = list(GOOD_CELLS)
    for _ in range(draw(st.integers(min_value=0, max_value=2))):
        row[draw(st.integers(min_value=0, max_value=len(row) - 1))] = draw(CELLS)
    return row


@hypothesis_settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(csv_rows(), min_size=1, max_size=5),
    skip_bad=st.booleans(),
)
def test_any_csv_imports_whole_rows_or_reports_them(
    db: Session, analyst: Actor, clock: Any, rows: list[list[str]], skip_bad: bool
) -> None:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    before = reports(db)
    blank = sum(1 for row in rows if not any(cell.strip() for cell in row))
    if blank == len(rows):
        with pytest.raises(ImportRefused):
            run(db, analyst, clock, out.getvalue().encode(), skip_bad=skip_bad)
        return
    result = run(db, analyst, clock, out.getvalue().encode(), skip_bad=skip_bad)
    assert all(r.reason for r in result.rejected)
    if result.rejected and not skip_bad:  # all or nothing: the good rows were not stored
        assert result.imported == 0
    else:
        assert result.imported + len(result.rejected) == len(rows) - blank
    assert reports(db) == before + result.imported
    event(f"imported {result.imported}, rejected {len(result.rejected)}")
