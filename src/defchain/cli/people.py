"""``defchain people``: load known persons, match descriptors, link reports, train the model."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from defchain.cli.common import console, err_console, fail, operator_actor, transaction
from defchain.clock import SystemClock
from defchain.people import service
from defchain.people.importer import Format, import_persons, match_rows

app = typer.Typer(help="The person registry: import, match, link, train.", no_args_is_help=True)

EXTENSIONS: dict[str, Format] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
SHOWN_PROBLEMS = 20


def _format(file: Path) -> Format:
    found = EXTENSIONS.get(file.suffix.lower())
    if found is None:
        fail(f"FILE: {file.name} must end in .csv or .jsonl (docs/formats/people.md).")
    return found


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
        console=console,
    )


FileArg = Annotated[
    Path, typer.Argument(metavar="FILE", exists=True, dir_okay=False, readable=True)
]


@app.command("import")
def import_(file: FileArg) -> None:
    """Load known persons (one per row) from a CSV or JSON Lines FILE, for example a
    records-management export (docs/formats/people.md)."""
    fmt = _format(file)
    content = file.read_bytes()
    total = max(sum(1 for line in content.splitlines() if line.strip()) - (fmt == "csv"), 0)
    now = SystemClock().now()
    with transaction() as session, _progress() as bar:
        task = bar.add_task(f"Importing {escape(file.name)}", total=total)
        result = import_persons(
            session,
            actor=operator_actor(),
            stream=io.BytesIO(content),
            fmt=fmt,
            now=now,
            progress=lambda done: bar.update(task, completed=done),
        )
    for line, problem in result.problems[:SHOWN_PROBLEMS]:
        err_console.print(f"line {line}: {problem}", markup=False, soft_wrap=True)
    if len(result.problems) > SHOWN_PROBLEMS:
        err_console.print(f"… and {len(result.problems) - SHOWN_PROBLEMS} more.", markup=False)
    console.print(
        f"Imported {result.imported} person(s) from {escape(str(file))}"
        + (f"; {len(result.problems)} problem(s) reported above." if result.problems else ".")
    )


@app.command("match")
def match(
    file: FileArg,
    out: Annotated[
        Path | None, typer.Option(help="Write the answers here.", show_default="standard output")
    ] = None,
) -> None:
    """Score each row of FILE against the registry: one JSON line per row with the best
    person id, the match probability, the decision and the weight of each field."""
    fmt = _format(file)
    now = SystemClock().now()
    with transaction() as session:
        lines = [json.dumps(answer) for answer in match_rows(
            session, stream=io.BytesIO(file.read_bytes()), fmt=fmt, now=now
        )]  # fmt: skip
    text = "\n".join(lines) + ("\n" if lines else "")
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"Wrote {len(lines)} answer(s) to {escape(str(out))}.")


@app.command("link-pending")
def link_pending(
    limit: Annotated[int, typer.Option(min=1, help="At most this many reports.")] = 10_000,
) -> None:
    """Link every report not yet linked or in review to a person (or send it to review)."""
    now = SystemClock().now()
    with transaction() as session:
        done = service.link_pending(session, who=operator_actor(), now=now, limit=limit)
    console.print(f"Processed {done} report(s).")


@app.command("relink")
def relink(
    memory_limit: Annotated[
        str, typer.Option(help="DuckDB's memory limit; past it, it spills to a temp dir.")
    ] = "4GB",
) -> None:
    """Re-score the whole registry with Splink on DuckDB and propose likely pairs for
    review (`/people/proposals`). Nothing is merged without a person's decision."""
    from defchain.people.batch import relink as run_relink

    now = SystemClock().now()
    with (
        transaction() as session,
        Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console
        ) as bar,
    ):
        tasks: dict[str, TaskID] = {}

        def step(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                label = "Exporting persons" if stage == "export" else "Scoring pairs (Splink)"
                tasks[stage] = bar.add_task(label, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        result = run_relink(
            session, who=operator_actor(), now=now, progress=step, memory_limit=memory_limit
        )
    console.print(
        f"Scored {result.persons} person(s): {result.pairs_scored} likely pair(s), "
        f"{result.proposed} new merge proposal(s) for review; {result.seconds:.1f} s, "
        f"peak memory {result.peak_rss_mb:.0f} MB."
    )


@app.command("rebuild-keys")
def rebuild_keys() -> None:
    """Recompute every person's blocking keys (after an upgrade changes the linkage rules)."""
    from sqlalchemy import select

    from defchain.people import Person

    with transaction() as session:
        ids = list(session.scalars(select(Person.id).where(Person.merged_into_id.is_(None))))
        with _progress() as bar:
            task = bar.add_task("Rebuilding blocking keys", total=len(ids))
            for done, person_id in enumerate(ids, start=1):
                service.rebuild_keys(session, person_id)
                bar.update(task, completed=done)
    console.print(f"Rebuilt the blocking keys of {len(ids)} person(s).")


@app.command("train")
def train(
    persons: Annotated[int, typer.Option(min=1000, help="Synthetic persons to train on.")] = 20000,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic data.")] = 7,
    m_from: Annotated[
        str, typer.Option(help="m probabilities from the known labels or from EM.")
    ] = "labels",
    holdout: Annotated[
        int, typer.Option(min=1000, help="Held-out base size the thresholds are chosen at.")
    ] = 100_000,
    out: Annotated[
        Path | None,
        typer.Option(help="Write the model here.", show_default="the shipped model file"),
    ] = None,
) -> None:
    """Retrain the linkage model with Splink on synthetic data and write it (the file the
    server and `people relink` use; commit it to keep the change)."""
    from defchain.people.model import MODEL_FILE, save_model
    from defchain.people.training import train_with_report

    if m_from not in ("labels", "em"):
        fail("--m-from: say labels or em.")
    with console.status("Training with Splink on DuckDB…"):
        model, report = train_with_report(persons, seed, m_from=m_from, holdout_persons=holdout)
    target = out or MODEL_FILE
    save_model(model, target)
    console.print(
        f"Trained on {report.records} synthetic records (prior {model.prior:.3g}); link at "
        f"p ≥ {model.link_threshold:.3f}, review at p ≥ {model.review_threshold:.3f}. "
        f"Held-out precision {report.holdout_precision:.4f}, recall "
        f"{report.holdout_recall:.4f}. Wrote {escape(str(target))}."
    )
