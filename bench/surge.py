"""Surge-clustering benchmark: time, peak memory and pairwise quality of ``cluster``.

A benchmark, not a test: it prints figures and asserts nothing. One process:

1. generates ``--tips`` labelled synthetic tips with ``bench/surge_data.py`` (timed: the
   first baseline);
2. groups them by exact normalized text with a dict (timed: the second baseline, the
   cheapest possible "clustering", and its pairwise precision and recall);
3. runs ``defchain.triage.clusters.cluster`` ``--runs`` times and prints each time and the
   median;
4. runs it once more under ``tracemalloc`` for the peak of memory allocated by clustering
   itself (numpy arrays included), and prints the process's RSS high-water mark
   (``resource.getrusage``: tips, Faker and clustering together);
5. prints pairwise precision and recall of the clusters against the labels, overall and
   with one criterion left out, computed from contingency counts (no pair enumeration).

``--sweep`` also prints precision and recall for other text thresholds and n-gram sizes on
the same tips (it changes the module's constants in this process only)::

    .venv/bin/python bench/surge.py --tips 100000
    .venv/bin/python bench/surge.py --tips 20000 --runs 1 --sweep
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import surge_data

from defchain.triage import clusters
from defchain.triage.clusters import Tip


def pair_counts(truth: Mapping[int, int], pred: Mapping[int, int]) -> tuple[int, int, int]:
    """(pairs together in both, pairs together in prediction, pairs together in truth)."""
    ids = list(truth)
    t = np.unique(np.fromiter((truth[i] for i in ids), np.int64), return_inverse=True)[1]
    p = np.unique(np.fromiter((pred[i] for i in ids), np.int64), return_inverse=True)[1]

    def pairs(labels: np.ndarray) -> int:
        sizes = np.bincount(labels).astype(np.int64)
        return int((sizes * (sizes - 1) // 2).sum())

    joint = t.astype(np.int64) * (int(p.max()) + 1) + p
    return pairs(np.unique(joint, return_inverse=True)[1]), pairs(p), pairs(t)


def precision_recall(truth: Mapping[int, int], pred: Mapping[int, int]) -> tuple[float, float]:
    both, predicted, true = pair_counts(truth, pred)
    precision = both / predicted if predicted else 1.0
    recall = both / true if true else 1.0
    return precision, recall


def exact_text_groups(tips: list[Tip]) -> dict[int, int]:
    """Baseline: tips with the same normalized text (at least MIN_TEXT_CHARS long, as for
    signatures), label = smallest id."""
    first: dict[str, int] = {}
    out: dict[int, int] = {}
    for tip in sorted(tips, key=lambda t: t.id):
        key = clusters.normalize_text(tip.text)
        long_enough = len(key) >= clusters.MIN_TEXT_CHARS
        out[tip.id] = first.setdefault(key, tip.id) if long_enough else tip.id
    return out


def rss_peak_mib() -> float:
    """The process's resident-set high-water mark in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def constants(**values: object) -> Iterator[None]:
    """Temporarily change module constants of ``clusters`` (for the sweep)."""
    old = {k: getattr(clusters, k) for k in values}
    for k, v in values.items():
        setattr(clusters, k, v)
    try:
        yield
    finally:
        for k, v in old.items():
            setattr(clusters, k, v)


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    gc.collect()
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def summary(labels: Mapping[int, int]) -> str:
    sizes = np.bincount(np.unique(np.fromiter(labels.values(), np.int64), return_inverse=True)[1])
    return (
        f"{sizes.size} clusters, {int((sizes > 1).sum())} with 2+ tips, largest {int(sizes.max())}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Surge-clustering benchmark (figures only).")
    parser.add_argument("--tips", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3, help="timed clustering runs")
    parser.add_argument("--no-tracemalloc", action="store_true", help="skip the traced run")
    parser.add_argument("--sweep", action="store_true", help="threshold / n-gram sweep")
    args = parser.parse_args(argv)

    print(f"surge clustering: {args.tips} tips, seed {args.seed}, cpus {os.cpu_count()}")
    gen_s, data_obj = timed(lambda: surge_data.generate(args.tips, args.seed))
    data = data_obj if isinstance(data_obj, surge_data.SurgeData) else None
    assert data is not None
    tips, truth = data.tips, data.truth
    print(f"  groups in truth: {data.groups}")
    print(f"  baseline  generate tips (Faker):     {gen_s:7.2f} s")
    exact_s, exact = timed(lambda: exact_text_groups(tips))
    assert isinstance(exact, dict)
    p, r = precision_recall(truth, exact)
    print(f"  baseline  exact normalized text:     {exact_s:7.2f} s   P {p:.4f}  R {r:.4f}")
    rss_before = rss_peak_mib()

    times: list[float] = []
    labels: dict[int, int] = {}
    for run in range(args.runs):
        secs, out = timed(lambda: clusters.cluster(tips))
        assert isinstance(out, dict)
        labels = out
        times.append(secs)
        print(f"  cluster   run {run + 1}:                  {secs:7.2f} s")
    print(f"  cluster   median of {len(times)}:              {statistics.median(times):7.2f} s")
    if not args.no_tracemalloc:
        tracemalloc.start()
        clusters.cluster(tips)
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"  memory    cluster() traced peak:     {traced_peak / 2**20:7.0f} MiB")
    print(f"  memory    RSS high-water before:     {rss_before:7.0f} MiB (tips + Faker)")
    print(f"  memory    RSS high-water after:      {rss_peak_mib():7.0f} MiB (whole process)")
    print(f"  clusters  {summary(labels)}")
    p, r = precision_recall(truth, labels)
    print(f"  quality   pairwise precision {p:.4f}  recall {r:.4f}")

    # Each criterion's share: leave it out (by making it impossible) and measure again.
    ablations: dict[str, Callable[[], dict[int, int]]] = {
        "without person": lambda: clusters.cluster(
            [Tip(t.id, t.at, t.text, t.location, None) for t in tips]
        ),
        "without place": lambda: clusters.cluster(
            [Tip(t.id, t.at, t.text, "", t.person_id) for t in tips]
        ),
        "without text": lambda: clusters.cluster(
            [Tip(t.id, t.at, "", t.location, t.person_id) for t in tips]
        ),
    }
    for name, fn in ablations.items():
        p, r = precision_recall(truth, fn())
        print(f"  quality   {name:<15} precision {p:.4f}  recall {r:.4f}")

    if args.sweep:
        print("  sweep (threshold, n-gram): precision / recall / seconds")
        for ngram in (3, 4, 5, 6):
            for threshold in (0.4, 0.5, 0.6, 0.7):
                with constants(NGRAM=ngram, TEXT_THRESHOLD=threshold):
                    secs, out = timed(lambda: clusters.cluster(tips))
                assert isinstance(out, dict)
                p, r = precision_recall(truth, out)
                print(f"    t={threshold:.1f} n={ngram}:  P {p:.4f}  R {r:.4f}  {secs:6.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
