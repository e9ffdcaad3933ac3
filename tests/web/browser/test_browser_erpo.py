"""An ERPO through every stage in a real browser, with the expiry reminder on the live
server's frozen clock: the case lead starts tracking an order about the case's subject,
records each stage from the case page (drafted, filed, ex parte with the state's hearing
deadline, hearing, final order with its expiry, served, the surrender of two firearms
with a receipt, the return date), then the clock moves to within 30 days of expiry, the
sweep runs, the lead finds the reminder in the app and in the mail, renews the order
and finally records that it expired. axe-core checks the panel as it fills up."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from axe_playwright_python.sync_playwright import Axe
from faker import Faker
from sqlalchemy import select

from defchain import cases
from defchain.access import User
from defchain.access import service as access_service
from defchain.chain.sweep import sweep
from defchain.firearms import ErpoOrder, Prohibition
from defchain.notify import Notification, deliver_pending
from defchain.people import Person
from tests.notify.smtp_server import smtp_server
from tests.web.browser.conftest import Live

pytestmark = pytest.mark.browser

fake = Faker()
Faker.seed(2024)
ZONE = ZoneInfo("America/New_York")  # the seeded jurisdiction's
LEAD_EMAIL = "leah.lead.erpo@riverton.example.gov"
BLOCKING = {"serious", "critical"}


@pytest.fixture
def lead_with_email(live: Live) -> Iterator[None]:
    """The lead has an e-mail address (put back afterwards: the database is shared)."""
    with live.db() as session:
        lead = session.get_one(User, live.ids["user_lead"])
        before = lead.email
        lead.email = LEAD_EMAIL
        session.commit()
    try:
        yield
    finally:
        with live.db() as session:
            session.get_one(User, live.ids["user_lead"]).email = before
            session.commit()


def case_with_subject(live: Live) -> tuple[int, str]:
    """A case of the seed team led by the lead, about one (fictitious) person."""
    with live.db() as session:
        lead = access_service.actor_for(session, session.get_one(User, live.ids["user_lead"]))
        now = live.clock.now()
        person = Person(display_name=fake.name(), created_at=now)
        session.add(person)
        session.flush()
        case = cases.open_case(
            session, lead, title="Threats to a former partner (fictitious)",
            team_id=live.ids["team"], person_ids=[person.id], now=now,
        )  # fmt: skip
        session.commit()
        return case.id, person.display_name


def no_blocking_violations(page: Any, what: str) -> None:
    """axe-core finds nothing serious or critical on the page as it is now."""
    page.wait_for_load_state("load")
    found = [
        f"{v['id']}: {v['help']} ({v['nodes'][0]['target'] if v['nodes'] else '?'})"
        for v in Axe().run(page).response["violations"]
        if v["impact"] in BLOCKING
    ]
    assert not found, f"{what}: {found}"


def submit(page: Any, form: str) -> None:
    with page.expect_navigation():
        page.locator(f"#{form} button[type=submit]").click()


def open_form(page: Any, form: str) -> None:
    page.locator(f"#{form}").evaluate("f => f.closest('details').open = true")


def iso(day: date) -> str:
    return day.isoformat()


def test_an_erpo_through_every_stage_with_the_expiry_reminder(
    page: Any, live: Live, lead_with_email: None, screenshot_dir: Path
) -> None:
    case_id, subject = case_with_subject(live)
    case_path = f"/cases/{case_id}"
    live.sign_in(page, "lead")
    page.goto(case_path)
    panel = page.locator("#erpo")
    assert panel.locator("h2").inner_text() == "Extreme risk protection orders"

    # 1. Start tracking: the petition is drafted today, under California's law.
    today = live.clock.now().astimezone(ZONE).date()
    page.locator("summary", has_text="Start tracking an ERPO").click()
    page.locator("#erpo-new-person").select_option(label=subject)
    page.locator("#erpo-new-drafted").fill(iso(today))
    page.locator("#erpo-new-state").fill("CA")
    submit(page, "erpo-new-form")
    assert page.url.endswith(f"{case_path}#erpo")
    with live.db() as session:
        order_id = session.scalars(select(ErpoOrder.id).where(ErpoOrder.case_id == case_id)).one()
    oid = f"erpo-{order_id}"
    assert page.locator(f"#{oid}-stage-now").inner_text() == "Petition drafted"
    assert subject in page.locator(f"#{oid}-heading").inner_text()

    def stage(value: str, day: date, expires: date | None = None) -> None:
        open_form(page, f"{oid}-stage-form")
        page.locator(f"#{oid}-stage-stage").select_option(value)
        page.locator(f"#{oid}-stage-at").fill(iso(day))
        if expires is not None:
            page.locator(f"#{oid}-stage-expires").fill(iso(expires))
        submit(page, f"{oid}-stage-form")

    def row(value: str) -> list[str]:
        cells = page.locator(f"#{oid}-{value}").locator("th, td").all_inner_texts()
        return [" ".join(c.split()) for c in cells]

    # 2. Filed, then an ex parte order: California sets the hearing within 21 days.
    stage("filed", today + timedelta(days=1))
    ex_parte = today + timedelta(days=2)
    stage("ex_parte", ex_parte)
    hearing_due = iso(ex_parte + timedelta(days=21))
    assert row("hearing") == ["Hearing", "—", hearing_due]
    current = row("ex_parte")[0].lower()
    assert current == "ex parte or temporary order current"  # the tag renders uppercase
    no_blocking_violations(page, "ERPO at the ex parte order")

    # 3. The hearing, on time; a final order refused without its expiry, then recorded.
    stage("hearing", today + timedelta(days=12))
    assert row("hearing")[1:] == [iso(today + timedelta(days=12)), hearing_due]
    assert row("hearing")[0].lower() == "hearing current"
    final = today + timedelta(days=13)
    stage("final_order", final)
    assert page.locator(f"#{oid}-stage-expires-error").inner_text() == (
        "Expires on: a final order needs the day it expires"
    )
    assert page.locator("#error-summary").is_visible()
    no_blocking_violations(page, "ERPO final order refused")
    page.screenshot(path=str(screenshot_dir / "erpo-final-order-refused.png"), full_page=True)
    panel.screenshot(path=str(screenshot_dir / "erpo-panel-final-order-refused.png"))
    expires = final + timedelta(days=45)  # a short order: the clock moves weeks, not a year
    stage("final_order", final, expires=expires)
    assert page.locator(f"#{oid}-expires").inner_text() == iso(expires)
    stage("served", today + timedelta(days=14))
    assert page.locator(f"#{oid}-stage-now").inner_text() == "Order served"

    # 4. The surrender: two firearms (the third row stays blank) and the receipt.
    guns = [
        ("Handgun", fake.company(), fake.bothify("??#######").upper(), "Sheriff's property room"),
        ("Shotgun", fake.company(), fake.bothify("??#######").upper(), "Licensed dealer vault"),
    ]
    receipt = f"Receipt {fake.bothify('RC-####-####')}"
    surrendered = today + timedelta(days=15)
    open_form(page, f"{oid}-surrender-form")
    for index, values in enumerate(guns):
        for name, value in zip(("type", "make", "serial_number", "stored_at"), values, strict=True):
            page.locator(f"#{oid}-surrender-{index}-{name}").fill(value)
    page.locator(f"#{oid}-surrender-receipt").fill(receipt)
    page.locator(f"#{oid}-surrender-on").fill(iso(surrendered))
    submit(page, f"{oid}-surrender-form")
    assert page.locator(f"#{oid}-stage-now").inner_text() == "Firearms surrendered"
    rows = page.locator(f"#{oid}-inventory tbody tr")
    assert rows.count() == 2
    for index, (kind, make, serial, stored) in enumerate(guns):
        assert rows.nth(index).locator("td").all_inner_texts() == [
            kind, make, serial, stored, iso(surrendered),
        ]  # fmt: skip
    assert page.locator(f"#{oid}-receipt").inner_text() == receipt

    # 5. The return of the firearms: the day after the order ends.
    open_form(page, f"{oid}-return-form")
    returned = expires + timedelta(days=1)
    page.locator(f"#{oid}-return-on").fill(iso(returned))
    submit(page, f"{oid}-return-form")
    assert page.locator(f"#{oid}-return-now").inner_text() == iso(returned)
    assert page.locator(f"#{oid}-expiring").count() == 0
    no_blocking_violations(page, "ERPO surrendered")
    page.screenshot(path=str(screenshot_dir / "erpo-surrendered.png"), full_page=True)
    with live.db() as session:
        order = session.get_one(ErpoOrder, order_id)
        assert [getattr(order, f) is not None for f in (
            "petition_drafted_at", "filed_at", "ex_parte_at", "hearing_at", "final_order_at",
            "served_at", "surrendered_at",
        )] == [True] * 7  # fmt: skip
        assert order.expires_at is not None and order.reminded_at is None
        expires_at = order.expires_at

    # 6. Three weeks before the expiry: the sweep reminds the lead, in the app and by mail.
    live.clock.set(max(live.clock.now(), expires_at - timedelta(days=21)))
    with smtp_server() as (inbox, mailer):
        with live.db() as session:
            sweep(session, now=live.clock.now())
            session.commit()
        subject_line = f"ERPO #{order_id} on case #{case_id} expires soon: review a renewal"
        with live.db() as session:
            reminders = session.scalars(
                select(Notification).where(
                    Notification.user_id == live.ids["user_lead"],
                    Notification.tag == "firearms:erpo:expiring",
                    Notification.subject == subject_line,
                )
            ).all()
            assert len(reminders) == 1

        def mailed() -> list[Any]:
            return [
                (to, m)
                for to, m in inbox.messages
                if subject_line in " ".join(str(m["Subject"]).split())
            ]

        deadline = time.monotonic() + 10
        while not mailed() and time.monotonic() < deadline:
            with live.db() as session:
                sent = deliver_pending(
                    session, mailer=mailer, now=live.clock.now(), base_url=live.base_url
                )
                session.commit()
            if not sent:
                time.sleep(0.05)
        found = mailed()
        assert found, [str(m["Subject"]) for _, m in inbox.messages]
        assert found[0][0] == [LEAD_EMAIL]

    # The weeks have ended the lead's session: sign in again.
    page.context.clear_cookies()
    live.sign_in(page, "lead")
    page.goto("/notifications")
    assert subject_line in page.locator("main").inner_text()
    page.screenshot(path=str(screenshot_dir / "erpo-reminder-notification.png"), full_page=True)
    with page.expect_navigation():
        page.get_by_role("link", name=subject_line).first.click()
    assert page.url.endswith(case_path)
    alert = page.locator(f"#{oid}-expiring")
    assert alert.is_visible()
    assert "Expires within 30 days — review a renewal." in alert.inner_text()
    assert "expires soon" in page.locator(f"#{oid}-expires").inner_text().lower()
    no_blocking_violations(page, "ERPO expiring soon")
    page.screenshot(path=str(screenshot_dir / "erpo-expiring-soon.png"), full_page=True)
    panel.screenshot(path=str(screenshot_dir / "erpo-panel-expiring-soon.png"))

    # 7. The lead renews the order for another year: the alert goes away.
    renewed = expires + timedelta(days=365)
    assert page.locator(f"#{oid}-renew-form").is_visible()  # open while expiry is near
    page.locator(f"#{oid}-renew-expires").fill(iso(renewed))
    submit(page, f"{oid}-renew-form")
    assert page.locator(f"#{oid}-expires").inner_text() == iso(renewed)
    assert page.locator(f"#{oid}-expiring").count() == 0
    with live.db() as session:
        order = session.get_one(ErpoOrder, order_id)
        assert order.reminded_at is None  # a new reminder is due before the new expiry

    # 8. Finally the order ends: expired today; no form is left and the watch ends.
    now = live.clock.now()
    stage("expired", now.astimezone(ZONE).date())
    assert page.locator(f"#{oid}-stage-now").inner_text() == "Expired"
    assert row("expired")[0].lower() == "expired current"
    for form in ("stage", "surrender", "renew"):
        assert page.locator(f"#{oid}-{form}-form").count() == 0, form
    assert page.locator(f"#{oid}-return-form").count() == 1  # the return is still tracked
    no_blocking_violations(page, "ERPO expired")
    page.screenshot(path=str(screenshot_dir / "erpo-expired.png"), full_page=True)
    with live.db() as session:
        order = session.get_one(ErpoOrder, order_id)
        assert order.stage == "expired"
        end_of_day = datetime.combine(now.astimezone(ZONE).date(), datetime.max.time(), ZONE)
        assert order.expired_at is not None and order.expired_at <= end_of_day.astimezone(UTC)
        (ban,) = session.scalars(select(Prohibition).where(Prohibition.order_id == order_id))
        assert ban.ends_at == order.expired_at
