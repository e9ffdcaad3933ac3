"""Synthetic people and tip-shaped queries with ground truth (for bench/linkage.py).

Fictitious people come from ``defchain.people.training`` (Faker frequency tables with a
fixed seed, ``example.*`` e-mail domains, ``555-01XX`` phone numbers). The base holds
one record per person (``training.base_record``: mostly complete, never everything).
The queries carry what tips carry, one shape each:

- ``nickname_school``: a nickname from the nickname table (the first name when the
  person's name has none) and the school or employer;
- ``surname_typo_age``: the surname with one typo and an approximate age;
- ``handle_only``: the online handle, sometimes written ``@UPPER``;
- ``full_dob_typo``: given name, surname, school or employer, and a date of birth with
  one typo (a digit, or day and month swapped).

Every shape also has queries about people who are *not* in the base (``in_base`` false:
drawn from extra persons generated after the base); linking one of those is a false
link. Output: in memory (``build`` returns a ``SynthBench`` of ``training.SynthRecord``)
or, from the command line, two JSONL files (one ``SynthRecord`` per line, ``person_id``
the truth; a query's person is in the base when a base line has the same
``person_id``)::

    .venv/bin/python bench/people_synth.py --persons 100000 --out /tmp/people_synth
    .venv/bin/python bench/people_synth.py --persons 1000000 --out /tmp/people_synth_1m
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from defchain.people import training
from defchain.people.training import (
    REFERENCE_YEAR,
    NicknamePicker,
    SynthPerson,
    SynthRecord,
    nickname_groups,
    typo,
)

SHAPES = ("nickname_school", "surname_typo_age", "handle_only", "full_dob_typo")


@dataclass(frozen=True)
class SynthBench:
    base: list[SynthRecord]
    queries: list[SynthRecord]
    persons: int
    seed: int


def _dob_typo(dob: date, rng: random.Random) -> str:
    if dob.day <= 12 and dob.day != dob.month and rng.random() < 0.4:
        return f"{dob.year:04d}-{dob.day:02d}-{dob.month:02d}"
    text = dob.isoformat()
    for _ in range(50):
        position = rng.choice((2, 3, 5, 6, 8, 9))
        candidate = text[:position] + str(rng.randrange(10)) + text[position + 1 :]
        try:
            changed = date.fromisoformat(candidate)
        except ValueError:
            continue
        if changed != dob and changed.year < REFERENCE_YEAR:
            return candidate
    return f"{dob.year:04d}-{dob.day:02d}-{dob.month:02d}"


def query(
    person: SynthPerson, shape: str, number: int, rng: random.Random, picker: NicknamePicker
) -> SynthRecord:
    """One tip-shaped query about ``person``."""
    record = SynthRecord(record_id=f"q{number}", person_id=person.person_id, shape=shape)
    if shape == "nickname_school":
        record.given = picker.variant(person.given, rng) or person.given
        record.org = person.org
    elif shape == "surname_typo_age":
        record.surname = typo(person.surname, rng)
        record.age = REFERENCE_YEAR - person.dob.year - rng.choice((0, 1, 1))
    elif shape == "handle_only":
        record.handle = "@" + person.handle.upper() if rng.random() < 0.3 else person.handle
    elif shape == "full_dob_typo":
        record.given = person.given
        record.surname = person.surname
        record.org = person.org
        record.dob = _dob_typo(person.dob, rng)
    else:
        raise ValueError(shape)
    return record


def build(
    persons: int = 100_000,
    seed: int = 11,
    queries_per_shape: int = 2000,
    absent_share: float = 0.2,
) -> SynthBench:
    """A base of ``persons`` people and ``queries_per_shape`` queries per shape, of which
    ``absent_share`` are about people outside the base."""
    absent = int(queries_per_shape * absent_share)
    pools = training.make_pools(persons, seed)
    people = training.fake_persons(persons + absent * len(SHAPES), seed, pools)
    rng = random.Random(seed)  # noqa: S311 - fake data, not secrets
    base = [training.base_record(person, rng) for person in people[:persons]]
    picker = NicknamePicker(nickname_groups())
    queries: list[SynthRecord] = []
    outside = iter(people[persons:])
    for shape in SHAPES:
        for person in rng.sample(people[:persons], queries_per_shape - absent):
            queries.append(query(person, shape, len(queries), rng, picker))
        for _ in range(absent):
            queries.append(query(next(outside), shape, len(queries), rng, picker))
    return SynthBench(base=base, queries=queries, persons=persons, seed=seed)


def write_jsonl(records: list[SynthRecord], path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(dataclasses.asdict(record), sort_keys=True) + "\n")


def read_jsonl(path: Path) -> list[SynthRecord]:
    with path.open(encoding="utf-8") as lines:
        return [SynthRecord(**json.loads(line)) for line in lines if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Synthetic people and tip-shaped queries.")
    parser.add_argument("--persons", type=int, default=100_000, help="base size (1000000 ok)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--queries-per-shape", type=int, default=2000)
    parser.add_argument("--absent-share", type=float, default=0.2)
    parser.add_argument("--out", type=Path, required=True, help="directory for the JSONL files")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    bench = build(args.persons, args.seed, args.queries_per_shape, args.absent_share)
    args.out.mkdir(parents=True, exist_ok=True)
    write_jsonl(bench.base, args.out / "base.jsonl")
    write_jsonl(bench.queries, args.out / "queries.jsonl")
    print(
        f"{len(bench.base)} base records, {len(bench.queries)} queries -> {args.out} "
        f"({time.perf_counter() - started:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
