"""Assessment in a real browser: a team lead opens a case from a wellness-check report,
assesses it with DC-TA 1 (the wellness check pre-fills two answers, marked to be
confirmed; other answers cite the report), reads the reasons and the gaps, sees the gap
tasks on the case and the chart, then reassesses and a gap task closes. For the
accessibility test, every assessment page."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from defchain.access import User
from defchain.access import service as access_service
from defchain.cases import CaseTask
from defchain.intake import Report
from defchain.intake import service as intake_service
from defchain.intake.schemas import parse_report
from tests.web.browser.conftest import Live

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots")


def _goto(page: Any, path: str) -> None:
    response = page.goto(path)
    assert response is not None and response.status == 200, path


def wellness_check(live: Live) -> int:
    """A wellness check entered at agency A: weapons access reported, officer worried."""
    with live.db() as session:
        analyst = access_service.actor_for(session, session.get_one(User, live.ids["user_analyst"]))
        now = live.clock.now()
        payload = {
            "kind": "wellness_check",
            "channel": "staff",
            "jurisdiction_id": live.ids["jurisdiction"],
            "narrative": "Visited after a relative called; he talked about the plant manager.",
            "details": {
                "officer": "Officer Example #123",
                "checked_at": (now - timedelta(hours=3)).isoformat(),
                "contact_made": True,
                "weapons_access_reported": "yes",
                "officer_concern": "high",
            },
        }
        data = parse_report(payload, now=now)
        source = intake_service.Source(actor=analyst)
        report: Report = intake_service.receive(session, data=data, source=source, now=now)
        session.commit()
        return report.id


def answer(page: Any, item: str, value: str) -> None:
    """Tick an answer by its label, as a person does."""
    page.locator(f"label[for='answer-{item}-{value}']").click()


def open_case_from_report(page: Any, report_id: int, title: str) -> str:
    """From the report page's "Open a case" to the new case's page; returns its path."""
    _goto(page, f"/reports/{report_id}")
    with page.expect_navigation():
        page.get_by_role("link", name="Open a case").click()
    page.locator("#title").fill(title)
    with page.expect_navigation():
        page.get_by_role("button", name="Open the case").click()
    path = "/" + page.url.split("/", 3)[3]
    assert path.startswith("/cases/") and path.split("/")[2].isdigit(), page.url
    return path


def test_assess_a_case_with_evidence_and_see_reasons_gaps_and_tasks(
    browser: Any, live: Live
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    report_id = wellness_check(live)
    context = browser.new_context(base_url=live.base_url, viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        live.sign_in(page, "lead")
        case_path = open_case_from_report(page, report_id, "Concern at the fictitious plant")
        case_id = int(case_path.split("/")[2])
        assert "Not assessed yet" in page.locator("#assessment-panel").inner_text()

        page.locator("#instrument").select_option("DC-TA-1@1.0")
        with page.expect_navigation():
            page.locator("#assess-case").click()
        # The wellness check's fields pre-fill two answers, each citing its field.
        # (a USWDS tag shows its text in capitals: compare without case)
        tag = page.locator("#prefilled-weapons_access").inner_text()
        assert tag.lower() == "pre-filled, to be confirmed"
        assert page.locator("#prefilled-others_concerned").is_visible()
        assert page.locator("#answer-weapons_access-yes").is_checked()
        cited = page.locator("#evidence-weapons_access").input_value()
        assert cited == f"wellness:{report_id}:weapons_access_reported"

        # An answer that needs evidence, without it: refused, named, nothing saved.
        answer(page, "direct_threat", "no")
        with page.expect_navigation():
            page.locator("#record-assessment").click()
        summary = page.locator("#error-summary").inner_text()
        assert "told the target" in summary and "needs evidence" in summary
        assert "nothing was saved" in summary
        page.screenshot(path=str(SHOTS / "assessment-errors.png"), full_page=True)

        page.locator("#evidence-direct_threat").select_option(f"report:{report_id}")
        answer(page, "grievance", "yes")
        page.locator("#evidence-grievance").select_option(f"report:{report_id}")
        page.locator("#detail-grievance").fill("Talked about the plant manager")
        answer(page, "violent_ideation", "yes")
        page.locator("#evidence-violent_ideation").select_option(f"report:{report_id}")
        with page.expect_navigation():
            page.locator("#record-assessment").click()

        # The result explains itself: level, stage, reasons naming the answers, gaps.
        assert page.locator("#result-level").inner_text() == "Moderate"
        assert page.locator("#result-stage").inner_text() == "violent ideation"
        reasons = page.locator("#reasons").inner_text()
        assert "thought or talked about harming the target" in reasons
        assert "grievance" in reasons
        gaps = page.locator("#gaps").inner_text()
        assert "researched the target" in gaps
        answers = page.locator("#answers").inner_text()
        assert "Talked about the plant manager" in answers
        assert "pre-filled, confirmed" in answers.lower()
        page.screenshot(path=str(SHOTS / "assessment-result.png"), full_page=True)

        # The gap tasks appear on the case, owned by the lead; the chart is drawn.
        _goto(page, case_path)
        tasks = page.locator("#case-tasks").inner_text()
        assert "Find out: Has the person researched the target" in tasks
        page.wait_for_function("() => window.Chart && Chart.getChart('concern-chart')")
        page.screenshot(path=str(SHOTS / "case-with-assessment.png"), full_page=True)
        with live.db() as session:
            origin = "gap:DC-TA-1:research_planning"
            task = session.scalars(
                select(CaseTask).where(CaseTask.case_id == case_id, CaseTask.origin == origin)
            ).one()
            assert task.status == "open" and task.owner_user_id == live.ids["user_lead"]
            task_id = task.id

        # Reassess: the form starts from the lead's own answers; answering the gap
        # closes its task.
        with page.expect_navigation():
            page.locator("#assess-case").click()
        assert page.locator("#answer-grievance-yes").is_checked()
        answer(page, "research_planning", "no")
        with page.expect_navigation():
            page.locator("#record-assessment").click()
        _goto(page, case_path)
        assert page.locator("#assessment-history tbody tr").count() == 2
        with live.db() as session:
            task = session.get_one(CaseTask, task_id)
            assert task.status == "done", task.status
    finally:
        context.close()


def check_assessment_pages(page: Any, audit: Any, live: Live) -> None:
    """For the accessibility test: the form (fresh and with errors), a result, the case
    page with the chart, and the comparison, signed in as the lead."""
    report_id = wellness_check(live)
    case_path = open_case_from_report(page, report_id, "Accessibility case")
    case_id = int(case_path.split("/")[2])
    _goto(page, f"/cases/{case_id}/assessments/new")
    audit.check(page, "lead", "assessment form")
    answer(page, "direct_threat", "yes")
    with page.expect_navigation():
        page.locator("#record-assessment").click()
    audit.check(page, "lead", "assessment form with errors", counts_for_route=False)
    page.locator("#evidence-direct_threat").select_option(f"report:{report_id}")
    with page.expect_navigation():
        page.locator("#record-assessment").click()
    audit.check(page, "lead", "assessment result")
    first = int(page.url.rsplit("/", 1)[1])
    _goto(page, case_path)
    audit.check(page, "lead", "case with an assessment", counts_for_route=False)
    _goto(page, f"/cases/{case_id}/assessments/compare?first={first}&second={first}")
    audit.check(page, "lead", "assessment comparison")
