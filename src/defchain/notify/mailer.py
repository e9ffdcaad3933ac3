"""E-mail delivery of notifications, after the transaction that created them committed.

An e-mail says that something happened and links to it; it never carries case details
(e-mail leaves the agency's control), so the body is the subject line and the link.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from defchain.access import User
from defchain.notify.models import Notification

BATCH = 200
log = logging.getLogger(__name__)


class Mailer(Protocol):
    """Something that sends one plain-text e-mail."""

    def send(self, *, to: str, subject: str, body: str) -> None: ...


@dataclass(frozen=True)
class SmtpMailer:
    """Sends through an SMTP server (``DEFCHAIN_SMTP_*`` settings)."""

    host: str
    port: int
    sender: str
    starttls: bool = True
    user: str = ""
    password: str = ""
    timeout: float = 10.0

    def send(self, *, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.user:
                smtp.login(self.user, self.password)
            smtp.send_message(message)


def email_body(notification: Notification, *, base_url: str) -> str:
    """The whole e-mail: what happened (the subject) and where to read it; no details."""
    link = base_url.rstrip("/") + (notification.link or "/notifications")
    return (
        f"{notification.subject}\n\n"
        f"Sign in to read it: {link}\n\n"
        "This message carries no case details on purpose. "
        "Manage notifications at " + base_url.rstrip("/") + "/notifications\n"
    )


def deliver_pending(session: Session, *, mailer: Mailer, now: datetime, base_url: str = "") -> int:
    """E-mail every notification not yet e-mailed to a user with an address; mark each.

    Each one is marked ``emailed_at`` right after the server accepted it; when the server
    fails, the ones already sent stay marked and the rest wait for the next delivery.
    Returns how many were sent. Flushes, never commits.
    """
    query = (
        select(Notification, User.email)
        .join(User, User.id == Notification.user_id)
        .where(Notification.emailed_at.is_(None), User.email != "", User.disabled.is_(False))
        .order_by(Notification.id)
        .limit(BATCH)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=Notification, skip_locked=True)
    sent = 0
    for notification, address in session.execute(query).all():
        try:
            mailer.send(
                to=address,
                subject=f"Defense Chain: {notification.subject}",
                body=email_body(notification, base_url=base_url),
            )
        except (smtplib.SMTPException, OSError) as error:
            # The rest stay unsent (emailed_at NULL) and go out with the next delivery.
            log.warning("e-mail delivery stopped after %d sent: %s", sent, error)
            break
        notification.emailed_at = now
        session.flush()
        sent += 1
    return sent
