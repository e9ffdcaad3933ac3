"""The engine's settings, the UTC type, migrations against models, and test isolation."""

from __future__ import annotations

import fcntl
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Engine, Integer, MetaData, Table, func, select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

import defchain.access
import defchain.assessment
import defchain.audit
import defchain.cases
import defchain.firearms
import defchain.intake
import defchain.ledger
import defchain.notify
import defchain.people
import defchain.reference
import defchain.triage  # noqa: F401  (registers the models on Base.metadata)
from defchain.access import Agency, Jurisdiction
from defchain.db import Base, UTCDateTime, make_engine, sqlite_write_lock
from defchain.migrate import alembic_config, current_revision, head_revision, include_object

# --- SQLite settings ----------------------------------------------------------------


def test_sqlite_connections_use_wal_full_sync_and_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'pragmas.db'}")
    try:
        with engine.connect() as connection:
            pragma = connection.exec_driver_sql
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA synchronous").scalar() == 2  # FULL
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            assert pragma("PRAGMA busy_timeout").scalar() == 10000
    finally:
        engine.dispose()


def test_sqlite_transactions_begin_immediate_and_support_savepoints(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'tx.db'}")
    other = make_engine(f"sqlite:///{tmp_path / 'tx.db'}")
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        with engine.connect() as holder, holder.begin():
            # BEGIN IMMEDIATE takes the write lock before any write is made...
            rival = other.raw_connection()
            try:
                cursor = rival.cursor()
                cursor.execute("PRAGMA busy_timeout=0")
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    cursor.execute("BEGIN IMMEDIATE")
            finally:
                rival.close()
            # ...and a savepoint rolls back on its own inside the outer transaction.
            holder.exec_driver_sql("INSERT INTO t VALUES (1)")
            savepoint = holder.begin_nested()
            holder.exec_driver_sql("INSERT INTO t VALUES (2)")
            savepoint.rollback()
            assert holder.exec_driver_sql("SELECT x FROM t").scalars().all() == [1]
    finally:
        other.dispose()
        engine.dispose()


def _file_lock_is_free(path: Path) -> bool:
    """Whether another open file description could take ``path``'s flock now."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


def test_sqlite_write_lock_spans_the_transaction_and_its_savepoints(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'lock.db'}")
    lock_file = tmp_path / "lock.db.lock"
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            assert not _file_lock_is_free(lock_file)
        assert _file_lock_is_free(lock_file)  # released after COMMIT returned
        with engine.connect() as connection:
            outer = connection.begin()
            savepoint = connection.begin_nested()
            connection.exec_driver_sql("INSERT INTO t VALUES (1)")
            savepoint.commit()  # RELEASE SAVEPOINT keeps the outer transaction's lock
            assert not _file_lock_is_free(lock_file)
            outer.rollback()
            assert _file_lock_is_free(lock_file)
            assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0
            connection.rollback()
        assert _file_lock_is_free(lock_file)
    finally:
        engine.dispose()


def test_sqlite_writers_in_threads_queue_behind_the_lock(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'queue.db'}")
    order: list[str] = []
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (x TEXT)")

        def second() -> None:
            with engine.begin() as other:
                order.append("second")
                other.exec_driver_sql("INSERT INTO t VALUES ('second')")

        with engine.begin() as connection:
            thread = threading.Thread(target=second)
            thread.start()
            time.sleep(0.2)  # the second writer waits for the lock, not for SQLite
            order.append("first")
            connection.exec_driver_sql("INSERT INTO t VALUES ('first')")
        thread.join(timeout=10)
        assert order == ["first", "second"]
    finally:
        engine.dispose()


def test_sqlite_write_lock_times_out_and_recovers(tmp_path: Path) -> None:
    lock = sqlite_write_lock(tmp_path / "timeout.db")
    fd = os.open(lock.lock_path, os.O_RDWR | os.O_CREAT)
    try:
        for _ in range(3):
            fcntl.flock(fd, fcntl.LOCK_EX)  # another "process" holds it
            started = time.monotonic()
            with pytest.raises(TimeoutError):
                lock.acquire(0.2)
            assert 0.15 < time.monotonic() - started < 2
            fcntl.flock(fd, fcntl.LOCK_UN)
            lock.acquire(2)  # queued behind the abandoned wait, which lets go of its grant
            time.sleep(0.05)
            assert not _file_lock_is_free(lock.lock_path)
            lock.release()
            assert _file_lock_is_free(lock.lock_path)
    finally:
        os.close(fd)


def test_sqlite_write_lock_of_a_killed_process_is_released(tmp_path: Path) -> None:
    database = tmp_path / "killed.db"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from defchain.db import make_engine\n"
            "engine = make_engine(sys.argv[1])\n"
            "connection = engine.connect()\n"
            "connection.begin()\n"
            "print('holding', flush=True)\n"
            "time.sleep(60)\n",
            f"sqlite:///{database}",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding"
        assert not _file_lock_is_free(tmp_path / "killed.db.lock")
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)
        engine = make_engine(f"sqlite:///{database}")
        try:
            with engine.begin() as connection:
                connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        finally:
            engine.dispose()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(timeout=10)


# --- both engines -------------------------------------------------------------------


@pytest.mark.postgres_only
def test_postgres_transactions_wait_at_most_ten_seconds_for_a_lock(engine: Engine) -> None:
    with engine.begin() as connection:
        assert connection.exec_driver_sql("SHOW lock_timeout").scalar() == "10s"


def test_foreign_key_violation_raises_integrity_error(db: Session) -> None:
    agency = Agency(
        name="Orphan", kind="police", jurisdiction_id=987_654, created_at=datetime.now(UTC)
    )
    with pytest.raises(IntegrityError), db.begin_nested():
        db.add(agency)
        db.flush()
    assert db.scalar(select(func.count(Agency.id))) == 0


def test_utc_datetime_round_trips_as_aware_utc(db: Session) -> None:
    eastern = timezone(timedelta(hours=-5))
    written = datetime(2026, 3, 1, 7, 30, 15, 123456, tzinfo=eastern)
    db.add(
        Jurisdiction(name="Round Trip", state="OH", timezone="America/New_York", created_at=written)
    )
    db.flush()
    db.expire_all()
    read = db.scalar(select(Jurisdiction.created_at).where(Jurisdiction.name == "Round Trip"))
    assert read is not None
    assert read.utcoffset() == timedelta(0)
    assert read == written
    assert read == datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


def test_utc_datetime_refuses_naive_values(db: Session) -> None:
    db.add(
        Jurisdiction(
            name="Naive",
            state="OH",
            timezone="America/New_York",
            created_at=datetime(2026, 3, 1, 7, 30),
        )
    )
    with pytest.raises(StatementError, match="naive datetime"), db.begin_nested():
        db.flush()


def test_utc_datetime_reads_naive_storage_as_utc(engine: Engine) -> None:
    column_type = UTCDateTime()
    naive = datetime(2026, 3, 1, 12, 0)  # what SQLite hands back
    assert column_type.process_result_value(naive, engine.dialect) == datetime(
        2026, 3, 1, 12, 0, tzinfo=UTC
    )


# --- migrations -----------------------------------------------------------------------


def test_models_match_migrations(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": include_object}
        )
        drift = compare_metadata(context, Base.metadata)
    assert drift == [], f"models and migrations differ; add a migration: {drift}"


def test_drift_check_would_notice_a_missing_table(engine: Engine) -> None:
    # Guards the test above against passing vacuously.
    extra = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(extra)
    Table("not_migrated", extra, Column("id", Integer, primary_key=True))
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": include_object}
        )
        drift = compare_metadata(context, extra)
    assert [d[0] for d in drift] == ["add_table"]
    assert drift[0][1].name == "not_migrated"


def test_database_is_at_the_head_revision(engine: Engine) -> None:
    assert head_revision() is not None
    assert current_revision(engine) == head_revision()


def test_alembic_history_is_linear() -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    assert len(scripts.get_heads()) == 1
    revisions = list(scripts.walk_revisions())
    assert revisions, "no migrations found"
    bases = [r for r in revisions if r.down_revision is None]
    assert len(bases) == 1
    for revision in revisions:
        assert not isinstance(revision.down_revision, tuple | list), (
            f"{revision.revision} merges {revision.down_revision}"
        )
        assert not revision.branch_labels
    children: dict[str, int] = {}
    for revision in revisions:
        if revision.down_revision is not None:
            parent = str(revision.down_revision)
            children[parent] = children.get(parent, 0) + 1
    assert all(count == 1 for count in children.values()), children


# --- the db fixture really rolls back --------------------------------------------------
# The two tests below run in this order (pytest keeps file order): the first commits a
# row through the session, the second finds it gone.

_ISOLATION_NAME = "Isolation Probe Jurisdiction"
_isolation_probe_ran: list[bool] = []


def test_isolation_first_writes_and_commits(db: Session) -> None:
    db.add(
        Jurisdiction(
            name=_ISOLATION_NAME,
            state="OH",
            timezone="America/New_York",
            created_at=datetime.now(UTC),
        )
    )
    db.commit()  # only releases the test's savepoint
    count = db.scalar(select(func.count()).where(Jurisdiction.name == _ISOLATION_NAME))
    assert count == 1
    _isolation_probe_ran.append(True)


def test_isolation_second_finds_nothing(engine: Engine, request: pytest.FixtureRequest) -> None:
    if not _isolation_probe_ran:
        pytest.skip("needs test_isolation_first_writes_and_commits to run first")
    # A fresh connection first: while a `db` session is open, SQLite's BEGIN IMMEDIATE
    # would make this one wait for the write lock.
    with engine.connect() as fresh:
        assert fresh.scalar(select(func.count()).select_from(Jurisdiction)) == 0
    db: Session = request.getfixturevalue("db")
    assert db.scalar(select(func.count(Jurisdiction.id))) == 0
