"""/chain/breaks lists a late case task to the people who may read its case, linked to
the case, and to nobody else."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from defchain.cases import service as cases
from defchain.clock import FrozenClock
from tests.conftest import Cast


def test_a_late_task_is_a_break_its_case_workers_see(
    db: Session, cast: Cast, clock: FrozenClock, browser_for: Any
) -> None:
    lead = cast.actor("lead_a")
    case = cases.open_case(db, lead, title="Late interview", team_id=cast.team.id, now=clock.now())
    task = cases.add_task(
        db, lead, case, kind="interview", title="Talk to the neighbor",
        owner_user_id=cast.lead_a.id, due_at=clock.now() + timedelta(hours=1), now=clock.now(),
    )  # fmt: skip
    db.flush()
    clock.advance(hours=3)
    link = f'href="/cases/{case.id}">Task #{task.id} on case #{case.id}</a>'
    for name in ("lead_a", "member_b"):  # the owning agency's lead; a team member elsewhere
        page = browser_for(cast.user(name).id).get("/chain/breaks")
        assert page.status_code == 200
        assert link in page.text, name
    outsider = browser_for(cast.user_c.id).get("/chain/breaks")
    assert outsider.status_code == 200
    assert f"Task #{task.id}" not in outsider.text
    # Done, it is no longer late.
    cases.complete_task(db, lead, task, outcome="Spoke to her; nothing new.", now=clock.now())
    db.flush()
    again = browser_for(cast.lead_a.id).get("/chain/breaks")
    assert f"Task #{task.id}" not in again.text
