"""Engine, session and the declarative base shared by every domain.

SQLite runs in WAL mode with foreign keys on and ``synchronous=FULL`` so that an
acknowledged write survives power loss; every SQLite transaction starts with
``BEGIN IMMEDIATE`` so concurrent writers queue instead of failing half-way (the
hash-chained audit log reads its head and appends in one transaction).
PostgreSQL runs through psycopg 3.

SQLite writers queue in the kernel, not in SQLite's busy handler: a SQLite transaction
first takes a per-process ``threading.Lock`` and then ``flock(LOCK_EX)`` on
``<dbfile>.lock`` and holds both until the transaction's real COMMIT or ROLLBACK has
returned (see ``SqliteWriteLock``). The busy handler backs off by up to 100 ms, which
gave a p99 of 0.6 to 1.9 s with two worker processes; a blocked ``flock`` wakes as
soon as the holder lets go. The kernel drops the lock of a process that dies.
PostgreSQL transactions wait at most ``LOCK_TIMEOUT_MS`` for a lock (``lock_timeout``),
as SQLite's do through the busy timeout.

One session and one transaction per request or CLI command: the boundary commits,
services only flush.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, func, make_url, select
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every ORM model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both engines (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# How long a transaction waits for a lock before it fails, on both engines.
LOCK_TIMEOUT_MS = 10_000
SQLITE_BUSY_TIMEOUT_MS = LOCK_TIMEOUT_MS


@dataclass
class _FlockRequest:
    """One wait for the file lock, handed to the waiter thread."""

    fd: int
    done: threading.Event = field(default_factory=threading.Event)
    guard: threading.Lock = field(default_factory=threading.Lock)
    granted: bool = False
    abandoned: bool = False
    error: OSError | None = None


class SqliteWriteLock:
    """One writer at a time on one SQLite file, across threads and processes.

    ``acquire`` takes the process's ``threading.Lock`` (so threads queue in-process),
    then ``flock(LOCK_EX)`` on ``<dbfile>.lock`` (so processes queue in the kernel).
    Both waits are bounded by ``timeout`` like SQLite's busy timeout: a contended
    ``flock`` blocks on a helper thread while the caller waits on an event, and a
    grant that arrives after the caller gave up is released at once. ``release`` may
    run on another thread than ``acquire`` (FastAPI runs a dependency's setup and
    teardown on different worker threads).
    """

    def __init__(self, lock_path: Path) -> None:
        self.lock_path = lock_path
        self._pid = -1
        self._setup = threading.Lock()
        self._mutex = threading.Lock()
        self._fd = -1
        self._requests: queue.SimpleQueue[_FlockRequest] = queue.SimpleQueue()
        self._last_request: _FlockRequest | None = None

    def _for_this_process(self) -> None:
        # A forked child must not share the parent's open file description (flock
        # would then not exclude it) nor inherit a held mutex.
        if self._pid == os.getpid():
            return
        with self._setup:
            if self._pid == os.getpid():
                return
            self._mutex = threading.Lock()
            self._requests = queue.SimpleQueue()
            self._last_request = None
            self._fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            threading.Thread(
                target=self._waiter, args=(self._requests,), name="sqlite-flock", daemon=True
            ).start()
            self._pid = os.getpid()

    @staticmethod
    def _waiter(requests: queue.SimpleQueue[_FlockRequest]) -> None:
        while True:
            request = requests.get()
            try:
                fcntl.flock(request.fd, fcntl.LOCK_EX)
            except OSError as error:  # pragma: no cover - EBADF/ENOLCK only
                request.error = error
                request.done.set()
                continue
            with request.guard:
                if request.abandoned:
                    fcntl.flock(request.fd, fcntl.LOCK_UN)
                else:
                    request.granted = True
            request.done.set()

    def acquire(self, timeout: float) -> None:
        """Take the lock within ``timeout`` seconds or raise ``TimeoutError``."""
        self._for_this_process()
        deadline = time.monotonic() + timeout
        if not self._mutex.acquire(timeout=timeout):
            raise TimeoutError(f"another thread held the write lock for {timeout:g} s")
        try:
            self._flock(max(deadline - time.monotonic(), 0.0))
        except BaseException:
            self._mutex.release()
            raise

    def _flock(self, timeout: float) -> None:
        # The waiter thread locks the same open file description: while it may still take
        # (and then drop) the lock for an abandoned wait, a non-blocking flock here would
        # "succeed" as a mere conversion and be undone by that drop. Queue behind it.
        last = self._last_request
        if last is None or last.done.is_set():
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
        request = self._last_request = _FlockRequest(self._fd)
        self._requests.put(request)
        request.done.wait(timeout)
        with request.guard:
            if request.granted:
                return
            request.abandoned = True
        if request.error is not None:
            raise request.error
        raise TimeoutError(f"another process held {self.lock_path} for {timeout:g} s")

    def release(self) -> None:
        """Let the next writer in (only the holder calls this)."""
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._mutex.release()


_write_locks: dict[Path, SqliteWriteLock] = {}
_write_locks_guard = threading.Lock()


def sqlite_write_lock(database: Path) -> SqliteWriteLock:
    """The process's one write lock for a SQLite file (shared by all its engines)."""
    key = database.resolve()
    with _write_locks_guard:
        lock = _write_locks.get(key)
        if lock is None:
            lock = _write_locks[key] = SqliteWriteLock(key.with_name(key.name + ".lock"))
        return lock


class _LockingSqliteConnection(sqlite3.Connection):
    """A sqlite3 connection that lets go of the write lock once its transaction ends.

    SQLAlchemy's ``commit``/``rollback`` events fire *before* the DBAPI call, so the
    lock is released here, after COMMIT or ROLLBACK has returned (a commit that failed
    and left the transaction open keeps it). Closing the connection releases it too.
    """

    write_lock: SqliteWriteLock | None = None
    holds_write_lock = False

    def take_write_lock(self) -> None:
        if self.write_lock is None or self.holds_write_lock:
            return
        _warn_if_on_event_loop()
        try:
            self.write_lock.acquire(SQLITE_BUSY_TIMEOUT_MS / 1000)
        except TimeoutError as error:
            raise sqlite3.OperationalError(f"database is locked ({error})") from error
        self.holds_write_lock = True

    def release_write_lock(self) -> None:
        if self.holds_write_lock and not self.in_transaction:
            self.holds_write_lock = False
            assert self.write_lock is not None
            self.write_lock.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.release_write_lock()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.release_write_lock()

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.holds_write_lock:
                self.holds_write_lock = False
                assert self.write_lock is not None
                self.write_lock.release()


_loop_warning_given = False


def _warn_if_on_event_loop() -> None:
    """Say once per process when a transaction starts on an asyncio event loop's thread.

    Waiting there for the write lock stops every request of the worker, including the one
    whose commit would free the lock (a request that began its transaction in a worker
    thread commits from another one scheduled by the loop): the wait then ends only at
    the busy timeout. Database work belongs in ``def`` endpoints and dependencies.
    """
    global _loop_warning_given
    if _loop_warning_given:
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return  # a worker thread or a plain script: fine
    _loop_warning_given = True
    logging.getLogger(__name__).warning(
        "A SQLite transaction began on the event loop's thread (an `async def` route or "
        "dependency using the database): while it waits for the write lock no request of "
        "this worker can run. Make the route `def`, or run the database work in a thread."
    )


def _sqlite_on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Let SQLAlchemy, not the driver, decide when transactions begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_on_begin(conn: Any) -> None:
    raw = conn.connection.dbapi_connection
    locking = isinstance(raw, _LockingSqliteConnection)
    if locking:
        raw.take_write_lock()
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        if locking:
            raw.release_write_lock()
        raise


def _sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL, or ``None`` for in-memory databases."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def make_engine(url: str, *, write_lock: bool = True, **kwargs: Any) -> Engine:
    """Create an engine with the project's settings for SQLite or PostgreSQL.

    ``write_lock=False`` leaves SQLite writers to the busy timeout alone (the
    benchmark's before/after comparison; nothing else should need it).
    """
    if url.startswith("sqlite"):
        connect_args: dict[str, Any] = {"check_same_thread": False}
        database = _sqlite_file(url)
        lock = sqlite_write_lock(database) if write_lock and database is not None else None
        if lock is not None:
            connect_args["factory"] = _LockingSqliteConnection
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        if lock is not None:

            def _attach(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
                dbapi_connection.write_lock = lock

            event.listen(engine, "connect", _attach, insert=True)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if make_url(url).get_backend_name() == "postgresql":
        # Like SQLite's busy timeout: a statement waits at most this long for a lock (the
        # audit chain's advisory lock, a row), then fails, instead of waiting forever. A
        # worker whose event loop is stuck in such a wait cannot commit the transaction
        # it waits for; without a bound that stops every writer until a restart. Set when
        # the connection opens: no extra statement per transaction.
        connect_args = dict(kwargs.pop("connect_args", {}))
        options = connect_args.get("options", "")
        connect_args["options"] = f"{options} -c lock_timeout={LOCK_TIMEOUT_MS}".strip()
        kwargs["connect_args"] = connect_args
    return create_engine(url, pool_pre_ping=True, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after the boundary commits."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


_TRANSACTION_CACHE = "defchain.transaction_cache"
_M = TypeVar("_M")


def transaction_cache(session: Session) -> dict[Any, Any]:
    """A dictionary that lives as long as the session's current (outermost) transaction.

    For values read in the transaction that many jobs of one group commit ask for again
    (an integration by its token, an agency): a new transaction starts empty. Cache only
    what the transaction itself does not change.
    """
    transaction = session.get_transaction()
    holder = session.info.get(_TRANSACTION_CACHE)
    if holder is None or holder[0] is not transaction:
        holder = (transaction, {})
        session.info[_TRANSACTION_CACHE] = holder
    cache: dict[Any, Any] = holder[1]
    return cache


def cached_get(session: Session, model: type[_M], ident: int) -> _M | None:
    """``session.get`` remembered for the transaction.

    The identity map holds unchanged objects weakly, so a repeated ``get`` of an object
    nobody holds goes back to the database; this keeps it for the transaction.
    """
    cache = transaction_cache(session)
    key = (model, ident)
    if key not in cache:
        cache[key] = session.get(model, ident)
    found: _M | None = cache[key]
    return found


def preassign_ids(session: Session, objects: Sequence[Any]) -> None:
    """On SQLite, give new rows of one table their integer ``id`` before the insert.

    SQLite cannot return generated keys in parameter order from a multi-row insert, so
    SQLAlchemy inserts such rows one statement at a time; with the keys given, one
    ``executemany`` stores them all. Safe because every SQLite transaction here holds the
    write lock from its start (``BEGIN IMMEDIATE``): ``max(id) + 1`` is what SQLite would
    pick (the tables use plain ``INTEGER PRIMARY KEY``). PostgreSQL returns ordered keys
    from its batched insert and needs none of this.
    """
    if len(objects) < 2 or session.get_bind().dialect.name != "sqlite":
        return
    model = type(objects[0])
    start = session.scalar(select(func.max(model.id))) or 0
    for offset, obj in enumerate(objects, start=1):
        obj.id = start + offset
