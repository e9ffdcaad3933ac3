"""E-mail delivery of notifications, after the transaction that created them committed.

An e-mail says that something happened and links to it; it never carries case details
(e-mail leaves the agency's control), so the body is the subject line and the link.

Delivery is three steps so that no database transaction is open while SMTP talks:
``claim_due`` picks the due notifications (urgent first) and leases them
(``next_attempt_at`` moves ``LEASE`` ahead, under ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so two processes never pick the same row); ``send_claimed`` sends them with
no database at all; ``record_outcomes`` marks each sent one ``emailed_at``, puts each
failed one off by ``rules.retry_after(attempts)`` and hands the untried ones back. A
notification is never dropped: it waits until it is sent. ``MailWorker`` runs the three
in transactions of their own; ``deliver_pending`` runs them in the caller's session.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Protocol

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from defchain.access import User
from defchain.notify.models import Notification
from defchain.notify.rules import retry_after

BATCH = 200
# A claimed notification is someone's for this long; if that process dies before it
# records the outcome, another one sends it after the lease (at least once, never lost).
LEASE = timedelta(minutes=10)
# A server that refuses this many messages in a row is failing: stop the round.
MAX_REFUSED_IN_A_ROW = 3
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


@dataclass(frozen=True)
class Outgoing:
    """One claimed notification, ready to send without the database."""

    id: int
    to: str
    subject: str
    body: str
    urgent: bool
    # ``next_attempt_at`` before the claim: given back when it is not tried this round.
    held_until: datetime | None


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed notification: sent, failed (``error``) or not tried."""

    outgoing: Outgoing
    tried: bool
    error: str = ""

    @property
    def sent(self) -> bool:
        return self.tried and not self.error


def _due(now: datetime) -> list[ColumnElement[bool]]:
    return [
        Notification.emailed_at.is_(None),
        or_(Notification.deliver_after.is_(None), Notification.deliver_after <= now),
        or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now),
        User.email != "",
        User.disabled.is_(False),
    ]


def claim_due(
    session: Session, *, now: datetime, limit: int = BATCH, base_url: str = ""
) -> list[Outgoing]:
    """Lease up to ``limit`` notifications due at ``now`` (urgent first, then oldest).

    Due: not e-mailed, ``deliver_after`` (quiet hours) and ``next_attempt_at`` (retry
    backoff) empty or past, to an enabled user with an address. Flushes, never commits.
    """
    query = (
        select(Notification, User.email)
        .join(User, User.id == Notification.user_id)
        .where(*_due(now))
        .order_by(Notification.urgent.desc(), Notification.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=Notification, skip_locked=True)
    batch: list[Outgoing] = []
    for notification, address in session.execute(query).all():
        batch.append(
            Outgoing(
                id=notification.id,
                to=address,
                subject=f"Defense Chain: {notification.subject}",
                body=email_body(notification, base_url=base_url),
                urgent=notification.urgent,
                held_until=notification.next_attempt_at,
            )
        )
        notification.next_attempt_at = now + LEASE
    session.flush()
    return batch


def _server_down(error: BaseException) -> bool:
    """The server could not be reached or dropped us: every next message would fail too."""
    if isinstance(error, smtplib.SMTPConnectError | smtplib.SMTPServerDisconnected):
        return True
    return isinstance(error, OSError) and not isinstance(error, smtplib.SMTPException)


def short_error(error: BaseException) -> str:
    """The failure in a few words for ``last_error``: the kind and the SMTP code, never the
    server's text (it may echo the address or the subject)."""
    kind = type(error).__name__
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = sorted({str(code) for code, _ in error.recipients.values()})
        return f"{kind}: SMTP {', '.join(codes)}"[:300]
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{kind}: SMTP {error.smtp_code}"
    if isinstance(error, OSError) and not isinstance(error, smtplib.SMTPException):
        reason = error.strerror or ""
        return f"{kind}: {reason}".rstrip(": ")[:300]
    return kind


def send_claimed(mailer: Mailer, batch: Sequence[Outgoing]) -> list[Outcome]:
    """Send each claimed notification; no database. Stops at the first failure that means
    the server is down (refused connection, timeout, disconnect) or after
    ``MAX_REFUSED_IN_A_ROW`` refused messages, so a broken server is not hammered; what
    was not tried comes back as not tried."""
    outcomes: list[Outcome] = []
    refused_in_a_row = 0
    for index, outgoing in enumerate(batch):
        try:
            mailer.send(to=outgoing.to, subject=outgoing.subject, body=outgoing.body)
        except Exception as error:  # any failure is retried, never dropped
            message = short_error(error)
            if isinstance(error, smtplib.SMTPException | OSError):
                log.warning("e-mail of notification %d failed: %s", outgoing.id, message)
            else:
                log.exception("e-mail of notification %d failed unexpectedly", outgoing.id)
            outcomes.append(Outcome(outgoing, tried=True, error=message))
            refused_in_a_row += 1
            if _server_down(error) or refused_in_a_row >= MAX_REFUSED_IN_A_ROW:
                outcomes.extend(Outcome(rest, tried=False) for rest in batch[index + 1 :])
                break
            continue
        refused_in_a_row = 0
        outcomes.append(Outcome(outgoing, tried=True))
    return outcomes


def record_outcomes(session: Session, outcomes: Sequence[Outcome], *, now: datetime) -> int:
    """Mark sent notifications ``emailed_at``; put failed ones off by
    ``retry_after(attempts)`` with ``last_error``; give untried ones back. Returns how many
    were sent. Flushes, never commits."""
    if not outcomes:
        return 0
    ids = [outcome.outgoing.id for outcome in outcomes]
    rows = {n.id: n for n in session.scalars(select(Notification).where(Notification.id.in_(ids)))}
    sent = 0
    for outcome in outcomes:
        notification = rows.get(outcome.outgoing.id)
        if notification is None:
            continue
        if outcome.sent:
            notification.emailed_at = now
            notification.next_attempt_at = None
            sent += 1
        elif outcome.tried:
            notification.attempts += 1
            notification.next_attempt_at = now + retry_after(notification.attempts)
            notification.last_error = outcome.error[:300]
        else:
            notification.next_attempt_at = outcome.outgoing.held_until
    session.flush()
    return sent


def deliver_pending(session: Session, *, mailer: Mailer, now: datetime, base_url: str = "") -> int:
    """Claim, send and record one batch inside the caller's session; returns how many
    were sent. Flushes, never commits.

    Holds the caller's transaction open while SMTP talks (on SQLite: the write lock), so
    a long-running process uses ``MailWorker`` instead, which commits between the steps.
    """
    batch = claim_due(session, now=now, base_url=base_url)
    return record_outcomes(session, send_claimed(mailer, batch), now=now)
