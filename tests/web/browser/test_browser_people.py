"""The person registry in a real browser: a grey-zone pair in the review queue, decided
with a reason, and the person's page showing what the decision added."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from defchain.access import Actor, Jurisdiction
from defchain.intake import parse_report
from defchain.intake import service as intake
from defchain.people import service as people
from defchain.people.rules import Decision
from tests.web.browser.conftest import Live
from tests.web.test_people_pages import MODEL, use_test_model

pytestmark = pytest.mark.browser
SCREENSHOTS = Path("/tmp/defchain-people-screenshots")


@dataclass(frozen=True)
class GreyPair:
    """A person from a first report, and a second report waiting for review."""

    person_id: int
    first_report_id: int
    second_report_id: int
    item_id: int


def _receive(live: Live, session: Any, subject: dict[str, str]) -> Any:
    jurisdiction = session.get(Jurisdiction, live.ids["jurisdiction"])
    assert jurisdiction is not None
    if jurisdiction.intake_agency_id is None:
        jurisdiction.intake_agency_id = live.ids["agency_A"]
    data = parse_report(
        {
            "kind": "tip",
            "channel": "web",
            "narrative": "A classmate says he talked about bringing a gun to the game.",
            "jurisdiction_id": jurisdiction.id,
            "subject": subject,
        },
        now=live.clock.now(),
    )
    return intake.receive(session, data=data, source=intake.PUBLIC, now=live.clock.now())


def seed_grey_pair(live: Live, *, surname: str, school: str, born: str) -> GreyPair:
    """Full name + school, then a nickname + the same school: a grey-zone pair under the
    test model. Each report is linked in the transaction that stores it (committed), so
    the server's background linker never sees them unlinked."""
    who = Actor.system("e2e")
    with live.db() as session:
        first = _receive(
            live,
            session,
            {"name": f"Jayden {surname}", "school": school, "date_of_birth": born},
        )
        made = people.link_report(session, report=first, who=who, now=live.clock.now(), model=MODEL)
        assert made.decision is Decision.NEW and made.person_id is not None
        second = _receive(live, session, {"nickname": "Jay", "school": school})
        grey = people.link_report(
            session, report=second, who=who, now=live.clock.now(), model=MODEL
        )
        assert grey.decision is Decision.REVIEW and grey.review_item_id is not None
        pair = GreyPair(made.person_id, first.id, second.id, grey.review_item_id)
        session.commit()
    return pair


@pytest.fixture
def test_model() -> Iterator[None]:
    """The server runs in this process: its decisions score with the test model too."""
    with pytest.MonkeyPatch.context() as patch:
        use_test_model(patch)
        yield


def _shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_an_analyst_decides_a_grey_pair_and_the_person_page_updates(
    page: Any, live: Live, test_model: None
) -> None:
    pair = seed_grey_pair(
        live, surname="Morales", school="Westfield High School", born="2009-04-02"
    )
    live.sign_in(page, "analyst")

    nav = page.get_by_role("navigation", name="Primary navigation")
    nav.get_by_role("link", name="People", exact=True).click()
    assert page.url.endswith("/people/review")
    _shot(page, "01-review-queue")
    page.locator(f"a[href='/people/review/{pair.item_id}']").click()
    assert page.url.endswith(f"/people/review/{pair.item_id}")

    # The report's subject next to the candidate, field by field.
    table = page.locator(f"#candidate-{pair.person_id} table")
    given = table.locator("tr", has=page.locator("th", has_text="Given name or nickname"))
    assert "Jay" in given.inner_text() and "nickname" in given.inner_text()
    school = table.locator("tr", has=page.locator("th", has_text="School or employer"))
    assert "exact" in school.inner_text()
    _shot(page, "02-review-item")

    page.locator(f"label[for='choice-{pair.person_id}']").click()  # USWDS hides the input
    page.get_by_label("Reason").fill("Same school and year; classmates call him Jay.")
    with page.expect_navigation():
        page.get_by_role("button", name="Record decision").click()

    assert re.search(rf"/people/{pair.person_id}\?decided={pair.item_id}$", page.url), page.url
    assert page.locator("#decided-notice").is_visible()
    nicknames = page.locator(
        "table.dc-identifiers", has=page.locator("caption", has_text="Nickname")
    )
    assert "Jay" in nicknames.inner_text()
    reports = page.locator("#linked-reports").inner_text()
    assert f"#{pair.first_report_id}" in reports and f"#{pair.second_report_id}" in reports
    assert "Same school and year; classmates call him Jay." in reports
    assert "Review decided" in page.locator("#person-timeline").inner_text()
    _shot(page, "03-person-after-decision")

    # The queue no longer offers the pair, and the report names its person.
    page.goto("/people/review")
    assert page.locator(f"a[href='/people/review/{pair.item_id}']").count() == 0
    page.goto(f"/reports/{pair.second_report_id}")
    assert page.locator(f"#report-people a[href='/people/{pair.person_id}']").is_visible()


def check_people_pages(page: Any, audit: Any, live: Live) -> None:
    """For the accessibility test: the queue, a review item (and with errors), a person
    with a merge in their history (and a form with errors), signed in as ``page``'s user."""
    with pytest.MonkeyPatch.context() as patch:
        use_test_model(patch)
        pair = seed_grey_pair(
            live, surname="Castillo", school="Maple Grove High School", born="2010-01-17"
        )
        other = seed_grey_pair(
            live, surname="Okafor", school="Brookside Academy", born="2008-11-30"
        )
        with live.db() as session:
            people.propose_merges(
                session,
                pairs=[people.Pair(pair.person_id, other.person_id, 0.91, {"org": 9.6})],
                who=Actor.system("e2e"),
                now=live.clock.now(),
            )
            people.merge(
                session,
                actor=Actor.system("e2e"),
                keep_id=pair.person_id,
                merge_id=other.person_id,
                reason="One student, two records.",
                now=live.clock.now(),
            )
            session.commit()

    def goto(path: str) -> None:
        response = page.goto(path)
        assert response is not None and response.status == 200, path

    goto("/people/review")
    audit.check(page, "analyst", "people review queue")
    goto("/people/proposals")
    audit.check(page, "analyst", "possible duplicates")
    goto(f"/people/review/{pair.item_id}")
    audit.check(page, "analyst", "people review item")
    page.locator("#decide-form").evaluate("f => { f.noValidate = true; }")
    page.get_by_role("button", name="Record decision").click()
    page.wait_for_load_state()
    assert page.locator("#error-summary").is_visible()
    audit.check(page, "analyst", "people review item with errors", counts_for_route=False)
    goto(f"/people/{pair.person_id}")
    audit.check(page, "analyst", "person with history")
    goto(f"/people/{other.person_id}")
    assert page.locator("#merged-notice").is_visible()
    audit.check(page, "analyst", "merged person")
    page.locator("#merge-form").evaluate("f => { f.noValidate = true; }")
    page.locator("summary", has_text="Merge another person").click()
    page.get_by_role("button", name=re.compile("^Merge into")).click()
    page.wait_for_load_state()
    assert page.locator("#error-summary").is_visible()
    audit.check(page, "analyst", "person merge with errors", counts_for_route=False)
