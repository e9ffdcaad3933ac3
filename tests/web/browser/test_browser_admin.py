"""Administration in a real browser: building a multi-agency team, form errors."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from defchain.access import Agency, Team, TeamMembership

pytestmark = pytest.mark.browser

TEAM_NAME = "Riverton Countywide Threat Assessment Team"


def test_admin_builds_a_team_with_members_from_two_agencies(page, live):
    AGENCY_A, AGENCY_B, JURISDICTION = live.names["A"], live.names["B"], live.names["jurisdiction"]
    live.sign_in(page, "admin")
    page.goto("/teams")
    page.get_by_role("link", name="New team").click()
    assert page.url == live.url("/admin/teams/new")

    page.get_by_label("Name").fill(TEAM_NAME)
    page.get_by_label("Jurisdiction").select_option(label=JURISDICTION)
    page.get_by_label("Purpose").fill("Schools, police and behavioral health together.")
    page.get_by_role("button", name="Create team").click()
    page.wait_for_url(re.compile(r"/teams/\d+$"))
    team_id = int(page.url.rsplit("/", 1)[1])
    assert page.get_by_role("heading", level=1).inner_text() == TEAM_NAME
    assert "No members yet." in page.locator("#members").inner_text()

    # A lead from agency A, then a member from agency B, through "Add a member".
    assert page.get_by_role("heading", name="Add a member").is_visible()
    page.get_by_label("User").select_option(label=f"Leah Lead ({AGENCY_A})")
    page.locator("label[for=is_lead]").click()  # USWDS hides the box itself; click its label
    assert page.locator("#is_lead").is_checked()
    page.get_by_role("button", name="Add to team").click()
    page.wait_for_url(live.url(f"/teams/{team_id}"))
    page.get_by_label("User").select_option(label=f"Miguel Member ({AGENCY_B})")
    assert not page.locator("#is_lead").is_checked()
    page.get_by_role("button", name="Add to team").click()
    page.wait_for_url(live.url(f"/teams/{team_id}"))

    rows = page.locator("#members tbody tr")
    assert rows.count() == 2
    cells = [[c.strip() for c in r.locator("td").all_inner_texts()[:3]] for r in rows.all()]
    assert cells == [
        ["Leah Lead", AGENCY_A, "Team lead"],
        ["Miguel Member", AGENCY_B, "Member"],
    ]
    agencies_line = page.locator("p", has_text="Agencies on this team:")
    # (text_content: the USWDS tag shows its text in capitals via CSS)
    assert agencies_line.locator(".usa-tag").all_text_contents() == [AGENCY_A, AGENCY_B]
    # Those already on the team are no longer offered.
    options = page.get_by_label("User").locator("option").all_inner_texts()
    assert not any(o.startswith(("Leah Lead", "Miguel Member")) for o in options)

    with live.db() as db:
        team = db.scalars(select(Team).where(Team.name == TEAM_NAME)).one()
        assert team.id == team_id
        members = {
            (m.user.username, m.user.agency.name, m.is_lead)
            for m in db.scalars(select(TeamMembership).where(TeamMembership.team_id == team_id))
        }
        assert members == {("lead", AGENCY_A, True), ("member", AGENCY_B, False)}


def test_agency_form_with_an_empty_name_is_shown_again_with_what_was_typed(page, live):
    JURISDICTION = live.names["jurisdiction"]
    live.sign_in(page, "admin")
    page.goto("/admin/agencies/new")
    with live.db() as db:
        agencies_before = db.scalar(select(func.count(Agency.id)))

    page.get_by_label("Kind").select_option(label="Sheriff's office")
    page.get_by_label("Jurisdiction").select_option(label=JURISDICTION)
    page.get_by_label("Phone").fill("555-0199")
    page.get_by_label("E-mail").fill("desk@sheriff.example.gov")

    # The browser itself refuses an empty required field ...
    page.get_by_role("button", name="Save").click()
    assert page.url == live.url("/admin/agencies/new")
    assert page.locator("#name").evaluate("el => !el.validity.valid && el.validity.valueMissing")
    assert page.locator("#error-summary").count() == 0

    # ... and so does the server when a browser does not check (e.g. no HTML5 validation).
    page.locator("form.usa-form").evaluate("form => { form.noValidate = true; }")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Save").click()
    assert posted.value.status == 422
    page.wait_for_load_state()

    summary = page.locator("#error-summary")
    assert summary.get_attribute("role") == "alert"
    assert summary.get_by_role("heading").inner_text() == "Please fix 1 problem"
    assert summary.locator("li").all_inner_texts() == ["Name: is required"]
    assert page.locator("#name-error").inner_text() == "Name: is required"
    assert "name-error" in (page.locator("#name").get_attribute("aria-describedby") or "")

    # Everything else typed is still there.
    assert page.get_by_label("Phone").input_value() == "555-0199"
    assert page.get_by_label("E-mail").input_value() == "desk@sheriff.example.gov"
    assert page.get_by_label("Kind").input_value() == "sheriff"
    assert page.get_by_label("Jurisdiction").input_value() == str(live.ids["jurisdiction"])
    assert page.locator("#active").is_checked()

    with live.db() as db:
        assert db.scalar(select(func.count(Agency.id))) == agencies_before


def test_home_shows_the_users_own_agency(page, live):
    live.sign_in(page, "admin")  # admin works at agency A (police)
    card = page.locator(".usa-card", has=page.get_by_role("heading", name="Your agency"))
    assert card.get_by_role("link").inner_text() == live.names["A"]
