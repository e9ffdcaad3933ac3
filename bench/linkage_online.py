"""Online linking latency and batch relink against a registry in the database (benchmark).

For each backend (SQLite in a temporary directory; PostgreSQL on a database
``defchain_bench_people`` that it creates and drops) and each base size it:

1. migrates, then bulk-loads a synthetic registry (``bench/people_synth.py``: fictitious
   persons, one record each) as the product stores it: ``persons``, ``person_identifiers``
   and ``person_blocking_keys`` (``rules.blocking_keys``);
2. matches tip-shaped queries one at a time with ``people.service.candidates`` (blocking-key
   lookup in the database, the persons' identifiers loaded, scored with the shipped model)
   and prints the median and p95 latency over at least 500 queries, the mean number of
   candidates scored, and the peak memory (max RSS) of this process, which plays the server;
3. with ``--relink``, times ``people relink`` (Splink on DuckDB) over the whole registry and
   prints its time and peak memory.

    .venv/bin/python bench/linkage_online.py                         # 100k, both backends
    .venv/bin/python bench/linkage_online.py --persons 100000,1000000 --backends sqlite
    .venv/bin/python bench/linkage_online.py --persons 100000 --relink
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import people_synth  # noqa: E402

from defchain.db import make_engine, make_session_factory  # noqa: E402
from defchain.migrate import upgrade  # noqa: E402
from defchain.people import BlockingKey, Identifier, Person, service, training  # noqa: E402
from defchain.people.model import default_model, nicknames  # noqa: E402
from defchain.people.rules import Field, Profile, blocking_keys  # noqa: E402

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PG_DB = "defchain_bench_people"
CHUNK = 50_000


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def identifier_rows(person_id: int, profile: Profile, now: datetime) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(kind: str, normalized: str, detail: dict[str, Any] | None = None) -> None:
        rows.append(
            {
                "person_id": person_id,
                "kind": kind,
                "value": normalized,
                "normalized": normalized,
                "detail": detail or {},
                "source_type": "import",
                "source_id": f"synthetic-{person_id}",
                "labels": [],
                "created_at": now,
            }
        )

    given = sorted(profile.get(Field.GIVEN))
    surname = sorted(profile.get(Field.SURNAME))
    if given or surname:
        g, s = (given or [""])[0], (surname or [""])[0]
        add("name", f"{g} {s}".strip(), {"given": g, "middle": "", "surname": s})
    for kind, field in (
        ("date_of_birth", Field.DOB),
        ("approximate_age", Field.AGE),
        ("school", Field.ORG),
        ("handle", Field.HANDLE),
        ("phone", Field.PHONE),
        ("email", Field.EMAIL),
        ("address", Field.ADDRESS),
    ):
        for value in sorted(profile.get(field)):
            add(kind, value)
    return rows


def load(engine: Engine, bench: people_synth.SynthBench) -> dict[str, float]:
    """Bulk-load the base as persons, identifiers and blocking keys; returns timings."""
    now = datetime.now(UTC)
    table = nicknames()
    started = time.perf_counter()
    persons: list[dict[str, Any]] = []
    identifiers: list[dict[str, Any]] = []
    keys: list[dict[str, Any]] = []
    counts = {"persons": 0, "identifiers": 0, "keys": 0}

    def flush() -> None:
        with engine.begin() as connection:
            if persons:
                connection.execute(insert(Person), persons)
            if identifiers:
                connection.execute(insert(Identifier), identifiers)
            if keys:
                connection.execute(insert(BlockingKey), keys)
        counts["persons"] += len(persons)
        counts["identifiers"] += len(identifiers)
        counts["keys"] += len(keys)
        persons.clear()
        identifiers.clear()
        keys.clear()

    for index, record in enumerate(bench.base, start=1):
        profile = training.profile(record)
        persons.append({"id": index, "display_name": f"Synthetic #{index}", "created_at": now})
        identifiers.extend(identifier_rows(index, profile, now))
        keys.extend({"key": key, "person_id": index} for key in blocking_keys(profile, table))
        if len(persons) >= CHUNK:
            flush()
    flush()
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.exec_driver_sql(
                "SELECT setval('persons_id_seq', (SELECT max(id) FROM persons))"
            )
    with engine.connect() as connection:
        largest = connection.execute(
            text(
                "SELECT max(n) FROM (SELECT count(*) AS n FROM person_blocking_keys "
                "GROUP BY key) AS blocks"
            )
        ).scalar_one()
    return {
        "load_s": time.perf_counter() - started,
        "largest_block": float(largest or 0),
        **{k: float(v) for k, v in counts.items()},
    }


def match_latency(engine: Engine, bench: people_synth.SynthBench, queries: int) -> dict[str, float]:
    model = default_model()
    factory = make_session_factory(engine)
    chosen = bench.queries[:queries]
    row_of = {record.person_id: index for index, record in enumerate(bench.base, start=1)}
    times: list[float] = []
    candidates = 0
    hits = 0
    with factory() as session:
        for warm in chosen[:20]:  # warm caches and prepared statements
            service.candidates(session, training.profile(warm), model=model)
            session.rollback()
        for q in chosen:
            profile = training.profile(q)
            t0 = time.perf_counter()
            found = service.candidates(session, profile, model=model)
            times.append(time.perf_counter() - t0)
            session.rollback()  # each query its own short read transaction
            candidates += len(found)
            if q.person_id is not None and found and found[0].person_id == row_of.get(q.person_id):
                hits += 1
    times.sort()
    return {
        "queries": float(len(times)),
        "median_ms": statistics.median(times) * 1000,
        "p95_ms": times[int(0.95 * (len(times) - 1))] * 1000,
        "mean_candidates": candidates / len(times),
        "top1_right": float(hits),  # the right person ranked first (queries in the base)
    }


def relink_time(url: str) -> dict[str, float]:
    """``defchain people relink`` as an operator runs it, in its own process: its wall
    time and its own peak memory (the registry is read from the database)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEFCHAIN_")}
    env.update(DEFCHAIN_DATABASE_URL=url, DEFCHAIN_DEMO="1", COLUMNS="200")
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own command, fixed arguments
        [str(Path(sys.executable).parent / "defchain"), "people", "relink"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        print(f"    relink failed ({done.returncode}): {done.stderr[-500:]}", flush=True)
        return {"relink_s": float("nan"), "relink_peak_mb": float("nan")}
    print(f"    relink: {done.stdout.strip().splitlines()[-1]}", flush=True)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"relink_s": seconds, "relink_peak_mb": children}


@contextlib.contextmanager
def backend(name: str) -> Iterator[str]:
    if name == "sqlite":
        with tempfile.TemporaryDirectory(prefix="defchain-people-", dir="/tmp") as tmp:
            yield f"sqlite:///{tmp}/people.db"
        return
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {PG_DB}")
            connection.exec_driver_sql(f"CREATE DATABASE {PG_DB}")
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{PG_DB}"
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--persons", default="100000", help="comma-separated base sizes")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--queries", type=int, default=600, help="at least 500 for p95")
    parser.add_argument("--relink", action="store_true", help="also time people relink")
    parser.add_argument(
        "--relink-max", type=int, default=1_000_000, help="time relink up to this base size"
    )
    args = parser.parse_args()
    sizes = [int(n) for n in args.persons.split(",")]
    print(f"machine: {platform.machine()}, {len(__import__('os').sched_getaffinity(0))} cores")
    print("command: python bench/linkage_online.py " + " ".join(sys.argv[1:]))
    rows = []
    for size in sizes:
        t0 = time.perf_counter()
        bench = people_synth.build(persons=size, queries_per_shape=max(args.queries // 4, 125))
        generated = time.perf_counter() - t0
        print(f"generated {size:,} persons and {len(bench.queries)} queries in {generated:.0f} s")
        for name in args.backends.split(","):
            with backend(name) as url:
                engine = make_engine(url)
                with contextlib.redirect_stdout(io.StringIO()):
                    upgrade(engine)
                loaded = load(engine, bench)
                print(f"  {name}: loaded in {loaded['load_s']:.0f} s {loaded}", flush=True)
                figures = {**loaded, **match_latency(engine, bench, args.queries)}
                figures["peak_rss_mb"] = peak_rss_mb()
                print(f"  {name} {size:,} online: {figures}", flush=True)
                if args.relink and size <= args.relink_max:
                    figures.update(relink_time(url))
                engine.dispose()
                rows.append((name, size, figures))
                print(f"  {name} {size:,}: {figures}", flush=True)
    print()
    print(
        f"{'backend':9} {'persons':>10} {'median ms':>10} {'p95 ms':>8} {'cands':>6} "
        f"{'largest block':>13} {'peak MB':>8} {'relink s':>9} {'relink MB':>9}"
    )
    for name, size, f in rows:
        relink_s = f"{f['relink_s']:.0f}" if "relink_s" in f else "-"
        relink_mb = f"{f['relink_peak_mb']:.0f}" if "relink_peak_mb" in f else "-"
        print(
            f"{name:9} {size:>10,} {f['median_ms']:>10.2f} {f['p95_ms']:>8.2f} "
            f"{f['mean_candidates']:>6.1f} {f['largest_block']:>13.0f} {f['peak_rss_mb']:>8.0f} "
            f"{relink_s:>9} {relink_mb:>9}"
        )
    target = [f["p95_ms"] for name, size, f in rows if size >= 1_000_000]
    if target:
        print(
            f"target p95 <= 20 ms at 1,000,000 persons: {'met' if max(target) <= 20 else 'MISSED'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
