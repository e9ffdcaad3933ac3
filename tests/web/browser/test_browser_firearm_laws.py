"""The firearm-law pages in a real browser, for the accessibility test: a state with no
rows, Maryland's row with every cell unverified, its edit form (also refused), and its
history after a saved edit."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from defchain import reference
from defchain.reference import FirearmLaw
from tests.web.browser.conftest import Live

pytestmark = pytest.mark.browser


def _goto(page: Any, path: str, expect: int = 200) -> None:
    response = page.goto(path)
    assert response is not None and response.status == expect, path


def seeded_law(live: Live, state: str) -> int:
    """The id of ``state``'s row, seeding the table (committed; idempotent)."""
    with live.db() as session:
        reference.seed(session, live.clock.now())
        session.commit()
        law_id: int = session.scalars(select(FirearmLaw.id).where(FirearmLaw.state == state)).one()
        return law_id


def check_law_pages(page: Any, audit: Any, live: Live) -> None:
    """As an administrator: the table of the seeded jurisdiction's state (OH: no rows),
    Maryland's table, its edit form empty and refused, then saved, and its history."""
    law_id = seeded_law(live, "MD")
    _goto(page, "/reference/firearm-laws")
    assert page.locator("#no-laws").is_visible()
    audit.check(page, "admin", "firearm laws, none recorded")
    _goto(page, "/reference/firearm-laws?state=MD")
    assert page.locator("#law-banner").is_visible()
    assert page.locator("#law-table .dc-unverified").count() >= 1
    audit.check(page, "admin", "firearm laws in MD")

    _goto(page, f"/reference/firearm-laws/{law_id}/edit")
    audit.check(page, "admin", "edit a firearm law")
    page.locator("#law-form").evaluate("f => { f.noValidate = true; }")
    page.locator("#source_url").fill("not an address")
    page.get_by_role("button", name="Save the change").click()
    page.wait_for_load_state()
    assert page.locator("#source_url-error").is_visible()
    assert page.locator("#reason-error").is_visible()
    audit.check(page, "admin", "edit a firearm law with errors", counts_for_route=False)
    page.locator("#source_url").fill("https://mgaleg.maryland.gov/")
    page.locator("#reason").fill("Checked the source for the accessibility test")
    with page.expect_navigation():
        page.get_by_role("button", name="Save the change").click()
    assert page.locator("#law-saved").is_visible()

    _goto(page, f"/reference/firearm-laws/{law_id}/history")
    assert page.locator("#law-history > li").count() >= 1
    audit.check(page, "admin", "firearm law history")
