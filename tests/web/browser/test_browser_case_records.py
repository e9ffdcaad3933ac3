"""A case's records in a real browser: the timeline, exporting a summary (the form, its
errors, the print view), and a team meeting from the agenda to a decision and the CSV
download. For the accessibility test, every one of these pages."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from defchain import cases
from defchain.access import User
from defchain.access import service as access_service
from tests.web.browser.conftest import Live

pytestmark = pytest.mark.browser


def _goto(page: Any, path: str) -> None:
    response = page.goto(path)
    assert response is not None and response.status == 200, path


def case_due_for_review(live: Live, title: str) -> int:
    """A case of the seed team, led by the lead, due for review, with a note; committed."""
    with live.db() as session:
        lead = access_service.actor_for(session, session.get_one(User, live.ids["user_lead"]))
        now = live.clock.now()
        case = cases.open_case(session, lead, title=title, team_id=live.ids["team"], now=now)
        case.next_review_at = now - timedelta(hours=1)
        cases.add_note(session, lead, case, body="Spoke to the coach.", now=now)
        session.commit()
        return case.id


def check_records_pages(page: Any, audit: Any, live: Live) -> None:
    """For the accessibility test, signed in as a team member: the timeline, the export
    form (and with errors), the print view, the team's meetings, a meeting with a
    decision (and with errors)."""
    who = "team member"
    case_id = case_due_for_review(live, "Threats at the bus stop")
    _goto(page, f"/cases/{case_id}")
    assert "Spoke to the coach." in page.locator("#timeline").inner_text()
    audit.check(page, who, "case with its timeline")

    _goto(page, f"/cases/{case_id}/export")
    audit.check(page, who, "export a case summary")
    page.locator("#export-form").evaluate("f => { f.noValidate = true; }")
    page.get_by_role("button", name="Export and record the disclosure").click()
    page.wait_for_load_state()
    assert page.locator("#error-summary").is_visible()
    audit.check(page, who, "export with errors", counts_for_route=False)
    page.locator("#recipient").fill("Principal Ortiz, Riverton High")
    page.locator("#purpose").fill("Safety plan at school")
    page.locator("label[for=form-print]").click()
    with page.expect_navigation():
        page.get_by_role("button", name="Export and record the disclosure").click()
    assert "Confidential: disclosed to Principal Ortiz" in page.locator("main").inner_text()
    audit.check(page, who, "case summary print view", counts_for_route=False)

    team = live.ids["team"]
    _goto(page, f"/teams/{team}/meetings")
    assert "Threats at the bus stop" in page.locator("#agenda-preview").inner_text()
    audit.check(page, who, "team meetings")
    page.locator("#attendees").fill("Leah Lead (police), Miguel Member (school)")
    with page.expect_navigation():
        page.get_by_role("button", name="Start the meeting with this agenda").click()
    assert "/meetings/" in page.url
    audit.check(page, who, "meeting agenda")
    form = page.locator("#meeting-items form").first
    form.evaluate("f => { f.noValidate = true; }")
    form.get_by_role("button").click()
    page.wait_for_load_state()
    assert page.locator(".usa-error-message").first.is_visible()
    audit.check(page, who, "meeting decision with errors", counts_for_route=False)
    form = page.locator("#meeting-items form").first
    form.locator("textarea").fill("Refer to counseling; review in 30 days.")
    with page.expect_navigation():
        form.get_by_role("button").click()
    assert "Refer to counseling" in page.locator("#meeting-items").inner_text()
    audit.check(page, who, "meeting with a decision")


def test_a_team_meets_decides_and_downloads_the_record(page: Any, live: Live) -> None:
    case_id = case_due_for_review(live, "Threats on the school bus")
    live.sign_in(page, "member")
    _goto(page, f"/teams/{live.ids['team']}")
    with page.expect_navigation():
        page.locator("#team-meetings").click()
    assert "Threats on the school bus" in page.locator("#agenda-preview").inner_text()
    with page.expect_navigation():
        page.get_by_role("button", name="Start the meeting with this agenda").click()
    item = page.locator("#meeting-items li", has_text="Threats on the school bus")
    item.locator("textarea").fill("Home visit this week.")
    with page.expect_navigation():
        item.get_by_role("button").click()
    assert "Home visit this week." in page.locator("#meeting-items").inner_text()
    with page.expect_download() as download_info:
        page.locator("#export-csv").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    body = Path(download.path()).read_text(encoding="utf-8")
    assert "Threats on the school bus" in body and "Home visit this week." in body
    _goto(page, f"/cases/{case_id}")
    assert "Home visit this week." in page.locator("#timeline").inner_text()
