"""A member of the public, with JavaScript turned off: tip, tip code, passphrase, follow-up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from defchain.access import User
from defchain.access.service import actor_for
from defchain.intake import Report, service
from tests.web.browser.conftest import Live

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def no_js(browser: Any, public_intake: Live) -> Iterator[Any]:
    """A phone-sized browser with JavaScript turned off."""
    ctx = browser.new_context(
        base_url=public_intake.base_url, java_script_enabled=False, viewport=PHONE
    )
    ctx.set_default_timeout(10_000)
    try:
        yield ctx.new_page()
    finally:
        ctx.close()


def fill_tip(page: Any) -> None:
    """Answer the guided questions the way a worried classmate would."""
    page.locator("label[for=danger_now-no]").click()
    page.get_by_label("Name", exact=True).fill("Casey Example")
    page.get_by_label("Nickname").fill("Case")
    page.get_by_label("School", exact=True).fill("Riverton High")
    page.get_by_label("Online name or handle").fill("@casey_x")
    page.get_by_label("What did they say or do?").fill(
        "Casey posted a photo of a rifle and wrote that Friday's assembly will be the last one."
    )
    page.get_by_label("When did it happen?").fill("Last night around 10 pm")
    page.get_by_label("Where did it happen?").fill("A group chat")
    page.locator("label[for=weapons-yes]").click()
    page.get_by_label("What about weapons?").fill("A rifle in the photo")
    page.locator("label[for=date_or_target-yes]").click()
    page.get_by_label("What date or target?").fill("Friday, the school assembly")
    page.get_by_label("How do you know this?").fill("I am in the group chat.")


def test_public_tip_with_javascript_off_then_follow_up(no_js: Any, public_intake: Live) -> None:
    page, live = no_js, public_intake
    response = page.goto("/report")
    assert response is not None and response.status == 200
    assert page.locator("html").get_attribute("lang") == "en"
    assert "In an emergency, call 911." in page.locator(".dc-emergency").inner_text()
    fill_tip(page)
    with page.expect_navigation():
        page.get_by_role("button", name="Send report").click()

    code = page.locator("#tip-code").inner_text().strip()
    assert len(code) == 14, code
    with live.db() as session:
        report = session.scalar(select(Report).where(Report.tip_code == code))
        assert report is not None
        assert (report.channel, report.danger_now) == ("web", False)
        assert report.subject["school"] == "Riverton High"
        assert report.details["weapons"] == "yes"
        assert report.received_at.second == 0

    page.locator("#passphrase").fill("purple lantern harbor")
    page.locator("#passphrase_again").fill("purple lantern harbor")
    with page.expect_navigation():
        page.get_by_role("button", name="Save passphrase").click()
    assert "Your passphrase is saved" in page.locator("main").inner_text()

    page.goto("/report/followup")
    page.get_by_label("Tip code").fill(code)
    page.get_by_label("Passphrase").fill("purple lantern harbor")
    with page.expect_navigation():
        page.get_by_role("button", name="Open").click()
    main = page.locator("main").inner_text()
    assert "received" in main
    assert "Casey" not in main and "assembly" not in main  # no case details

    # A staff question appears in the thread; the tipster answers it.
    with live.db() as session:
        report = session.scalar(select(Report).where(Report.tip_code == code))
        analyst = session.scalar(select(User).where(User.username == "analyst"))
        assert report is not None and analyst is not None
        service.staff_message(
            session,
            actor=actor_for(session, analyst),
            report=report,
            body="Thank you. Which grade is Casey in?",
            now=live.clock.now(),
        )
        session.commit()
    page.reload()
    assert "Which grade is Casey in?" in page.locator("main").inner_text()
    page.get_by_label("Your message").fill("Eleventh grade.")
    with page.expect_navigation():
        page.get_by_role("button", name="Send message").click()
    thread = page.locator(".dc-thread").inner_text()
    assert thread.index("Which grade") < thread.index("Eleventh grade.")


def test_danger_now_shows_call_911_with_javascript_off(no_js: Any, public_intake: Live) -> None:
    page = no_js
    page.goto("/report?lang=es")
    assert page.locator("html").get_attribute("lang") == "es"
    page.locator("label[for=danger_now-yes]").click()
    page.get_by_label("¿Qué dijo o qué hizo?").fill("Dijo que va a traer un arma mañana.")
    with page.expect_navigation():
        page.get_by_role("button", name="Enviar reporte").click()
    alert = page.locator(".usa-alert--emergency").first.inner_text()
    assert "Llame al 911 ahora" in alert
    assert page.locator("#tip-code").inner_text().strip()


def test_screenshots_of_the_tip_page(
    browser: Any, public_intake: Live, screenshot_dir: Path
) -> None:
    """Desktop and phone, English and Spanish, for people to look at."""
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        ctx = browser.new_context(
            base_url=public_intake.base_url, viewport=viewport, java_script_enabled=False
        )
        try:
            page = ctx.new_page()
            for lang in ("en", "es"):
                page.goto(f"/report?lang={lang}")
                page.screenshot(path=str(screenshot_dir / f"public-report-{name}-{lang}.png"))
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= viewport["width"], f"{name} {lang}: scrolls sideways ({width}px)"
        finally:
            ctx.close()
