"""Bulk load of known persons, and batch matching of descriptors against the registry.

Both read CSV (a header row) or JSON Lines with the columns of docs/formats/people.md:
``source_id`` (the record's id in the system it came from) and any of ``name``,
``nickname``, ``date_of_birth``, ``approximate_age``, ``address``, ``phone``,
``email``, ``handle``, ``school``, ``employer``. ``;`` separates several values in
one CSV cell; a JSON field may be a list.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.orm import Session

from defchain.access import Actor, Permission, require
from defchain.people import service
from defchain.people.identifiers import Kind, Normalized, normalize, profile_of_normalized
from defchain.people.rules import Decision

Format = Literal["csv", "jsonl"]
COLUMNS = ("source_id", *(kind.value for kind in Kind))


@dataclass
class Row:
    line: int
    source_id: str
    items: list[Normalized] = field(default_factory=list)
    problem: str | None = None  # the row cannot be read at all

    @property
    def invalid(self) -> list[str]:
        return [f"{i.kind}: {i.invalid} ({i.value!r})" for i in self.items if i.invalid]


def read_rows(stream: io.BufferedIOBase | io.BytesIO, fmt: Format, *, year: int) -> Iterator[Row]:
    """Each row of the file with its identifiers normalized (invalid ones flagged)."""
    text = stream.read().decode("utf-8-sig")
    if fmt == "jsonl":
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield Row(number, "", problem=f"not valid JSON: {exc.msg}")
                continue
            if not isinstance(record, dict):
                yield Row(number, "", problem="each line must be a JSON object")
                continue
            yield _row(number, record, year)
        return
    reader = csv.DictReader(io.StringIO(text, newline=""))
    unknown = [c for c in reader.fieldnames or [] if c not in COLUMNS]
    if unknown:
        yield Row(1, "", problem=f"unknown column(s): {', '.join(unknown)}")
        return
    for record in reader:
        values = {k: (v.split(";") if v and ";" in v else v) for k, v in record.items() if v}
        yield _row(reader.line_num, values, year)


def _row(number: int, record: dict[str, Any], year: int) -> Row:
    unknown = [k for k in record if k not in COLUMNS]
    if unknown:
        return Row(number, "", problem=f"unknown field(s): {', '.join(sorted(unknown))}")
    source_id = str(record.get("source_id") or f"line-{number}")[:100]
    items: list[Normalized] = []
    for kind in Kind:
        value = record.get(kind.value)
        values = value if isinstance(value, list) else [value]
        for one in values:
            if one is None or str(one).strip() == "":
                continue
            items.append(normalize(kind, str(one), year=year))
    row = Row(number, source_id, items)
    if not items:
        row.problem = "no identifiers in this row"
    return row


@dataclass
class ImportResult:
    imported: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)  # (line, what)


def import_persons(
    session: Session,
    *,
    actor: Actor,
    stream: io.BufferedIOBase | io.BytesIO,
    fmt: Format,
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Create one person per row. A row that cannot be read is reported and skipped; an
    invalid value is reported and kept, flagged, on its person (never dropped)."""
    require(actor, Permission.PEOPLE_PERSON_IMPORT)
    result = ImportResult()
    for count, row in enumerate(read_rows(stream, fmt, year=now.year), start=1):
        if row.problem:
            result.problems.append((row.line, row.problem))
        else:
            service.create_person(
                session,
                who=actor,
                items=row.items,
                source_type="import",
                source_id=row.source_id,
                now=now,
            )
            result.imported += 1
            result.problems.extend((row.line, problem) for problem in row.invalid)
        if progress is not None:
            progress(count)
    return result


def match_rows(
    session: Session, *, stream: io.BufferedIOBase | io.BytesIO, fmt: Format, now: datetime
) -> Iterator[dict[str, Any]]:
    """One answer per input row: the best person, its match probability, the decision
    and the weight of each field."""
    model = service.current_model()
    for row in read_rows(stream, fmt, year=now.year):
        answer: dict[str, Any] = {"line": row.line, "source_id": row.source_id}
        if row.problem:
            yield {**answer, "error": row.problem}
            continue
        profile = profile_of_normalized(row.items)
        found = service.candidates(session, profile, model=model)
        if not found:
            yield {
                **answer,
                "person_id": None,
                "probability": 0.0,
                "decision": Decision.NEW.value,
                "invalid": row.invalid,
            }
            continue
        best = found[0]
        yield {
            **answer,
            "person_id": best.person_id,
            "probability": round(best.score.probability, 6),
            "decision": best.score.decision(model).value,
            "weights": {str(k): round(v, 3) for k, v in best.score.weights.items()},
            "invalid": row.invalid,
        }
