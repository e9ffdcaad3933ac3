"""Bulk import of reports from CSV or JSON Lines (``defchain import``, the upload page).

Every row is validated with ``parse_report`` (channel ``import``) and stored with
``service.receive`` as the importing staff member; the format is documented in
``docs/formats/reports.md``.

All or nothing
    Without ``skip_bad`` a file with any bad row stores nothing: ``import_file`` returns
    ``imported=0`` and every bad row in ``rejected`` (it does not raise, so the caller
    can show them all). With ``skip_bad`` the good rows are stored and the bad ones are
    returned. The caller commits either way (there is nothing to roll back).

Duplicates
    A NICS denial whose transaction number the same agency already received (an earlier
    import, or an earlier row of this file) is refused for that row with "duplicate
    transaction number": the FBI sends one notification per transaction, so a second
    copy would start a second follow-up of the same denial.

A problem with the file as a whole (not UTF-8 JSON/CSV at all, a missing or unknown CSV
column, no rows) raises ``ImportRefused``, a ``ValidationFailed`` on field ``file``.
"""

from __future__ import annotations

import csv
import io
import json
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any, Literal, TextIO, Union, get_args, get_origin

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from defchain.access import Actor, Jurisdiction, Permission, require
from defchain.errors import DomainError, ValidationFailed
from defchain.intake import service
from defchain.intake.models import Report
from defchain.intake.rules import Channel, ReportKind
from defchain.intake.schemas import DETAILS, ReportIn, ReportInvalid, parse_report

Format = Literal["csv", "jsonl"]
FORMATS: tuple[Format, ...] = ("csv", "jsonl")
LIST_SEPARATOR = ";"
# Columns a CSV may carry besides the report's own: the rejects file adds them, so a
# corrected rejects file imports as it is.
BOOKKEEPING_COLUMNS = frozenset({"line", "reason"})


@dataclass(frozen=True)
class RejectedRow:
    """A row that was not imported: where it starts in the file, why, and its text."""

    line: int
    reason: str
    raw: str


@dataclass
class ImportResult:
    """How many rows were stored, and the rows that were not (with their reasons).

    ``columns`` is the CSV header as read (empty for JSON Lines), for writing rejects.
    """

    imported: int
    rejected: list[RejectedRow]
    columns: list[str] = field(default_factory=list)


class ImportRefused(ValidationFailed):
    """The file as a whole cannot be imported (encoding, header, no rows)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"file: {message}", field="file")


@dataclass(frozen=True)
class _Row:
    line: int
    raw: str
    data: dict[str, Any] | None
    problem: str = ""


def import_file(
    session: Session,
    *,
    actor: Actor,
    kind: ReportKind,
    fmt: Format,
    stream: TextIO | IO[bytes],
    skip_bad: bool,
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Validate every row of ``stream`` and store the reports (see the module docstring).

    ``progress``, if given, is called after each row with the number of rows handled
    so far (stored, or found bad).
    """
    require(actor, Permission.INTAKE_REPORT_IMPORT)
    text = _read_text(stream)
    columns: list[str] = []
    if fmt == "csv":
        columns, rows = _csv_rows(text, kind)
    elif fmt == "jsonl":
        rows = _jsonl_rows(text)
    else:
        raise ImportRefused(f"unknown format '{fmt}': use csv or jsonl.")
    rejected: list[RejectedRow] = []
    imported = 0
    handled = 0
    known_places: dict[int, bool] = {}
    seen = _SeenDenials(session, actor)
    outer = session.begin_nested()
    try:
        for row in rows:
            # After the first bad row of an all-or-nothing import, only validate the rest.
            dry = bool(rejected) and not skip_bad
            problem = row.problem or _store(
                session, row, actor, kind, now, known_places, seen, dry=dry
            )
            if problem:
                rejected.append(RejectedRow(row.line, _safe(problem), _safe(row.raw)))
            elif not dry:
                imported += 1
            handled += 1
            if progress is not None:
                progress(handled)
    except BaseException:
        outer.rollback()
        raise
    if handled == 0:
        outer.rollback()
        raise ImportRefused("it holds no rows to import.")
    if rejected and not skip_bad:
        outer.rollback()
        return ImportResult(imported=0, rejected=rejected, columns=columns)
    outer.commit()
    return ImportResult(imported=imported, rejected=rejected, columns=columns)


def _store(
    session: Session,
    row: _Row,
    actor: Actor,
    kind: ReportKind,
    now: datetime,
    known_places: dict[int, bool],
    seen: _SeenDenials,
    *,
    dry: bool,
) -> str:
    """Validate one row and, unless ``dry``, store it; the problem, or ``""``."""
    assert row.data is not None
    try:
        data = _validated(row.data, kind, now)
        place = data.jurisdiction_id
        if place is not None and place not in known_places:
            try:
                service.check_jurisdiction(session, place)
                known_places[place] = True
            except ValidationFailed:
                known_places[place] = False
        if place is not None and not known_places[place]:
            return f"jurisdiction_id: no jurisdiction with id {place}"
        duplicate = seen.check(data, row.line) if kind is ReportKind.NICS_DENIAL else ""
        if duplicate:
            return duplicate
        if not dry:
            with session.begin_nested():
                service.receive(session, data=data, source=service.Source(actor=actor), now=now)
    except ReportInvalid as exc:
        return "; ".join(f"{path}: {message}" for path, message in exc.errors.items())
    except DomainError as exc:
        return exc.message
    return ""


class _SeenDenials:
    """The denials' transaction numbers met so far, per receiving agency: in this file
    (with their line) and, looked up once per number, in the database."""

    def __init__(self, session: Session, actor: Actor) -> None:
        self.session = session
        self.actor = actor
        self.lines: dict[tuple[int | None, str], int] = {}

    def _agency(self, data: ReportIn) -> int | None:
        """The agency that will receive the row (as ``service.receive`` places it)."""
        if self.actor.agency_id:
            return self.actor.agency_id
        if data.jurisdiction_id is None:
            return None
        place = self.session.get(Jurisdiction, data.jurisdiction_id)
        return place.intake_agency_id if place is not None else None

    def check(self, data: ReportIn, line: int) -> str:
        """The problem with the row's transaction number ("" when it is new), and
        remember it."""
        number = str(data.details.get("transaction_number", "")).strip()
        if not number:
            return ""
        agency_id = self._agency(data)
        key = (agency_id, number.upper())
        if key in self.lines:
            return (
                "details.transaction_number: duplicate transaction number "
                f"(also on line {self.lines[key]})"
            )
        self.lines[key] = line
        if agency_id is not None and self._stored(agency_id, number):
            return "details.transaction_number: duplicate transaction number (already received)"
        return ""

    def _stored(self, agency_id: int, number: str) -> bool:
        found = self.session.scalar(
            select(Report.id)
            .where(
                Report.kind == ReportKind.NICS_DENIAL.value,
                Report.agency_id == agency_id,
                func.upper(Report.details["transaction_number"].as_string()) == number.upper(),
            )
            .limit(1)
        )
        return found is not None


def _validated(data: dict[str, Any], kind: ReportKind, now: datetime) -> ReportIn:
    given = data.get("kind")
    if given is not None and given != kind.value:
        raise ReportInvalid({"kind": f"this import takes {kind.value} reports, not {given!r}"})
    return parse_report({**data, "kind": kind.value, "channel": Channel.IMPORT.value}, now=now)


def _safe(text: str) -> str:
    """Undecodable bytes (kept as surrogates) become U+FFFD, so the text can be shown."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _read_text(stream: TextIO | IO[bytes]) -> str:
    content = stream.read()
    if isinstance(content, bytes):
        # Undecodable bytes survive as surrogates; parse_report names the field they are in.
        return content.decode("utf-8-sig", errors="surrogateescape")
    return content.removeprefix("\ufeff")


# --- JSON Lines ------------------------------------------------------------------------


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _jsonl_rows(text: str) -> Iterator[_Row]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line, parse_constant=_no_constant)
        except (ValueError, RecursionError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            yield _Row(number, line, None, f"line: not valid JSON ({reason})")
            continue
        if not isinstance(value, dict):
            yield _Row(number, line, None, "line: must be one JSON object")
            continue
        yield _Row(number, line, value)


# --- CSV -------------------------------------------------------------------------------


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The Pydantic model in ``Model`` or ``Model | None``, if any."""
    candidates = (
        get_args(annotation)
        if get_origin(annotation) in (Union, types.UnionType)
        else (annotation,)
    )
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _leaf_paths(model: type[BaseModel], prefix: str = "") -> dict[str, bool]:
    """Every dotted column a model accepts, mapped to whether it holds a list."""
    paths: dict[str, bool] = {}
    for name, info in model.model_fields.items():
        nested = _model_of(info.annotation)
        if nested is not None:
            paths.update(_leaf_paths(nested, f"{prefix}{name}."))
        else:
            paths[f"{prefix}{name}"] = get_origin(info.annotation) is list
    return paths


def csv_columns(kind: ReportKind) -> dict[str, bool]:
    """The CSV columns a file of ``kind`` may have (dotted for nested fields), each
    mapped to whether it is a ``;``-separated list."""
    paths = {
        path: is_list
        for path, is_list in _leaf_paths(ReportIn).items()
        if path != "details" and path != "channel"
    }
    paths.update(_leaf_paths(DETAILS[kind], "details."))
    paths["channel"] = False  # accepted and ignored: an import's channel is always "import"
    return paths


def _csv_rows(text: str, kind: ReportKind) -> tuple[list[str], Iterator[_Row]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next((row for row in reader if any(cell.strip() for cell in row)), None)
    except csv.Error as exc:
        raise ImportRefused(f"not readable as CSV ({exc}).") from None
    if header is None:
        raise ImportRefused("it is empty; the first line must name the columns.")
    columns = [_safe(name.strip()) for name in header]
    known = csv_columns(kind)
    unknown = [c for c in columns if c not in known and c not in BOOKKEEPING_COLUMNS]
    if unknown:
        raise ImportRefused(
            "unknown column(s) "
            + ", ".join(repr(c) for c in unknown)
            + f" for {kind.value}; see docs/formats/reports.md."
        )
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise ImportRefused("column(s) named twice: " + ", ".join(repr(c) for c in duplicated))
    return columns, _csv_records(reader, columns, known)


def _csv_records(reader: Any, columns: list[str], known: dict[str, bool]) -> Iterator[_Row]:
    start = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ImportRefused(f"line {start}: not readable as CSV ({exc}).") from None
        line, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue
        raw = _csv_text(cells)
        if len(cells) > len(columns):
            problem = f"row: {len(cells)} cells, but the header names {len(columns)} columns"
            yield _Row(line, raw, None, problem)
            continue
        yield _Row(line, raw, _nest(zip(columns, cells, strict=False), known))


def _nest(pairs: Any, known: dict[str, bool]) -> dict[str, Any]:
    """``{"details.purchaser.name": "X"}`` → ``{"details": {"purchaser": {"name": "X"}}}``;
    empty cells are left out (so defaults apply and required fields say so)."""
    data: dict[str, Any] = {}
    for column, cell in pairs:
        value = cell.strip()
        if not value or column in BOOKKEEPING_COLUMNS:
            continue
        parsed: Any = value
        if known.get(column):
            parsed = [part.strip() for part in value.split(LIST_SEPARATOR) if part.strip()]
        *parents, leaf = column.split(".")
        target = data
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = parsed
    return data


def _csv_text(cells: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(cells)
    return out.getvalue()


# --- rejects -------------------------------------------------------------------------


def write_rejects(out: TextIO, fmt: Format, result: ImportResult) -> None:
    """Write the rejected rows: CSV gets the original columns plus ``line`` and
    ``reason``; JSON Lines gets ``{"line", "reason", "raw"}`` per rejected line."""
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        columns = [c for c in result.columns if c not in BOOKKEEPING_COLUMNS]
        positions = [i for i, c in enumerate(result.columns) if c not in BOOKKEEPING_COLUMNS]
        writer.writerow(["line", "reason", *columns])
        for row in result.rejected:
            cells = next(csv.reader([row.raw]), [])
            kept = [cells[i] if i < len(cells) else "" for i in positions]
            if len(cells) > len(result.columns):  # a row too long to line up: keep it whole
                kept = cells
            writer.writerow([row.line, row.reason, *kept])
        return
    for row in result.rejected:
        out.write(json.dumps({"line": row.line, "reason": row.reason, "raw": row.raw}) + "\n")
