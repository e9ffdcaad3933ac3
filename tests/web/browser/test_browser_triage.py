"""Triage end to end in a real browser: a member of the public sends a tip the rules make
P2, the server's own pipeline triages it, an analyst accepts P2 and hands it to another
agency, nobody there acknowledges, and the escalation e-mail reaches that agency's
primary contact on a real (local) SMTP server.

The live server's clock is frozen: the test moves it past the hand-off deadline and runs
the sweep against the server's database (the server's own sweeper runs once a minute of
real time), then delivers the e-mail with an ``SmtpMailer`` pointed at aiosmtpd.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from defchain.access import Agency, User
from defchain.chain.sweep import sweep
from defchain.intake import Report
from defchain.notify import deliver_pending
from defchain.triage import ClusterMember, HandOff
from tests.notify.smtp_server import smtp_server
from tests.web.browser.conftest import Live

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots")
CONTACT_EMAIL = "miguel.member@riverton.example.gov"
NARRATIVE = (
    "My coworker said he will make everyone at the warehouse pay, and he has been "
    "drawing maps of the loading dock and timing the shift changes."
)


def answer(page: Any, name: str, value: str) -> None:
    """Tick one radio button the way a person does: by its label."""
    page.locator(f"label[for='{name}-{value}']").click()


def wait_for(live: Live, predicate: Any, what: str, timeout: float = 20.0) -> Any:
    """Poll the server's database until ``predicate(session)`` gives something."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with live.db() as session:
            found = predicate(session)
            if found:
                return found
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
def agency_b_contact(live: Live) -> Iterator[User]:
    """Agency B's primary contact is Miguel Member, with an e-mail address; put back
    afterwards (the server's database is shared by the whole session)."""
    with live.db() as session:
        agency = session.get_one(Agency, live.ids["agency_B"])
        member = session.get_one(User, live.ids["user_member"])
        before = (agency.primary_contact_id, member.email)
        agency.primary_contact_id = member.id
        member.email = CONTACT_EMAIL
        session.commit()
    try:
        yield live.user("member")
    finally:
        with live.db() as session:
            agency = session.get_one(Agency, live.ids["agency_B"])
            member = session.get_one(User, live.ids["user_member"])
            agency.primary_contact_id, member.email = before
            session.commit()


def send_public_tip(page: Any, narrative: str, **answers: str) -> str:
    """Fill the public tip page as a member of the public; returns the tip code."""
    page.goto("/report")
    select = page.locator("select#jurisdiction_id")
    if select.count():
        select.select_option(label="Riverton County")
    page.locator("#narrative").fill(narrative)
    for name, value in answers.items():
        answer(page, name, value)
    with page.expect_navigation():
        page.locator("form.dc-report-form button[type=submit]").click()
    code: str = page.locator("#tip-code").inner_text().strip()
    return code


def test_a_p2_tip_is_triaged_handed_off_and_escalated_by_email(
    browser: Any, live: Live, public_intake: Live, agency_b_contact: User
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    public = browser.new_context(base_url=live.base_url, viewport={"width": 1280, "height": 900})
    staff = browser.new_context(base_url=live.base_url, viewport={"width": 1280, "height": 900})
    try:
        code = send_public_tip(
            public.new_page(),
            NARRATIVE,
            danger_now="no",
            threat_to_others="yes",
            preparation="yes",
            grievance="no",
            self_harm="no",
            weapons="no",
            date_or_target="no",
        )

        # The server's pipeline takes it after the commit: a suggestion of P2.
        def triaged(session: Any) -> int | None:
            report = session.scalars(select(Report).where(Report.tip_code == code)).one()
            return report.id if report.triage_state == "suggested" else None

        report_id = wait_for(live, triaged, "the pipeline to triage the tip")
        with live.db() as session:
            report = session.get_one(Report, report_id)
            assert report.priority == "P2", report.priority

        page = staff.new_page()
        page.set_default_timeout(10_000)
        live.sign_in(page, "analyst")
        page.get_by_role("navigation", name="Primary navigation").get_by_role(
            "link", name="Triage", exact=True
        ).click()
        assert page.url.endswith("/triage")
        row = page.locator("#triage-queue tr", has=page.locator(f"a[href='/reports/{report_id}']"))
        assert "P2 urgent" in row.inner_text()
        page.screenshot(path=str(SHOTS / "triage-queue.png"), full_page=True)

        with page.expect_navigation():
            row.locator(f"a[href='/reports/{report_id}']").click()
        assert page.locator("#suggested-priority").inner_text() == "P2 urgent"
        assert "have done something to prepare" in page.locator("#fired-rules").inner_text()
        assert page.locator("#priority-P2").is_checked()
        with page.expect_navigation():
            page.get_by_role("button", name="Save the priority").click()
        assert "the suggestion accepted" in page.locator("#triage-decision").inner_text()
        page.screenshot(path=str(SHOTS / "report-page.png"), full_page=True)

        page.get_by_label("Agency", exact=True).select_option(label=live.names["B"])
        page.get_by_label("Reason for the hand-off").fill(
            "The warehouse is in the school district's building; their team should lead."
        )
        with page.expect_navigation():
            page.get_by_role("button", name="Hand off", exact=True).click()
        with live.db() as session:
            report = session.get_one(Report, report_id)
            assert report.agency_id == live.ids["agency_B"]
            handoff = session.scalars(select(HandOff).where(HandOff.report_id == report_id)).one()
            assert handoff.acknowledged_at is None and handoff.due_at is not None
            handoff_id = handoff.id
        page.goto(f"/reports/{report_id}")  # agency A still reads it (a read grant)
        assert live.names["B"] in page.locator("#handoff-list").inner_text()
        page.screenshot(path=str(SHOTS / "report-page-handed-off.png"), full_page=True)

        # Nobody acknowledges: an hour (the P2 hand-off window) and a minute pass.
        live.clock.advance(minutes=61)
        with smtp_server() as (inbox, mailer):
            with live.db() as session:
                sweep(session, now=live.clock.now())
                session.commit()
            with live.db() as session:
                now = live.clock.now()
                deliver_pending(session, mailer=mailer, now=now, base_url=live.base_url)
                session.commit()
            subject = re.compile(
                rf"Late: Acknowledged \(hand-off\) for report #{report_id} is overdue"
            )

            def escalation() -> list[Any]:
                return [
                    (to, m)
                    for to, m in inbox.messages
                    # A long subject is folded over lines: compare it unfolded.
                    if subject.search(" ".join(str(m["Subject"]).split()))
                ]

            deadline = time.monotonic() + 5
            while not escalation() and time.monotonic() < deadline:
                time.sleep(0.05)
            found = escalation()
            assert found, [str(m["Subject"]) for _, m in inbox.messages]
            recipients, message = found[0]
            assert recipients == [CONTACT_EMAIL]
            assert CONTACT_EMAIL in str(message["To"])

        # The late hand-off is on the breaks page of the receiving agency.
        member = staff.new_page()
        live.sign_in(member, "member")
        member.goto("/chain/breaks")
        breaks = member.locator("#chain-breaks").inner_text()
        assert f"Report #{report_id}" in breaks and "Late" in breaks
        assert "primary contact" in breaks
        member.goto("/handoffs")
        assert f"Report #{report_id}" in member.locator("#handoff-queue").inner_text()
        with live.db() as session:
            assert session.get_one(HandOff, handoff_id).acknowledged_at is None
    finally:
        public.close()
        staff.close()


def make_cluster(live: Live) -> tuple[int, int]:
    """Two near-identical tips through the server's pipeline: (cluster id, report id)."""
    from defchain.intake import parse_report
    from defchain.intake import service as intake

    text = (
        "Someone left a note on the bus saying the Riverton stadium concert will be "
        "attacked on Saturday night by people who hate the band and its fans."
    )
    ids = []
    for _ in range(2):
        with live.db() as session:
            data = parse_report(
                {
                    "kind": "tip",
                    "channel": "web",
                    "narrative": text,
                    "jurisdiction_id": live.ids["jurisdiction"],
                },
                now=live.clock.now(),
            )
            report = intake.receive(session, data=data, source=intake.PUBLIC, now=live.clock.now())
            session.commit()
            ids.append(report.id)
    pipeline = live.app.state.ctx.pipeline
    if pipeline is not None:
        pipeline.wake()

    def clustered(session: Any) -> int | None:
        member = session.get(ClusterMember, ids[-1])
        return member.cluster_id if member is not None else None

    cluster_id = wait_for(live, clustered, "the pipeline to cluster two identical tips")
    return int(cluster_id), ids[-1]


def check_triage_pages(page: Any, audit: Any, live: Live, admin: Any) -> None:
    """For the accessibility test: the triage queue, a report's triage panel, a cluster,
    hand-offs and breaks as the analyst; deadlines (and its errors) as the admin."""
    cluster_id, report_id = make_cluster(live)
    for path, what in (
        ("/triage", "triage queue"),
        (f"/reports/{report_id}", "report with triage panel"),
        (f"/triage/clusters/{cluster_id}", "cluster"),
        ("/handoffs", "hand-offs"),
        ("/chain/breaks", "late steps"),
    ):
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        audit.check(page, "analyst", what)
    page.goto(f"/reports/{report_id}")
    page.locator("label[for=priority-P4]").click()
    with page.expect_navigation():
        page.get_by_role("button", name="Save the priority").click()
    assert page.locator("#reason-error").is_visible()
    audit.check(page, "analyst", "triage decision with errors", counts_for_route=False)

    response = admin.goto("/admin/deadlines")
    assert response is not None and response.status == 200
    audit.check(admin, "admin", "deadlines")
    box = admin.locator(f"#overrides-{live.ids['jurisdiction']}")
    box.fill("P2.assessed = soon")
    with admin.expect_navigation():
        admin.locator(f"#deadlines-{live.ids['jurisdiction']} button").click()
    assert admin.locator("#error-summary").is_visible()
    audit.check(admin, "admin", "deadlines with errors", counts_for_route=False)
