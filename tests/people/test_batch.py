"""``people relink``: Splink re-scores the registry and proposes merges, never merging."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from defchain.people import MergeProposal, Person
from defchain.people import service as people
from defchain.people.batch import relink, settings_for
from defchain.people.identifiers import Kind, normalize
from tests.people.test_service import MODEL


def person(db: Session, clock: Any, who: Any, source: str, **values: str) -> Person:
    items = [normalize(Kind(kind), value, year=2026) for kind, value in values.items()]
    return people.create_person(
        db, who=who, items=items, source_type="import", source_id=source, now=clock.now()
    )


def test_relink_proposes_the_likely_pairs_and_merges_nothing(
    db: Session, cast: Any, clock: Any
) -> None:
    who = cast.actor("admin")
    a = person(db, clock, who, "rms-1", name="Jordan Example", date_of_birth="2008-03-14")
    b = person(db, clock, who, "rms-2", name="JORDAN EXAMPLE", date_of_birth="2008-03-14")
    c = person(db, clock, who, "rms-3", name="Riley Sample", date_of_birth="1990-01-01")
    result = relink(db, who=who, now=clock.now(), model=MODEL)
    assert result.persons >= 3 and result.proposed >= 1
    pairs = {(p.person_a_id, p.person_b_id) for p in db.scalars(select(MergeProposal))}
    assert (a.id, b.id) in pairs
    assert all(c.id not in pair for pair in pairs)
    assert all(db.get_one(Person, pid).merged_into_id is None for pid in (a.id, b.id, c.id))
    again = relink(db, who=who, now=clock.now(), model=MODEL)
    assert again.proposed == 0  # a pair is proposed once


def test_the_batch_uses_the_models_own_weights() -> None:
    settings = settings_for(MODEL)
    given = next(c for c in settings["comparisons"] if c["output_column_name"] == "given")
    exact = next(
        level for level in given["comparison_levels"] if level["label_for_charts"] == "exact"
    )
    assert exact["m_probability"] == MODEL.m["given"]["exact"]
    assert exact["u_probability"] == MODEL.u["given"]["exact"]
