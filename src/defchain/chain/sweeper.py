"""``defchain serve`` runs the sweep every minute in one worker process.

Each worker starts a ``Sweeper``; only the one holding the sweep lock sweeps (an
advisory lock on PostgreSQL held by a connection of its own, an ``flock`` on
``<database>.sweep.lock`` for SQLite). When that worker dies, the lock is released and
another worker takes over at its next try. The sweep is idempotent anyway; the lock only
saves work.
"""

from __future__ import annotations

import fcntl
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session

from defchain.chain.sweep import SweepResult, sweep
from defchain.clock import Clock

log = logging.getLogger(__name__)
SWEEP_LOCK_KEY = 7_406_118_301


class SweepLock:
    """Held by at most one process per database."""

    def __init__(
        self, engine: Engine, sqlite_file: Path | None, *, key: int = SWEEP_LOCK_KEY
    ) -> None:
        self._engine = engine
        self._key = key
        self._sqlite_file = sqlite_file
        self._file: IO[Any] | None = None
        self._connection: Connection | None = None

    def acquire(self) -> bool:
        if self._file is not None or self._connection is not None:
            return True
        if self._sqlite_file is not None:
            handle = open(f"{self._sqlite_file}.sweep.lock", "a+")  # noqa: SIM115 (held open)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                return False
            self._file = handle
            return True
        if self._engine.dialect.name != "postgresql":
            return True  # an in-memory database: one process by definition
        connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        got = bool(connection.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key}))
        if got:
            self._connection = connection
        else:
            connection.close()
        return got

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        if self._connection is not None:
            # Unlock first: closing only returns the connection to the pool, whose
            # session (and so the lock) would live on.
            try:
                self._connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            finally:
                self._connection.close()
                self._connection = None


class Sweeper:
    """A thread that sweeps every ``interval`` seconds while it holds the sweep lock."""

    def __init__(
        self,
        session_factory: Callable[[], Session],
        clock: Clock,
        lock: SweepLock,
        *,
        interval: float = 60.0,
        after: Callable[[SweepResult], None] | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._clock = clock
        self._lock = lock
        self._interval = interval
        self._after = after
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="defchain-sweeper", daemon=True)
            self._thread.start()

    def close(self, timeout: float | None = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._lock.release()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if self._lock.acquire():
                    self.run_once()
            except Exception:
                log.exception("the sweep failed; trying again at the next interval")
            self._stop.wait(self._interval)

    def run_once(self) -> SweepResult:
        session = self._session_factory()
        try:
            session.connection()
            result = sweep(session, now=self._clock.now())
            session.commit()
        except Exception:
            session.rollback()
            raise
        finally:
            session.close()
        self.runs += 1
        if self._after is not None:
            self._after(result)
        return result
