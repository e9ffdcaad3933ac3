"""Cases in a real browser: open a case from the form, add a task and complete it with
its outcome; and, for the accessibility test, every case page."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.browser.conftest import Live

pytestmark = pytest.mark.browser


def _goto(page: Any, path: str) -> None:
    response = page.goto(path)
    assert response is not None and response.status == 200, path


def open_case_in_the_browser(page: Any, title: str) -> str:
    """Fill in and send the new-case form; returns the case page's path."""
    _goto(page, "/cases/new")
    page.locator("#title").fill(title)
    with page.expect_navigation():
        page.get_by_role("button", name="Open the case").click()
    path = "/" + page.url.split("/", 3)[3]
    assert path.startswith("/cases/") and path.split("/")[2].isdigit(), page.url
    return path


def check_case_pages(page: Any, audit: Any, live: Live) -> None:
    """For the accessibility test: the new-case form (and with errors), a case with a
    task added and done, and the list, signed in as ``page``'s user."""
    _goto(page, "/cases/new")
    audit.check(page, "analyst", "new case")
    page.locator("#case-form").evaluate("f => { f.noValidate = true; }")
    page.get_by_role("button", name="Open the case").click()
    page.wait_for_load_state()
    assert page.locator("#title-error").is_visible()
    audit.check(page, "analyst", "new case with errors", counts_for_route=False)

    path = open_case_in_the_browser(page, "Threats at the game")
    page.locator("summary", has_text="Add a task").click()
    page.locator("#kind").select_option("interview")
    page.locator("#task-title").fill("Talk to the coach")
    page.locator("#owner_user_id").select_option(str(live.ids["user_analyst"]))
    page.locator("#due_on").fill("2026-01-09")
    with page.expect_navigation():
        page.get_by_role("button", name="Add the task").click()
    assert "Talk to the coach" in page.locator("#case-tasks").inner_text()
    audit.check(page, "analyst", "case with a task")
    page.locator("#case-tasks summary").first.click()
    page.locator("#case-tasks textarea").first.fill("He is on the team and fine.")
    with page.expect_navigation():
        page.get_by_role("button", name="Mark done").click()
    assert "He is on the team and fine." in page.locator("#case-tasks").inner_text()
    _goto(page, path)
    audit.check(page, "analyst", "case with a task done")
    _goto(page, "/cases")
    assert "Threats at the game" in page.locator("#case-list").inner_text()
    audit.check(page, "analyst", "case list")
