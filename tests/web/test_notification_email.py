"""Notification e-mail from the web app goes out only after the request committed, from
the mail worker's thread (never inside the request)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import HTTPException
from sqlalchemy import select

from defchain import notify
from defchain.notify import MailWorker, Notification, SmtpMailer
from defchain.web.deps import Db
from tests.notify.smtp_server import Inbox, free_port, smtp_server


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, SmtpMailer]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def mailing_app(app: Any, cast: Any, smtp: tuple[Inbox, SmtpMailer]) -> Any:
    """The app with e-mail on and two routes that notify lead_a: one commits, one fails.

    The mail worker is built as ``create_app`` builds it when SMTP is configured; the
    client's lifespan starts and closes it. Only a wake from a request makes it send
    (the interval is far longer than the test)."""
    ctx = app.state.ctx
    ctx.mailer = smtp[1]
    ctx.mail_worker = MailWorker(
        lambda: ctx.session_factory(), smtp[1], ctx.clock, "https://dc.example.gov", interval=600
    )

    def notify_and_commit(db: Db) -> dict[str, str]:
        notify.notify_user(db, user_id=cast.lead_a.id, tag="t", subject="Committed", now=_now(app))
        return {"ok": "yes"}

    def notify_and_fail(db: Db) -> dict[str, str]:
        notify.notify_user(
            db, user_id=cast.lead_a.id, tag="t", subject="Rolled back", now=_now(app)
        )
        raise HTTPException(status_code=409, detail="changed my mind")

    app.add_api_route("/test/notify-commit", notify_and_commit)
    app.add_api_route("/test/notify-fail", notify_and_fail)
    return app


def _now(app: Any) -> Any:
    return app.state.ctx.clock.now()


def _wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the mail worker"
        time.sleep(0.01)


def test_a_dead_server_does_not_fail_the_request_and_the_notification_waits(
    mailing_app: Any, db: Any, anon: Any, smtp: tuple[Inbox, SmtpMailer]
) -> None:
    """SMTP runs in the worker: the request succeeds even when sending fails, and the
    notification stays pending (attempts, next_attempt_at) for a later round."""
    ctx = mailing_app.state.ctx
    ctx.mail_worker.mailer = SmtpMailer(
        host="127.0.0.1", port=free_port(), sender="dc@example.gov", starttls=False
    )
    assert anon.get("/test/notify-commit").status_code == 200
    _wait_for(lambda: ctx.mail_worker.rounds >= 1)
    note = db.scalars(select(Notification)).one()
    db.refresh(note)
    assert note.emailed_at is None and note.attempts == 1 and note.next_attempt_at is not None
    assert ctx.mail_worker.running


def test_the_web_app_mails_after_commit_and_never_after_rollback(
    mailing_app: Any, db: Any, anon: Any, smtp: tuple[Inbox, SmtpMailer]
) -> None:
    inbox, _ = smtp
    worker = mailing_app.state.ctx.mail_worker
    assert worker.running  # started by the app's lifespan
    assert anon.get("/test/notify-fail").status_code == 409
    time.sleep(0.2)
    assert worker.rounds == 0  # a rolled-back request does not wake the worker
    assert anon.get("/test/notify-commit").status_code == 200
    inbox.wait_for(1)
    _wait_for(lambda: worker.rounds >= 1)
    time.sleep(0.2)  # a wrongly sent second message would have arrived by now
    assert [str(m["Subject"]) for _, m in inbox.messages] == ["Defense Chain: Committed"]
    assert [r for r, _ in inbox.messages] == [["lead_a@example.gov"]]
    subjects = db.scalars(select(Notification.subject)).all()
    assert subjects == ["Committed"]
    assert db.scalars(select(Notification.emailed_at)).one() is not None


def test_e_mail_is_on_only_when_an_smtp_host_is_set() -> None:
    from defchain.config import Settings
    from defchain.web.app import create_app

    key = "k" * 8 + "a-strong-test-secret-key-0123456789"
    off = create_app(Settings(secret_key=key, database_url="sqlite://"))
    on = create_app(
        Settings(secret_key=key, database_url="sqlite://", smtp_host="mail.example.gov",
                 smtp_port=2525, smtp_from="dc@example.gov", smtp_starttls=False)
    )  # fmt: skip
    assert off.state.ctx.mailer is None
    assert off.state.ctx.mail_worker is None
    assert isinstance(on.state.ctx.mail_worker, MailWorker)
    assert on.state.ctx.mail_worker.mailer == on.state.ctx.mailer
    assert on.state.ctx.mailer == SmtpMailer(
        host="mail.example.gov", port=2525, sender="dc@example.gov", starttls=False
    )
