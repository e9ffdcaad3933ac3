"""Importing NICS denials with bad input: an unknown reason code, a malformed date and a
duplicate transaction number (within the file, or already received) are each reported
by line and reason, and a denial is never imported twice."""

from __future__ import annotations

import dataclasses
import io

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from defchain.access import Actor
from defchain.clock import FrozenClock
from defchain.intake import Report, ReportKind
from defchain.intake.importer import ImportResult, import_file
from tests.conftest import Cast

HEADER = (
    "details.denied_at,details.transaction_number,details.denial_category,"
    "details.purchaser.name,details.dealer.name"
)
DUPLICATE = "details.transaction_number: duplicate transaction number"


def row(
    number: str, category: str = "felony_conviction", when: str = "2026-01-04T10:00:00Z"
) -> str:
    return f"{when},{number},{category},Pat Example,Example Guns"


def denials(db: Session) -> int:
    query = select(func.count()).select_from(Report).where(Report.kind == "nics_denial")
    return int(db.scalar(query) or 0)


def run(
    db: Session, actor: Actor, clock: FrozenClock, rows: list[str], *, skip_bad: bool = True
) -> ImportResult:
    text = "\n".join([HEADER, *rows]) + "\n"
    return import_file(
        db, actor=actor, kind=ReportKind.NICS_DENIAL, fmt="csv", stream=io.StringIO(text),
        skip_bad=skip_bad, now=clock.now(),
    )  # fmt: skip


def test_bad_rows_are_reported_by_line_and_reason(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    result = run(db, cast.actor("analyst_a"), clock, [
        row("NTN-1"),  # line 2
        row("NTN-2", category="made_up_code"),  # line 3
        row("NTN-3", when="2026-13-45T10:00:00Z"),  # line 4
        row("NTN-1"),  # line 5: the same denial again
        row("ntn-1"),  # line 6: numbers are compared without case
    ])  # fmt: skip
    assert result.imported == 1 and denials(db) == 1
    reasons = {r.line: r.reason for r in result.rejected}
    assert set(reasons) == {3, 4, 5, 6}
    assert reasons[3].startswith("details.denial_category:")
    assert reasons[4].startswith("details.denied_at:")
    assert reasons[5] == f"{DUPLICATE} (also on line 2)"
    assert reasons[6] == f"{DUPLICATE} (also on line 2)"


def test_a_denial_already_received_is_never_imported_again(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    analyst = cast.actor("analyst_a")
    assert run(db, analyst, clock, [row("NTN-7")]).imported == 1
    again = run(db, analyst, clock, [row("NTN-8"), row("NTN-7")])
    assert again.imported == 1 and denials(db) == 2
    assert [(r.line, r.reason) for r in again.rejected] == [(3, f"{DUPLICATE} (already received)")]


def test_all_or_nothing_stores_nothing_when_a_row_is_a_duplicate(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    result = run(db, cast.actor("analyst_a"), clock, [row("NTN-9"), row("NTN-9")], skip_bad=False)
    assert result.imported == 0 and denials(db) == 0
    assert [(r.line, r.reason) for r in result.rejected] == [(3, f"{DUPLICATE} (also on line 2)")]


def test_another_agency_may_receive_the_same_transaction_number(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    analyst = cast.actor("analyst_a")
    assert run(db, analyst, clock, [row("NTN-11")]).imported == 1
    elsewhere = dataclasses.replace(analyst, agency_id=cast.agency_b.id)
    result = run(db, elsewhere, clock, [row("NTN-11")])
    assert (result.imported, result.rejected) == (1, [])
    assert denials(db) == 2
