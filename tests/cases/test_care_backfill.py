"""Migration 0010 back-fills the open review link of care-plan items made before
reviews were chain links; the link it opens is the one the next review completes."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from sqlalchemy import delete
from sqlalchemy.orm import Session

from defchain import cases, ledger
from defchain.cases import care
from defchain.clock import FrozenClock
from defchain.ledger import ChainLink
from tests.conftest import Cast

MIGRATION = Path(__file__).parents[2] / "src/defchain/migrations/versions/0010_care_review_links.py"


def migration() -> ModuleType:
    spec = importlib.util.spec_from_file_location("migration_0010", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_items_without_a_review_link_get_one_once(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    lead = cast.actor("lead_a")
    case = cases.open_case(db, lead, title="After a hold", team_id=cast.team.id, now=clock.now())
    care.set_chronic(db, lead, case, chronic=True, reason="Long-term plan", now=clock.now())
    item = care.add_care_item(
        db, lead, case, kind="medication", agency_id=cast.agency_a.id, now=clock.now()
    )
    ended = care.add_care_item(
        db, lead, case, kind="next_contact", agency_id=cast.agency_a.id, now=clock.now()
    )
    care.deactivate_care_item(db, lead, case, ended, reason="Not needed", now=clock.now())
    # As before the change: no links at all.
    db.execute(delete(ChainLink).where(ChainLink.subject_type == "care"))
    backfill = migration().backfill
    assert backfill(db.connection(), clock.now()) == 1  # the active item only
    db.expire_all()
    [link] = ledger.links_for(db, subject_type="care", subject_id=item.id)
    assert (link.link, link.due_at, link.done_at) == ("reviewed", item.next_review_at, None)
    assert link.owner_user_id == case.lead_user_id
    assert ledger.links_for(db, subject_type="care", subject_id=ended.id) == []
    assert backfill(db.connection(), clock.now()) == 0  # once
    # The next review completes the back-filled link and opens the one after.
    clock.advance(days=3)
    care.update_care_item(db, lead, case, item, answer="yes", now=clock.now())
    links = ledger.links_for(db, subject_type="care", subject_id=item.id)
    assert [row.done_at is not None for row in links] == [True, False]
