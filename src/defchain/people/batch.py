"""``people relink``: re-score the whole registry with Splink on DuckDB and propose merges.

The registry is exported one row per active person (``training.splink_row``: a column per
field, the first value of each; the online matcher compares every value, the batch the
first), Splink scores every pair its blocking rules produce with the **shipped model's
parameters** (the m and u of ``linkage_model.json`` set on each level of
``training.comparison_sql``, so batch and online use one model), and each pair at or
above the **link** threshold (what online linking would have joined by itself) becomes a
``MergeProposal`` for a person to decide; weaker pairs would flood the queue (at the review
threshold, a synthetic registry of 1,000,000 gave 1.26 proposals per person). Nothing is
merged here.
"""

from __future__ import annotations

import logging
import math
import resource
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from defchain import audit
from defchain.people import service, training
from defchain.people.identifiers import profile_of
from defchain.people.model import nicknames
from defchain.people.models import Identifier, Person
from defchain.people.rules import NULL, LinkageModel

EXPORT_CHUNK = 20_000


@dataclass(frozen=True)
class RelinkResult:
    persons: int
    pairs_scored: int
    proposed: int
    seconds: float
    peak_rss_mb: float


def export_rows(
    session: Session, *, progress: Callable[[int], None] | None = None
) -> list[dict[str, Any]]:
    """One Splink row per active person, read in chunks of ``EXPORT_CHUNK`` persons."""
    rows: list[dict[str, Any]] = []
    last = 0
    table = nicknames()
    while True:
        ids = list(
            session.scalars(
                select(Person.id)
                .where(Person.id > last, Person.merged_into_id.is_(None))
                .order_by(Person.id)
                .limit(EXPORT_CHUNK)
            )
        )
        if not ids:
            return rows
        found: dict[int, list[tuple[str, str, dict[str, Any]]]] = defaultdict(list)
        query = select(
            Identifier.person_id, Identifier.kind, Identifier.normalized, Identifier.detail
        ).where(Identifier.person_id.between(ids[0], ids[-1]))
        for person_id, kind, normalized, detail in session.execute(query):
            found[person_id].append((kind, normalized, detail))
        for person_id in ids:
            profile = profile_of(found[person_id])
            rows.append(training.splink_row(str(person_id), person_id, profile, table))
        last = ids[-1]
        if progress is not None:
            progress(len(rows))


def blocking_rules() -> list[Any]:
    """Pairs to score: a surname alone would pair every two Smiths of a statewide registry
    (tens of millions of pairs at 1,000,000 persons), so it goes with a given name or a
    birth year; strong identifiers and a full date of birth stand alone."""
    from splink import block_on

    return [
        block_on("surname", "given"),
        block_on("surname_sx", "dob_year"),
        block_on("given", "dob"),
        block_on("surname", "dob"),
        block_on("handle_bare"),
        block_on("phone"),
        block_on("email"),
        block_on("id_number"),
    ]


def settings_for(model: LinkageModel) -> dict[str, Any]:
    """Splink settings with every level's m and u taken from ``model``."""
    settings = training.splink_settings(model.prior)
    settings["blocking_rules_to_generate_predictions"] = blocking_rules()
    for comparison in settings["comparisons"]:
        name = comparison["output_column_name"]
        for level in comparison["comparison_levels"]:
            label = level["label_for_charts"]
            if level.get("is_null_level") or label == NULL:
                continue
            level["m_probability"] = model.m.get(name, {}).get(label, 1e-6) or 1e-6
            level["u_probability"] = model.u.get(name, {}).get(label, 1e-6) or 1e-6
    return settings


DEFAULT_MEMORY_LIMIT = "4GB"


def score_pairs(
    rows: list[dict[str, Any]], model: LinkageModel, *, memory_limit: str = DEFAULT_MEMORY_LIMIT
) -> list[service.Pair]:
    """Every pair Splink finds at or above the model's link threshold."""
    import duckdb
    import pandas as pd
    from splink import DuckDBAPI, Linker

    if len(rows) < 2:
        return []
    # DuckDB spills to disk past its memory limit; by default into ./.tmp of the current
    # directory and with 80% of the machine's memory. Both are set here.
    spill = tempfile.TemporaryDirectory(prefix="defchain-relink-")
    connection = duckdb.connect(config={"temp_directory": spill.name, "memory_limit": memory_limit})
    try:
        db_api = DuckDBAPI(connection=connection)
        frame = pd.DataFrame(rows)
        linker = Linker(
            db_api.register(frame, table_name="registry"),
            settings_for(model),
            log_level=logging.WARNING,
        )
        result = linker.inference.predict(threshold_match_probability=model.link_threshold)
        predictions = result.as_pandas_dataframe()  # type: ignore[no-untyped-call]
    finally:
        connection.close()
        spill.cleanup()
    pairs = []
    for record in predictions.itertuples(index=False):
        data = record._asdict()
        weights = {
            key.removeprefix("bf_"): round(math.log2(value), 3)
            for key, value in data.items()
            if key.startswith("bf_") and isinstance(value, int | float) and value > 0
        }
        pairs.append(
            service.Pair(
                int(data["person_id_l"]),
                int(data["person_id_r"]),
                float(data["match_probability"]),
                weights,
            )
        )
    return pairs


def relink(
    session: Session,
    *,
    who: audit.Recorded,
    now: datetime,
    model: LinkageModel | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
) -> RelinkResult:
    """Re-score the registry and propose every likely pair for review (never merges)."""
    model = model or service.current_model()
    started = time.perf_counter()
    total = session.query(Person).filter(Person.merged_into_id.is_(None)).count()
    rows = export_rows(
        session, progress=(lambda done: progress("export", done, total)) if progress else None
    )
    if progress is not None:
        progress("score", 0, 1)
    pairs = score_pairs(rows, model, memory_limit=memory_limit)
    if progress is not None:
        progress("score", 1, 1)
    proposed = service.propose_merges(session, pairs=pairs, who=who, now=now)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return RelinkResult(len(rows), len(pairs), proposed, time.perf_counter() - started, peak)
