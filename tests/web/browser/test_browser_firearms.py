"""Firearm follow-up in a real browser, against the live server and its pipeline.

An analyst enters a NICS denial; the server links it to a new person and a follow-up
opens. The team lead works it step by step (deconflict, prior reports) and decides to
open a threat case. Once that case is closed, a second denial about the same person is
linked by the pipeline: the tripwire re-opens the case in the link's transaction, the
denial is at least P2, its follow-up is handed to the case, and the lead is told in the
app and by e-mail on a local SMTP server.

``check_firearm_pages`` is the accessibility walk's visit of the firearms pages.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from defchain.access import User
from defchain.cases import Case, CaseReport
from defchain.firearms import FollowUp
from defchain.intake import Report
from defchain.intake import service as intake_service
from defchain.intake.schemas import parse_report
from defchain.notify import Notification, deliver_pending
from defchain.people import ReportLink
from defchain.triage import service as triage
from tests.notify.smtp_server import smtp_server
from tests.web.browser.conftest import Live
from tests.web.browser.test_browser_reports import fill_report_form
from tests.web.browser.test_browser_triage import wait_for

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots")
LEAD_EMAIL = "leah.lead.firearms@riverton.example.gov"
BUYER = {"name": "Morgan Fictitious-Buyer", "date_of_birth": "1988-07-09"}


def denial_form(number: str) -> dict[str, Any]:
    return {
        "details.denied_at": "2026-11-20T15:30",
        "details.transaction_number": number,
        "details.denial_category": "protection_order",
        "details.purchaser.name": BUYER["name"],
        "details.purchaser.date_of_birth": BUYER["date_of_birth"],
        "details.dealer.name": "Example Arms (fictitious)",
        "details.dealer.address": "1 Main St, Riverton",
        "details.agencies_notified": "ATF field office\nState police",
    }


@pytest.fixture
def cleared_lead(live: Live) -> Iterator[None]:
    """The analyst and the lead are cleared for criminal justice information (denials
    carry it) and the lead has an e-mail address; put back afterwards."""
    with live.db() as session:
        users = {
            name: session.scalars(select(User).where(User.username == name)).one()
            for name in ("analyst", "lead")
        }
        before = {name: (list(u.clearances), u.email) for name, u in users.items()}
        for user in users.values():
            user.clearances = sorted({*user.clearances, "cji"})
        users["lead"].email = LEAD_EMAIL
        session.commit()
    try:
        yield
    finally:
        with live.db() as session:
            for name, (clearances, email) in before.items():
                user = session.scalars(select(User).where(User.username == name)).one()
                user.clearances, user.email = clearances, email
            session.commit()


def enter_denial(page: Any, number: str) -> int:
    """The analyst enters a denial on the staff form; its report id."""
    page.goto("/reports/new/nics_denial")
    fill_report_form(page, denial_form(number))
    with page.expect_navigation():
        page.get_by_role("button", name="Save report").click()
    return int(page.url.rstrip("/").rsplit("/", 1)[1])


def linked_person(live: Live, report_id: int) -> int:
    """Wait for the server's pipeline to triage the report and link it to a person."""

    def done(session: Any) -> int | None:
        report = session.get_one(Report, report_id)
        link = session.scalar(select(ReportLink).where(ReportLink.report_id == report_id))
        return link.person_id if report.triage_state != "pending" and link else None

    person_id: int = wait_for(live, done, f"the pipeline to link report #{report_id}")
    return person_id


def followup_of(live: Live, report_id: int) -> FollowUp:
    def found(session: Any) -> FollowUp | None:
        row = session.scalar(select(FollowUp).where(FollowUp.report_id == report_id))
        if row is not None:
            session.expunge(row)
        return row

    row: FollowUp = wait_for(live, found, f"the follow-up of report #{report_id}")
    return row


def do_step(page: Any, step: str, note: str) -> None:
    page.locator(f"#note-{step}").fill(note)
    with page.expect_navigation():
        page.locator(f"#form-{step} button[type=submit]").click()


def test_a_denial_about_the_subject_of_a_closed_case_reopens_it_and_alerts_the_lead(
    browser: Any, live: Live, cleared_lead: None
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    staff = browser.new_context(base_url=live.base_url, viewport={"width": 1280, "height": 900})
    staff.set_default_timeout(15_000)
    try:
        analyst = staff.new_page()
        live.sign_in(analyst, "analyst")
        first = enter_denial(analyst, "NTN-FICT-0001")
        person_id = linked_person(live, first)
        followup = followup_of(live, first)
        assert followup.status == "open" and followup.person_id == person_id

        # 1. The lead finds it in the queue and works it step by step.
        lead_context = browser.new_context(
            base_url=live.base_url, viewport={"width": 1280, "height": 900}
        )
        lead = lead_context.new_page()
        lead.set_default_timeout(15_000)
        live.sign_in(lead, "lead")
        lead.goto("/firearms")
        with lead.expect_navigation():
            lead.get_by_role("link", name=f"Follow-up #{followup.id}").click()
        assert "ATF field office" in lead.locator("#agencies-notified").inner_text()
        do_step(lead, "deconflict", "ATF and the state police have no open matter.")
        do_step(lead, "prior_reports", "No earlier reports here or at the school district.")
        lead.locator("#decision").select_option("open_case")
        lead.locator("#decide-note").fill("A protection order and a purchase attempt.")
        with lead.expect_navigation():
            lead.get_by_role("button", name="Record the decision").click()
        assert "/cases/" in lead.url
        case_id = int(lead.url.split("/cases/", 1)[1].split("#")[0].split("/")[0])
        assert f"/people/{person_id}" in lead.locator("#subjects ~ ul").first.inner_html()
        lead.screenshot(path=str(SHOTS / "firearms-case-from-denial.png"), full_page=True)

        # 2. The case is closed (closing through its gate is the case e2e test's part).
        with live.db() as session:
            case = session.get_one(Case, case_id)
            case.status, case.closed_at = "closed", live.clock.now()
            session.commit()

        # 3. A second denial about the same person: the case re-opens, the lead is told.
        with smtp_server() as (inbox, mailer):
            second = enter_denial(analyst, "NTN-FICT-0002")
            assert linked_person(live, second) == person_id
            handed = followup_of(live, second)
            assert handed.status == "case" and handed.case_id == case_id
            with live.db() as session:
                case = session.get_one(Case, case_id)
                assert case.status == "open" and case.cycle == 2
                on_case = session.scalar(
                    select(CaseReport.case_id).where(CaseReport.report_id == second)
                )
                assert on_case == case_id
                suggestion = triage.latest_suggestion(session, second)
                assert suggestion is not None and suggestion.priority in ("P1", "P2")
                deliver_pending(
                    session, mailer=mailer, now=live.clock.now(), base_url=live.base_url
                )
                session.commit()
            subject = f"Case #{case_id} re-opened"
            deadline = time.monotonic() + 5

            def mail() -> list[Any]:
                return [
                    (to, m)
                    for to, m in inbox.messages
                    if subject in " ".join(str(m["Subject"]).split())
                ]

            while not mail() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert mail(), [str(m["Subject"]) for _, m in inbox.messages]
            assert mail()[0][0] == [LEAD_EMAIL]

        with live.db() as session:
            told = session.scalars(
                select(Notification).where(
                    Notification.user_id == live.ids["user_lead"],
                    Notification.link == f"/cases/{case_id}",
                )
            ).all()
            assert any(subject in n.subject for n in told)
        lead.goto("/notifications")
        assert subject in lead.locator("main").inner_text()
        lead.goto(f"/firearms/followups/{handed.id}")
        assert "Taken by the person's case" in lead.locator("#followup-status").inner_text()
        lead.goto(f"/reports/{second}")
        assert f"case #{case_id}" in lead.locator("#followup-box").inner_text()
        lead.goto(f"/cases/{case_id}")
        assert "Open" in lead.locator("#g-status-now").inner_text()
        lead.screenshot(path=str(SHOTS / "firearms-case-reopened.png"), full_page=True)
        lead_context.close()
    finally:
        staff.close()


# --- the accessibility walk's visit --------------------------------------------------------


def attempt_followup(live: Live, name: str) -> int:
    """A dealer's purchase-attempt report at the seeded jurisdiction, triaged and linked
    to a new person by the server's own code; its follow-up's id (committed)."""
    payload = {
        "kind": "purchase_attempt",
        "channel": "api",
        "jurisdiction_id": live.ids["jurisdiction"],
        "details": {
            "attempted_at": "2026-11-20T12:00:00Z",
            "dealer": {"name": "Example Arms (fictitious)"},
            "purchaser": {"name": name},
            "sought": "Two identical pistols",
            "behavior": "A companion chose the guns and paid in cash.",
            "straw_indicators": ["companion_chooses", "large_cash_purchase"],
        },
    }
    with live.db() as session:
        data = parse_report(payload, now=live.clock.now())
        report = intake_service.receive(
            session, data=data, source=intake_service.PUBLIC, now=live.clock.now()
        )
        session.commit()
        report_id = report.id
    return followup_of(live, report_id).id


def check_firearm_pages(page: Any, audit: Any, live: Live) -> None:
    """As an administrator: the queue with the follow-up window form, a purchase
    attempt's follow-up with its straw-purchase indicators, a step refused for a missing
    note, and the banned-person watch with a refused and a saved prohibition."""
    followup_id = attempt_followup(live, "Casey Fictitious-Straw")
    page.goto("/firearms")
    assert page.locator("#followup-queue").is_visible()
    audit.check(page, "admin", "firearm follow-up queue")
    page.goto(f"/firearms/followups/{followup_id}")
    assert page.locator("#straw-indicators li").count() == 2
    audit.check(page, "admin", "firearm follow-up")
    page.locator("#form-deconflict").evaluate("f => { f.noValidate = true; }")
    with page.expect_navigation():
        page.locator("#form-deconflict button[type=submit]").click()
    assert page.locator("#note-deconflict-error").is_visible()
    audit.check(page, "admin", "firearm follow-up step refused", counts_for_route=False)

    with live.db() as session:
        link = session.scalar(
            select(ReportLink).join(FollowUp, FollowUp.report_id == ReportLink.report_id)
            .where(FollowUp.id == followup_id)
        )  # fmt: skip
        assert link is not None
        person_id = link.person_id
    page.goto(f"/firearms/watch?person_id={person_id}")
    audit.check(page, "admin", "banned-person watch")
    page.locator("#add-prohibition").evaluate("f => { f.noValidate = true; }")
    page.locator("#w-kind").select_option("court_order")
    with page.expect_navigation():
        page.get_by_role("button", name="Put on the watch").click()
    assert page.locator("#w-source-error").is_visible()
    audit.check(page, "admin", "banned-person watch refused", counts_for_route=False)
    page.locator("#w-source").fill("Riverton County court, order CO-17 (fictitious)")
    with page.expect_navigation():
        page.get_by_role("button", name="Put on the watch").click()
    assert "On the watch now" in page.locator("#watch-count").inner_text()
