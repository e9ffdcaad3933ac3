"""Delivery that reaches a person: quiet hours, urgent first, retries that never drop a
notification, and the mail worker thread, all against a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from defchain import notify
from defchain.notify import MailWorker, Notification, SmtpMailer, claim_due, deliver_pending
from tests.notify.smtp_server import Inbox, free_port

# The test clock starts at 2026-01-05 09:00 UTC: 04:00 in the cast's America/New_York.
QUIET = ("22:00", "07:00")  # so lead_a is in quiet hours until 07:00 EST = 12:00 UTC
QUIET_END = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


class Refusing(Inbox):
    """An SMTP server that answers every message with 451 (try again later)."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), None))  # type: ignore[arg-type]
        return "451 4.3.0 Mailbox busy, try again later"


@contextmanager
def server_on(port: int, handler: Inbox | None = None) -> Iterator[Inbox]:
    """A real SMTP server on ``port`` (one the mailer already points at)."""
    inbox = handler or Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


def mailer_for(port: int) -> SmtpMailer:
    return SmtpMailer(
        host="127.0.0.1", port=port, sender="dc@example.gov", starttls=False, timeout=5.0
    )


@pytest.fixture
def port() -> int:
    return free_port()


def _note(db: Session, user: Any, clock: Any, subject: str, **kwargs: Any) -> Notification:
    return notify.notify_user(
        db, user_id=user.id, tag="t", subject=subject, link="/home", now=clock.now(), **kwargs
    )


def _subjects(inbox: Inbox) -> list[str]:
    return [str(message["Subject"]) for _, message in inbox.messages]


# --- quiet hours and urgency -------------------------------------------------------------


def test_urgent_ignores_quiet_hours_and_the_rest_waits_until_they_end(
    db: Session, cast: Any, clock: Any, port: int
) -> None:
    cast.lead_a.quiet_start, cast.lead_a.quiet_end = QUIET
    later = _note(db, cast.lead_a, clock, "Routine")
    p1 = _note(db, cast.lead_a, clock, "P1 alert", urgent=True)
    assert (later.urgent, later.deliver_after) == (False, QUIET_END)
    assert (p1.urgent, p1.deliver_after) == (True, None)
    # In the app both show at once.
    assert notify.unread_count(db, user_id=cast.lead_a.id) == 2

    with server_on(port) as inbox:
        mailer = mailer_for(port)
        assert deliver_pending(db, mailer=mailer, now=clock.now()) == 1
        inbox.wait_for(1)
        assert _subjects(inbox) == ["Defense Chain: P1 alert"]
        assert later.emailed_at is None

        clock.advance(hours=2, minutes=59)  # 11:59 UTC: still quiet
        assert deliver_pending(db, mailer=mailer, now=clock.now()) == 0
        clock.advance(minutes=1)  # 07:00 in New York
        assert deliver_pending(db, mailer=mailer, now=clock.now()) == 1
        inbox.wait_for(2)
    assert _subjects(inbox) == ["Defense Chain: P1 alert", "Defense Chain: Routine"]
    assert later.emailed_at == QUIET_END


def test_outside_quiet_hours_or_without_them_nothing_waits(
    db: Session, cast: Any, clock: Any
) -> None:
    cast.lead_a.quiet_start, cast.lead_a.quiet_end = "12:00", "13:00"  # not 04:00
    assert _note(db, cast.lead_a, clock, "a").deliver_after is None
    assert _note(db, cast.analyst_a, clock, "b").deliver_after is None  # no quiet hours


def test_urgent_notifications_are_sent_first(db: Session, cast: Any, clock: Any) -> None:
    routine = [_note(db, cast.analyst_a, clock, f"Routine {n}") for n in range(3)]
    p1 = _note(db, cast.lead_a, clock, "P1 alert", urgent=True)
    claimed = claim_due(db, now=clock.now(), limit=2)
    assert [c.id for c in claimed] == [p1.id, routine[0].id]


# --- failures: retried with backoff, never dropped ----------------------------------------


def test_a_down_server_fails_one_message_and_leaves_the_rest_for_later(
    db: Session, cast: Any, clock: Any, port: int
) -> None:
    first, second, third = (_note(db, cast.lead_a, clock, f"Note {n}") for n in range(3))
    mailer = mailer_for(port)  # nothing listens there: connection refused

    assert deliver_pending(db, mailer=mailer, now=clock.now()) == 0
    # Only the first was tried (no hammering a server that is down).
    assert (first.attempts, first.next_attempt_at) == (1, clock.now() + timedelta(minutes=1))
    assert first.last_error.startswith("ConnectionRefusedError")
    assert "Note" not in first.last_error and "lead_a" not in first.last_error
    for untried in (second, third):
        assert (untried.attempts, untried.next_attempt_at, untried.last_error) == (0, None, "")
    assert all(n.emailed_at is None for n in (first, second, third))

    with server_on(port) as inbox:
        # The server is back: the untried ones go now, the failed one after its backoff.
        assert deliver_pending(db, mailer=mailer, now=clock.now()) == 2
        assert first.emailed_at is None
        clock.advance(minutes=1)
        assert deliver_pending(db, mailer=mailer, now=clock.now()) == 1
        inbox.wait_for(3)
    assert sorted(_subjects(inbox)) == [f"Defense Chain: Note {n}" for n in range(3)]
    assert first.emailed_at == clock.now() and first.attempts == 1


def test_a_refusing_server_backs_off_for_ever_at_the_cap_and_still_delivers(
    db: Session, cast: Any, clock: Any, port: int
) -> None:
    note = _note(db, cast.lead_a, clock, "Tipster replied on report #7")
    mailer = mailer_for(port)
    waits = []
    with server_on(port, Refusing()) as refusing:
        for _ in range(12):
            assert deliver_pending(db, mailer=mailer, now=clock.now()) == 0
            assert note.next_attempt_at is not None
            waits.append((note.next_attempt_at - clock.now()) / timedelta(minutes=1))
            # Before the backoff ends nothing is tried.
            tried = len(refusing.messages)
            assert deliver_pending(db, mailer=mailer, now=clock.now()) == 0
            assert len(refusing.messages) == tried
            clock.advance(minutes=waits[-1])
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60, 60, 60, 60]
    assert note.attempts == 12 and note.emailed_at is None
    assert note.last_error == "SMTPDataError: SMTP 451"  # the code, never the server's text

    with server_on(port) as inbox:
        assert deliver_pending(db, mailer=mailer, now=clock.now()) == 1
        inbox.wait_for(1)
    assert _subjects(inbox) == ["Defense Chain: Tipster replied on report #7"]
    assert db.scalars(select(Notification.emailed_at)).one() == clock.now()


def test_a_refusing_server_stops_the_round_after_three_refusals(
    db: Session, cast: Any, clock: Any, port: int
) -> None:
    notes = [_note(db, cast.lead_a, clock, f"Note {n}") for n in range(5)]
    with server_on(port, Refusing()) as refusing:
        assert deliver_pending(db, mailer=mailer_for(port), now=clock.now()) == 0
    assert len(refusing.messages) == 3
    assert [n.attempts for n in notes] == [1, 1, 1, 0, 0]
    assert [n.next_attempt_at is None for n in notes] == [False, False, False, True, True]


# --- the mail worker thread -------------------------------------------------------------


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the mail worker")
        time.sleep(0.01)


@pytest.fixture
def factory(db: Session) -> sessionmaker[Session]:
    """Sessions on the test's connection (each commit releases a savepoint)."""
    return sessionmaker(
        bind=db.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
def worker_for(factory: sessionmaker[Session], clock: Any) -> Iterator[Any]:
    """``worker_for(port, **options)``: a started mail worker; closed after the test.

    The worker shares the test's connection: a test touches ``db`` only while the worker
    is idle (after ``wait_until`` a round has finished)."""
    workers: list[MailWorker] = []

    def make(port: int, **options: Any) -> MailWorker:
        options.setdefault("interval", 60.0)  # rounds come from wake() in these tests
        worker = MailWorker(factory, mailer_for(port), clock, "https://dc.example.gov", **options)
        worker.start()
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker.close(timeout=10)


def test_the_worker_delivers_after_wake_and_survives_a_failing_server(
    db: Session, cast: Any, clock: Any, port: int, worker_for: Any
) -> None:
    note = _note(db, cast.lead_a, clock, "Report #3 was assigned to you")
    db.flush()
    worker = worker_for(port)  # nothing listens on the port yet
    worker.wake()
    wait_until(lambda: worker.rounds >= 1)
    db.refresh(note)
    assert note.attempts == 1 and note.emailed_at is None
    assert worker.running

    with server_on(port) as inbox:
        clock.advance(minutes=1)
        worker.wake()
        wait_until(lambda: worker.rounds >= 2)
        inbox.wait_for(1)
    db.refresh(note)
    assert note.emailed_at == clock.now()
    [(recipients, message)] = inbox.messages
    assert recipients == ["lead_a@example.gov"]
    assert "https://dc.example.gov/home" in message.get_payload(decode=True).decode()
    assert worker.running and worker.sent == 1


def test_the_worker_keeps_going_while_full_batches_are_sent(
    db: Session, cast: Any, clock: Any, port: int, worker_for: Any
) -> None:
    notes = [_note(db, cast.analyst_a, clock, f"Note {n}") for n in range(5)]
    db.flush()
    with server_on(port) as inbox:
        worker = worker_for(port, batch=2)
        worker.wake()  # one wake: rounds of 2, 2, 1
        wait_until(lambda: worker.sent == 5 and worker.rounds >= 3)
        inbox.wait_for(5)
    assert len(inbox.messages) == 5
    for note in notes:
        db.refresh(note)
        assert note.emailed_at is not None


def test_the_worker_logs_any_error_and_carries_on(
    db: Session,
    cast: Any,
    clock: Any,
    port: int,
    factory: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
) -> None:
    note = _note(db, cast.lead_a, clock, "Hello")
    db.flush()
    calls = {"n": 0}

    def flaky() -> Session:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("database went away")
        return factory()

    with server_on(port) as inbox:
        worker = MailWorker(flaky, mailer_for(port), clock, interval=60.0)
        worker.start()
        try:
            worker.wake()
            wait_until(lambda: worker.errors == 1)
            assert worker.running and worker.sent == 0
            worker.wake()
            wait_until(lambda: worker.sent == 1)
            inbox.wait_for(1)
        finally:
            worker.close(timeout=10)
    assert not worker.running
    assert "mail worker round failed" in caplog.text
    db.refresh(note)
    assert note.emailed_at is not None


def test_the_worker_also_looks_every_interval(
    db: Session, cast: Any, clock: Any, port: int, worker_for: Any
) -> None:
    _note(db, cast.lead_a, clock, "Nobody woke me")
    db.flush()
    with server_on(port) as inbox:
        worker = worker_for(port, interval=0.05)
        wait_until(lambda: worker.sent == 1)
        inbox.wait_for(1)
    assert _subjects(inbox) == ["Defense Chain: Nobody woke me"]


def test_a_closed_worker_stops_and_cannot_restart(clock: Any, port: int) -> None:
    worker = MailWorker(lambda: None, mailer_for(port), clock)  # type: ignore[arg-type, return-value]
    worker.start()
    assert worker.running
    worker.close(timeout=5)
    assert not worker.running
    worker.close()  # idempotent
    with pytest.raises(RuntimeError):
        worker.start()
