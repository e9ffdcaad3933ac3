"""The process's mail worker: one daemon thread that e-mails notifications.

Requests never talk SMTP. A request that wrote notifications calls ``wake()`` after its
commit (a cheap, thread-safe flag); the worker also looks every ``interval`` seconds, so
notifications written elsewhere (the intake writer, the command line), held back by
quiet hours or put off after a failure go out without anyone waking it.

Each round runs the three steps of ``defchain.notify.mailer`` in transactions of their
own: claim (short), send (no transaction: SMTP never holds the SQLite write lock that
intake needs), record (short). A round that sent a full batch is followed by another at
once. Any exception is logged and the worker carries on with the next round: a failing
SMTP server or database never stops it silently.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session

from defchain.clock import Clock
from defchain.notify.mailer import Mailer, claim_due, record_outcomes, send_claimed

T = TypeVar("T")
log = logging.getLogger(__name__)

# Notifications claimed per round. Small enough that a round ends well inside the lease
# even on a slow server; full rounds follow each other at once.
ROUND = 50


class MailWorker:
    """A daemon thread that delivers pending notification e-mail for this process.

    ``session_factory`` is called for each transaction (tests swap the app's factory).
    """

    def __init__(
        self,
        session_factory: Callable[[], Session],
        mailer: Mailer,
        clock: Clock,
        base_url: str = "",
        interval: float = 30.0,
        *,
        batch: int = ROUND,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self._session_factory = session_factory
        self.mailer = mailer
        self._clock = clock
        self._base_url = base_url
        self.interval = interval
        self.batch = batch
        self._wakeup = threading.Event()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        # Counters for tests and monitoring: rounds finished, e-mails sent, rounds failed.
        self.rounds = 0
        self.sent = 0
        self.errors = 0

    def start(self) -> None:
        """Start the thread (idempotent); it waits for ``wake()`` or ``interval``."""
        with self._lock:
            if self._closed.is_set():
                raise RuntimeError("The mail worker is closed.")
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="defchain-mail-worker", daemon=True
                )
                self._thread.start()

    def wake(self) -> None:
        """Ask for a round now (thread-safe, cheap, never blocks on SMTP or the database)."""
        self._wakeup.set()

    def close(self, timeout: float | None = 30.0) -> None:
        """Stop after the round in progress, if any (idempotent). Pending notifications
        stay in the database for the next start."""
        with self._lock:
            self._closed.set()
            self._wakeup.set()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("mail worker still sending after %.1f s; left running", timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # --- the thread -----------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._closed.is_set():
            self._wakeup.wait(self.interval)
            self._wakeup.clear()
            if self._closed.is_set():
                break
            more = True
            while more and not self._closed.is_set():
                try:
                    more = self.run_round()
                except Exception:
                    self.errors += 1
                    log.exception("mail worker round failed; trying again later")
                    more = False

    def run_round(self) -> bool:
        """Claim, send and record one batch; returns whether another should follow at once
        (a full batch, all sent)."""
        batch = self._transaction(
            lambda s: claim_due(s, now=self._clock.now(), limit=self.batch, base_url=self._base_url)
        )
        if not batch:
            self.rounds += 1
            return False
        outcomes = send_claimed(self.mailer, batch)
        sent = self._transaction(lambda s: record_outcomes(s, outcomes, now=self._clock.now()))
        self.sent += sent
        self.rounds += 1
        return len(batch) == self.batch and sent == len(batch)

    def _transaction(self, work: Callable[[Session], T]) -> T:
        session = self._session_factory()
        try:
            result = work(session)
            session.commit()
            return result
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
