"""Only one process sweeps: the sweep lock, on both engines."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import Engine

from defchain.chain.sweeper import SweepLock
from defchain.db import make_engine


def test_only_one_sqlite_process_holds_the_sweep_lock(tmp_path: Path) -> None:
    database = tmp_path / "chain.db"
    engine = make_engine(f"sqlite:///{database}")
    first, second = SweepLock(engine, database), SweepLock(engine, database)
    try:
        assert first.acquire()
        assert first.acquire()  # held: asking again is fine
        assert not second.acquire()
        first.release()
        assert second.acquire()
    finally:
        first.release()
        second.release()
        engine.dispose()


def test_a_killed_holder_releases_the_sqlite_sweep_lock(tmp_path: Path) -> None:
    database = tmp_path / "chain.db"
    engine = make_engine(f"sqlite:///{database}")
    pid = os.fork()
    if pid == 0:  # the child takes the lock and dies without releasing it
        holder = SweepLock(engine, database)
        os._exit(0 if holder.acquire() else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    survivor = SweepLock(engine, database)
    try:
        assert survivor.acquire()
    finally:
        survivor.release()
        engine.dispose()


@pytest.mark.postgres_only
def test_only_one_postgres_connection_holds_the_sweep_lock(engine: Engine) -> None:
    # A key of the test's own: a live server of another test may hold the real one.
    key = 7_406_118_999
    first, second = SweepLock(engine, None, key=key), SweepLock(engine, None, key=key)
    try:
        assert first.acquire()
        assert not second.acquire()
        first.release()
        assert second.acquire()
    finally:
        first.release()
        second.release()
