"""The case figures on the oversight summary: tripwire re-openings and flags in the last
30 days, overdue tasks, missed check-ins; counts only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from defchain import cases
from defchain.cases import oversight
from defchain.cases.lifecycle import reopen, schedule_checkins
from defchain.cases.models import CaseSettings
from defchain.clock import FrozenClock
from defchain.people import Person, ReportLink
from defchain.triage import service as triage
from tests.conftest import Cast, receive_public_tip


def closed_case_about(db: Session, cast: Cast, clock: FrozenClock, name: str) -> Person:
    who = Person(display_name=name, created_at=clock.now())
    db.add(who)
    db.flush()
    case = cases.open_case(
        db, cast.actor("lead_a"), title=f"About {name}", person_ids=[who.id], now=clock.now()
    )
    case.status = "closed"
    db.flush()
    return who


def new_report_about(db: Session, cast: Cast, clock: FrozenClock, who: Person) -> None:
    report = receive_public_tip(db, cast, clock, narrative="He is making threats again.")
    db.add(
        ReportLink(
            report_id=report.id, person_id=who.id, decided_by="person", created_at=clock.now()
        )
    )
    db.flush()
    triage.after_person_linked(db, report=report, now=clock.now())


def test_the_figures_count_tripwire_events_of_the_last_30_days_and_late_work(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    empty = oversight.counts(db, now=clock.now())
    assert empty == oversight.CaseCounts(0, 0, 0, 0, 0)
    long_ago = closed_case_about(db, cast, clock, "Old News")
    new_report_about(db, cast, clock, long_ago)  # re-opened 40 days before "now"
    clock.advance(days=40)
    recent = closed_case_about(db, cast, clock, "Recent News")
    new_report_about(db, cast, clock, recent)
    # A person re-opening a case is not the tripwire.
    by_hand = cases.open_case(db, cast.actor("lead_a"), title="By hand", now=clock.now())
    by_hand.status = "closed"
    reopen(db, cast.actor("lead_a"), by_hand, reason="The family called again", now=clock.now())
    db.add(
        CaseSettings(jurisdiction_id=cast.jurisdiction.id, tripwire="flag", updated_at=clock.now())
    )
    new_report_about(db, cast, clock, closed_case_about(db, cast, clock, "Flagged"))
    worked = cases.open_case(
        db, cast.actor("lead_a"), title="Worked", team_id=cast.team.id, now=clock.now()
    )
    lead = cast.actor("lead_a")
    soon = clock.now() + timedelta(days=1)
    task: dict[str, Any] = {
        "kind": "interview",
        "owner_user_id": cast.lead_a.id,
        "now": clock.now(),
    }
    cases.add_task(db, lead, worked, title="Late", due_at=soon, **task)
    cases.add_task(db, lead, worked, title="Later", due_at=soon + timedelta(days=9), **task)
    done = cases.add_task(db, lead, worked, title="Done", due_at=soon, **task)
    cases.complete_task(db, lead, done, outcome="Done in time.", now=clock.now())
    schedule_checkins(db, lead, worked, dates=[soon], owner_user_id=None, now=clock.now())
    clock.advance(days=2)
    figures = oversight.counts(db, now=clock.now())
    assert figures == oversight.CaseCounts(
        reopened_by_new_information=1,
        flagged_by_new_information=1,
        flagged_now=1,
        overdue_tasks=1,
        missed_checkins=1,
    )
