"""The meeting pages: the team's list with the agenda preview, starting a meeting,
recording decisions, the CSV and Markdown downloads, and who may see them."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from defchain import cases
from defchain.audit import AuditEvent
from defchain.cases import Case, meetings
from defchain.cases.models import Meeting, MeetingItem
from tests.web.conftest import field_errors
from tests.web.test_people_pages import main_text


@pytest.fixture
def due(db: Session, cast: Any, clock: Any) -> Case:
    """A case of team T due for review."""
    opened = cases.open_case(
        db, cast.actor("lead_a"), title="Threats at the game", team_id=cast.team.id,
        now=clock.now(),
    )  # fmt: skip
    opened.next_review_at = clock.now() - timedelta(hours=1)
    db.flush()
    return opened


def meeting_count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Meeting)) or 0


def test_the_team_page_links_to_its_meetings(browser_for: Any, cast: Any) -> None:
    page = browser_for(cast.member_b.id).get(f"/teams/{cast.team.id}")
    assert f'href="/teams/{cast.team.id}/meetings"' in page.text
    listing = browser_for(cast.member_b.id).get("/teams")
    assert f'href="/teams/{cast.team.id}/meetings"' in listing.text


def test_the_list_previews_the_agenda(browser_for: Any, cast: Any, due: Case) -> None:
    page = browser_for(cast.member_b.id).get(f"/teams/{cast.team.id}/meetings")
    assert page.status_code == 200
    text = main_text(page.text)
    assert "Threats at the game" in text and "due for review" in text
    assert 'action="/teams/' in page.text and "The team has not met" in text


def test_starting_a_meeting_snapshots_the_agenda_and_opens_it(
    browser_for: Any, cast: Any, due: Case, db: Session
) -> None:
    client = browser_for(cast.lead_a.id)
    response = client.form(
        f"/teams/{cast.team.id}/meetings",
        {"held_at": "2026-01-05T10:30", "attendees": "Lead A, Member B"},
    )
    assert response.status_code == 303
    meeting = db.scalars(select(Meeting)).one()
    assert response.headers["location"] == f"/meetings/{meeting.id}"
    assert meeting.held_at.isoformat() == "2026-01-05T15:30:00+00:00"  # New York time
    page = client.get(f"/meetings/{meeting.id}")
    assert page.status_code == 200
    assert "Threats at the game" in page.text and "Lead A, Member B" in page.text
    assert f'href="/meetings/{meeting.id}/export.csv"' in page.text


def test_a_bad_time_is_named_and_nothing_is_saved(
    browser_for: Any, cast: Any, due: Case, db: Session
) -> None:
    response = browser_for(cast.lead_a.id).form(
        f"/teams/{cast.team.id}/meetings", {"held_at": "soon", "attendees": ""}
    )
    assert response.status_code == 422
    assert field_errors(response.text) == ["Held at: give a date and time"]
    assert meeting_count(db) == 0


def test_decisions_are_recorded_and_downloaded(
    browser_for: Any, cast: Any, due: Case, db: Session, clock: Any
) -> None:
    meeting = meetings.create_meeting(
        db, cast.actor("lead_a"), cast.team, held_at=clock.now(), attendees="", now=clock.now()
    )
    item = db.scalars(select(MeetingItem)).one()
    client = browser_for(cast.member_b.id)
    path = f"/meetings/{meeting.id}/items/{item.id}/decision"
    refused = client.form(path, {"decision": " "})
    assert refused.status_code == 422
    assert field_errors(refused.text) == ["Decision: say what the team decided"]
    done = client.form(path, {"decision": "Refer to counseling; review in 30 days."})
    assert done.status_code == 303
    db.refresh(item)
    assert item.decision == "Refer to counseling; review in 30 days."

    csv_response = client.get(f"/meetings/{meeting.id}/export.csv")
    assert csv_response.headers["content-type"].startswith("text/csv")
    assert csv_response.headers["content-disposition"].startswith("attachment;")
    (row,) = csv.DictReader(io.StringIO(csv_response.text))
    assert (row["case_title"], row["decided_by"]) == ("Threats at the game", "Member B")
    md = client.get(f"/meetings/{meeting.id}/export.md")
    assert md.headers["content-type"].startswith("text/markdown")
    assert "Refer to counseling; review in 30 days." in md.text
    exported = db.scalars(
        select(AuditEvent.changes).where(AuditEvent.tag == "cases:meeting:exported")
    )
    assert [c["form"][1] for c in exported] == ["csv", "markdown"]


def test_people_off_the_team_do_not_find_its_meetings(
    browser_for: Any, cast: Any, due: Case, db: Session, clock: Any
) -> None:
    meeting = meetings.create_meeting(
        db, cast.actor("lead_a"), cast.team, held_at=clock.now(), attendees="", now=clock.now()
    )
    analyst = browser_for(cast.analyst_a.id)  # agency A, the case's agency, but not on T
    assert analyst.get(f"/teams/{cast.team.id}/meetings").status_code == 404
    assert analyst.get(f"/meetings/{meeting.id}").status_code == 404
    assert analyst.get(f"/meetings/{meeting.id}/export.csv").status_code == 404
    assert f"/teams/{cast.team.id}/meetings" not in analyst.get("/teams").text
