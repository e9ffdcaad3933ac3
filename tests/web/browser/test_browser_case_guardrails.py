"""The case guardrails in a real browser: a close refused with every missing condition
listed, a long-term plan started from the page; and, for the accessibility test, the
admin case-settings page (also with errors) and a case page with the guardrails panel."""

from __future__ import annotations

from typing import Any

import pytest

from defchain import cases
from defchain.access import User
from defchain.access import service as access_service
from defchain.people import Person
from tests.web.browser.conftest import Live

pytestmark = pytest.mark.browser


def _goto(page: Any, path: str, expect: int = 200) -> None:
    response = page.goto(path)
    assert response is not None and response.status == expect, path


def high_case(live: Live, title: str) -> int:
    """A case of the seed team led by the lead, about one person, assessed high."""
    with live.db() as session:
        lead = access_service.actor_for(session, session.get_one(User, live.ids["user_lead"]))
        now = live.clock.now()
        person = Person(display_name="Jordan Example", created_at=now)
        session.add(person)
        session.flush()
        case = cases.open_case(
            session, lead, title=title, team_id=live.ids["team"], person_ids=[person.id],
            now=now,
        )  # fmt: skip
        cases.record_concern(session, lead, case, level="high", stage=None, assessed_at=now)
        session.commit()
        return case.id


def refuse_close(page: Any, case_id: int) -> list[str]:
    """Ask to close the case from its page; returns the missing conditions listed."""
    _goto(page, f"/cases/{case_id}")
    page.locator("#g-close-reason").fill("The team thinks we are done.")
    with page.expect_navigation():
        page.get_by_role("button", name="Close the case").click()
    box = page.locator("#closure-missing")
    assert box.is_visible()
    return [t.strip() for t in box.locator("li strong").all_inner_texts()]


def check_guardrail_pages(page: Any, audit: Any, live: Live) -> None:
    """For the accessibility test, as an administrator: the case-settings page (empty,
    refused, saved) and a case page with its guardrails, a refused close and a chronic
    case's plan."""
    _goto(page, "/admin/case-settings")
    audit.check(page, "admin", "case settings")
    page.locator("#case-settings-form").evaluate("f => { f.noValidate = true; }")
    page.locator("#review_low").fill("")
    page.get_by_role("button", name="Save the case settings").click()
    page.wait_for_load_state()
    assert page.locator("#review_low-error").is_visible()
    audit.check(page, "admin", "case settings with errors", counts_for_route=False)
    page.locator("#review_low").fill("90")
    with page.expect_navigation():
        page.get_by_role("button", name="Save the case settings").click()
    assert page.locator("#case-settings-saved").is_visible()
    audit.check(page, "admin", "case settings saved")

    case_id = high_case(live, "Guardrails for axe")
    _goto(page, f"/cases/{case_id}")
    assert page.locator("#closure-checklist li").count() == 7
    audit.check(page, "admin", "case with guardrails")
    assert "monitoring plan" in refuse_close(page, case_id)
    audit.check(page, "admin", "case close refused", counts_for_route=False)
    _goto(page, f"/cases/{case_id}")
    page.locator("summary", has_text="Make the case chronic").click()
    page.locator("label[for=g-with-after-hold]").click()
    page.locator("#g-chronic-reason").fill("Released after a 72-hour hold")
    with page.expect_navigation():
        page.get_by_role("button", name="Make the case chronic").click()
    assert page.locator("#g-care-items tbody tr").count() == 4
    audit.check(page, "admin", "chronic case with its plan")


def test_a_refused_close_lists_every_missing_condition(page: Any, live: Live) -> None:
    live.sign_in(page, "lead")
    case_id = high_case(live, "Refused close in the browser")
    assert refuse_close(page, case_id) == [
        "current low assessment",
        "firearm access",
        "plan outcome",
        "lead sign-off",
        "second sign-off",
        "monitoring plan",
    ]
    assert page.locator("#g-status-now").inner_text().startswith("Assessing")
    with page.expect_navigation():
        page.get_by_role("button", name="Schedule the default plan").click()
    assert page.locator("#g-checkins tbody tr").count() == 3
    checklist = page.locator("#closure-checklist li[data-condition='monitoring plan']")
    assert checklist.get_attribute("data-met") == "yes"
