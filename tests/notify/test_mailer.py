"""E-mail delivery of notifications through a real SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from defchain import notify
from defchain.intake import service
from defchain.notify import Notification, SmtpMailer, deliver_pending
from tests.conftest import receive_public_tip
from tests.notify.smtp_server import Inbox, free_port, smtp_server


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, SmtpMailer]]:
    """A real SMTP server on a random local port, and a mailer pointed at it."""
    with smtp_server() as server:
        yield server


NARRATIVE = "Jayden said he will bring his father's rifle to the gym on Friday"


def _tip_with_tipster_reply(db: Any, cast: Any, clock: Any) -> Any:
    report = receive_public_tip(db, cast, clock, narrative=NARRATIVE)
    service.tipster_message(db, report=report, body="He has the rifle now", now=clock.now())
    return report


def test_pending_notifications_are_mailed_once_with_no_case_details(
    db: Any, cast: Any, clock: Any, smtp: tuple[Inbox, SmtpMailer]
) -> None:
    inbox, mailer = smtp
    report = _tip_with_tipster_reply(db, cast, clock)

    sent = deliver_pending(db, mailer=mailer, now=clock.now(), base_url="https://dc.example.gov")

    assert sent == 1
    inbox.wait_for(1)
    [(recipients, message)] = inbox.messages
    assert recipients == ["analyst_a@example.gov"]
    assert message["From"] == "dc@example.gov"
    assert message["Subject"] == f"Defense Chain: Tipster replied on report #{report.id}"
    body = message.get_payload(decode=True).decode()
    assert f"https://dc.example.gov/reports/{report.id}" in body
    for secret in ("Jayden", "rifle", "He has the rifle now", report.tip_code):
        assert secret not in body and secret not in str(message["Subject"])
    note = db.scalars(select(Notification)).one()
    assert note.emailed_at == clock.now()
    # Delivered once: a second run sends nothing.
    assert deliver_pending(db, mailer=mailer, now=clock.now()) == 0
    assert len(inbox.messages) == 1


def test_users_without_an_address_are_not_mailed_and_stay_pending(
    db: Any, cast: Any, clock: Any, smtp: tuple[Inbox, SmtpMailer]
) -> None:
    inbox, mailer = smtp
    cast.analyst_a.email = ""
    note = notify.notify_user(db, user_id=cast.analyst_a.id, tag="t", subject="Hi", now=clock.now())
    assert deliver_pending(db, mailer=mailer, now=clock.now()) == 0
    assert note.emailed_at is None and inbox.messages == []


def test_an_unreachable_server_leaves_notifications_pending(db: Any, cast: Any, clock: Any) -> None:
    note = notify.notify_user(db, user_id=cast.lead_a.id, tag="t", subject="Hi", now=clock.now())
    mailer = SmtpMailer(host="127.0.0.1", port=free_port(), sender="dc@example.gov", starttls=False)
    assert deliver_pending(db, mailer=mailer, now=clock.now()) == 0
    assert note.emailed_at is None
