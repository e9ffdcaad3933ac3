"""Staff report work in a real browser: every staff form, the tipster thread end to end,
and a bulk import with a bad row."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from defchain.access import Jurisdiction, User
from defchain.intake import parse_report, service
from tests.web.browser.conftest import Live
from tests.web.test_reports import VALID

pytestmark = pytest.mark.browser

# A text each kind's report page must show after the form is saved.
SHOWN = {
    "tip": ["Dorian Example", "She saw the post herself", "Pat Caller", "Walk-in"],
    "sar": ["Photography", "Observation or surveillance", "Riverside water treatment plant"],
    "nics_denial": ["NTN-0042-ABCD", "Felony conviction", "ATF field office", "Quinn Fictitious"],
    "purchase_attempt": ["A companion paid or handed over the money", "Two identical 9 mm"],
    "wellness_check": ["Officer Example #123", "County crisis team", "High"],
    "referral": ["Westfield High School (fictitious)", "Assistant principal"],
    "direct_threat": ["You will pay for the vote on Tuesday", "E-mail"],
}


def _fid(name: str) -> str:
    return "f-" + name.replace(".", "-")


def fill_report_form(page: Any, values: dict[str, Any]) -> None:
    """Type each value into its field the way a person would (labels for ticks)."""
    for name, value in values.items():
        if isinstance(value, list):
            for item in value:
                page.locator(f"label[for='{_fid(name)}-{item}']").click()
            continue
        exact = page.locator(f"#{_fid(name)}")
        if exact.count() == 0:  # a radio group: the option's own label
            page.locator(f"label[for='{_fid(name)}-{value}']").click()
            continue
        kind = exact.evaluate("e => e.tagName.toLowerCase() + ':' + (e.type || '')")
        if kind == "input:checkbox":
            page.locator(f"label[for='{_fid(name)}']").click()
        elif kind.startswith("select"):
            exact.select_option(value)
        else:
            exact.fill(value)


def _clear(live: Live, username: str, labels: list[str]) -> None:
    with live.db() as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        user.clearances = sorted(set(user.clearances) | set(labels))
        session.commit()


@pytest.mark.parametrize("kind", list(VALID))
def test_an_analyst_enters_each_kind_and_lands_on_its_page(
    page: Any, live: Live, kind: str
) -> None:
    _clear(live, "analyst", ["cji"])  # NICS denials are criminal justice information
    live.sign_in(page, "analyst")
    page.get_by_role("link", name="New report", exact=True).first.click()
    page.get_by_role("link", name=re.compile(SHOWN_TITLES[kind])).click()
    assert page.url.endswith(f"/reports/new/{kind}")

    fill_report_form(page, VALID[kind])
    with page.expect_navigation():
        page.get_by_role("button", name="Save report").click()

    assert re.search(r"/reports/\d+$", page.url), page.url
    text = page.locator("main").inner_text()
    for expected in SHOWN[kind]:
        assert expected in text, (kind, expected)


SHOWN_TITLES = {
    "tip": "Tip by phone or walk-in",
    "sar": "Suspicious activity report",
    "nics_denial": "NICS denial notification",
    "purchase_attempt": "Suspicious purchase attempt",
    "wellness_check": "Wellness check report",
    "referral": "^Referral$",
    "direct_threat": "Direct threat",
}


def test_a_form_with_errors_keeps_everything_and_names_each_field(page: Any, live: Live) -> None:
    live.sign_in(page, "analyst")
    page.goto("/reports/new/sar")
    values = {**VALID["sar"], "details.other_factors": "", "subject.date_of_birth": "05/2008"}
    fill_report_form(page, {k: v for k, v in values.items() if v})
    page.locator("#report-form").evaluate("f => { f.noValidate = true; }")
    page.get_by_role("button", name="Save report").click()
    page.wait_for_load_state()

    assert page.locator("#error-summary").is_visible()
    assert page.locator("#f-details-other_factors-error").is_visible()
    assert page.locator("#f-subject-date_of_birth-error").is_visible()
    assert page.locator("#f-subject-date_of_birth").input_value() == "05/2008"
    assert page.locator("#f-details-site").input_value() == VALID["sar"]["details.site"]
    assert page.locator("#f-details-categories-PHOTO").is_checked()


def _public_tip(live: Live, passphrase: str) -> tuple[int, str]:
    """A tip from the public page's service, with a passphrase (committed)."""
    with live.db() as session:
        jurisdiction = session.get(Jurisdiction, live.ids["jurisdiction"])
        assert jurisdiction is not None
        if jurisdiction.intake_agency_id is None:
            jurisdiction.intake_agency_id = live.ids["agency_A"]
        data = parse_report(
            {
                "kind": "tip",
                "channel": "web",
                "narrative": "A classmate said he has a plan for the pep rally",
                "jurisdiction_id": jurisdiction.id,
            },
            now=live.clock.now(),
        )
        report = service.receive(session, data=data, source=service.PUBLIC, now=live.clock.now())
        service.set_passphrase(session, report=report, passphrase=passphrase, now=live.clock.now())
        assert report.tip_code is not None
        ids = (report.id, report.tip_code)
        session.commit()
    return ids


def tipster_says(live: Live, report_id: int, body: str) -> None:
    """The tipster writes (which notifies agency A's intake analysts), committed."""
    with live.db() as session:
        report = service.get_report(session, report_id)
        service.tipster_message(session, report=report, body=body, now=live.clock.now())
        session.commit()


def test_the_tipster_sees_the_staff_reply_and_the_analyst_is_told_of_theirs(
    browser: Any, page: Any, live: Live
) -> None:
    passphrase = "blue heron over the river"
    report_id, tip_code = _public_tip(live, passphrase)

    live.sign_in(page, "analyst")
    page.goto(f"/reports/{report_id}")
    page.get_by_label("Reply to the tipster").fill("Thank you. Which class is he in?")
    with page.expect_navigation():
        page.get_by_role("button", name="Send reply").click()
    assert "Thank you. Which class is he in?" in page.locator("#staff-thread").inner_text()

    tipster_ctx = browser.new_context(base_url=live.base_url)
    try:
        tipster = tipster_ctx.new_page()
        tipster.goto("/report/followup")
        tipster.get_by_label("Tip code").fill(tip_code.lower().replace("-", " "))
        tipster.get_by_label("Passphrase").fill(passphrase)
        with tipster.expect_navigation():
            tipster.get_by_role("button", name="Open").click()
        body = tipster.locator("main").inner_text()
        assert "Thank you. Which class is he in?" in body
        assert "pep rally" not in body  # the tipster sees no case details, only the thread
        tipster.get_by_label("Your message").fill("Mr. Example's homeroom, room 12.")
        with tipster.expect_navigation():
            tipster.get_by_role("button", name="Send message").click()
    finally:
        tipster_ctx.close()

    page.goto("/home")
    before = _badge(page)
    assert before >= 1
    page.locator("#notification-badge").click()
    with page.expect_navigation():
        page.get_by_role("link", name=f"Tipster replied on report #{report_id}").click()
    assert page.url.endswith(f"/reports/{report_id}")
    assert "room 12" in page.locator("#staff-thread").inner_text()
    assert _badge(page) == before - 1  # opening the report read its notification


def _badge(page: Any) -> int:
    text = page.locator("#notification-badge").inner_text()
    match = re.fullmatch(r"Notifications \((\d+)\)", text)
    assert match, text
    return int(match.group(1))


CSV = (
    "narrative,subject.name,details.weapons\n"
    "Caller says a student will bring a knife to the dance,Demo Person One,yes\n"
    ",Demo Person Two,maybe\n"
    "Neighbor heard threats about the mall opening,Demo Person Three,unknown\n"
)


def test_a_bulk_import_with_a_bad_row(page: Any, live: Live) -> None:
    live.sign_in(page, "analyst")
    page.goto("/reports/import")
    page.get_by_label("Kind of report").select_option("tip")
    page.locator("label[for='fmt-csv']").click()
    file = {"name": "tips.csv", "mimeType": "text/csv", "buffer": CSV.encode()}
    page.get_by_label("File").set_input_files(file)
    with page.expect_navigation():
        page.get_by_role("button", name="Import").click()

    result = page.locator("#import-result").inner_text()
    assert "Imported 0 reports; 1 row rejected" in result
    rejected = page.locator("#rejected-rows tbody tr")
    assert rejected.count() == 1
    cells = rejected.first.locator("td").all_inner_texts()
    assert cells[0] == "3" and "narrative" in cells[1] and "details.weapons" in cells[1]

    page.get_by_label("File").set_input_files(file)  # a browser does not keep the file
    page.locator("label[for='skip_bad']").click()
    with page.expect_navigation():
        page.get_by_role("button", name="Import").click()
    assert "Imported 2 reports; 1 row rejected" in page.locator("#import-result").inner_text()

    page.goto("/reports?channel=import&q=mall+opening")
    assert page.locator("main table tbody tr").count() == 1


def test_inbox_filters_update_the_table_in_place_with_htmx(page: Any, live: Live) -> None:
    _public_tip(live, "another passphrase here")
    live.sign_in(page, "analyst")
    page.goto("/reports")
    page.evaluate("window.__same_document = true")  # gone if the page reloads

    page.get_by_label("Kind").select_option("wellness_check")
    page.wait_for_url(re.compile(r"kind=wellness_check"))
    page.wait_for_function(
        "!document.querySelector('#inbox-results a[href^=\"/reports/\"]')"
        " || document.querySelector('#inbox-results').innerText"
        ".includes('Wellness')"
    )

    assert page.evaluate("window.__same_document === true")
    rows = page.locator("#inbox-results tbody tr").all_inner_texts()
    assert rows and all("Wellness check report" in r or "No reports match" in r for r in rows)
    assert page.locator("#inbox-results").count() == 1  # swapped, not nested
