"""The trained linkage model and the nickname table: data files shipped in the package.

``data/linkage_model.json`` is written by ``defchain people train`` (``people.training``:
Splink on synthetic data) and versioned in the repository; the same file serves online
scoring and batch runs. ``data/nicknames.csv`` holds one group of given-name variants
per line.
"""

from __future__ import annotations

import csv
import json
from functools import cache
from pathlib import Path
from typing import Any

from defchain.people.rules import LinkageModel, Nicknames

DATA = Path(__file__).parent / "data"
MODEL_FILE = DATA / "linkage_model.json"
NICKNAMES_FILE = DATA / "nicknames.csv"


def model_to_json(model: LinkageModel) -> dict[str, Any]:
    return {
        "version": model.version,
        "trained_on": model.trained_on,
        "prior": model.prior,
        "link_threshold": model.link_threshold,
        "review_threshold": model.review_threshold,
        "m": {k: dict(v) for k, v in model.m.items()},
        "u": {k: dict(v) for k, v in model.u.items()},
    }


def model_from_json(data: dict[str, Any]) -> LinkageModel:
    return LinkageModel(
        version=str(data["version"]),
        trained_on=str(data.get("trained_on", "")),
        prior=float(data["prior"]),
        link_threshold=float(data["link_threshold"]),
        review_threshold=float(data["review_threshold"]),
        m={k: {lvl: float(p) for lvl, p in v.items()} for k, v in data["m"].items()},
        u={k: {lvl: float(p) for lvl, p in v.items()} for k, v in data["u"].items()},
    )


def save_model(model: LinkageModel, path: Path = MODEL_FILE) -> None:
    path.write_text(json.dumps(model_to_json(model), indent=2, sort_keys=True) + "\n")


def load_model(path: Path) -> LinkageModel:
    return model_from_json(json.loads(path.read_text()))


@cache
def default_model() -> LinkageModel:
    """The model shipped with the package."""
    return load_model(MODEL_FILE)


def read_nicknames(path: Path) -> Nicknames:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [[name.strip() for name in row if name.strip()] for row in csv.reader(handle)]
    return Nicknames(row for row in rows if row and not row[0].startswith("#"))


@cache
def nicknames() -> Nicknames:
    """The nickname table shipped with the package."""
    return read_nicknames(NICKNAMES_FILE)
