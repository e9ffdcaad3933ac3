"""The group writer: one transaction per batch, failures kept to their own job, the write
lock taken before the batch is gathered, a clean stop.

These run on a SQLite file of their own (the writer is independent of the schema); the
intake tests drive it on both engines through the real routes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, Integer, String, event, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from defchain.db import make_engine, make_session_factory, preassign_ids, transaction_cache
from defchain.groupcommit import GroupWriter, WriterClosed


class _Base(DeclarativeBase):
    pass


class Row(_Base):
    __tablename__ = "rows"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)


metadata = _Base.metadata


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'writer.db'}")
    metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


def stored(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.scalars(select(Row.name).order_by(Row.id)))


def add(name: str) -> Callable[[Session], int]:
    def job(session: Session) -> int:
        return session.execute(insert(Row).values(name=name).returning(Row.id)).scalar_one()

    return job


def add_many(session: Session, names: list[str]) -> list[int | Exception]:
    """A batched job: refuses names that start with '!' without writing them."""
    outcomes: list[int | Exception] = []
    for name in names:
        if name.startswith("!"):
            outcomes.append(ValueError(f"name: {name} is refused"))
        else:
            outcomes.append(
                session.execute(insert(Row).values(name=name).returning(Row.id)).scalar_one()
            )
    return outcomes


def hold_write_lock(engine: Engine) -> tuple[threading.Event, threading.Event, threading.Thread]:
    """A thread that holds the database's write lock until ``release`` is set."""
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with engine.begin() as connection:  # BEGIN IMMEDIATE: the write lock
            connection.execute(insert(Row).values(name="holder"))
            held.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    assert held.wait(10)
    return held, release, thread


def test_jobs_that_arrive_while_the_lock_is_held_share_one_commit(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    writer = GroupWriter(factory)
    _, release, holder = hold_write_lock(engine)
    try:
        futures = [writer.submit_batched(add_many, f"tip-{n}") for n in range(10)]
        # The writer took the first job and waits for the lock; the rest queue up.
        assert not any(f.done() for f in futures)
    finally:
        release.set()
        holder.join(10)
    ids = [f.result(10) for f in futures]
    writer.close()
    assert stored(engine) == ["holder"] + [f"tip-{n}" for n in range(10)]
    assert ids == sorted(ids) and len(set(ids)) == 10
    assert (writer.batches, writer.jobs) == (1, 10)  # gathered after the lock was won


def test_a_refused_item_is_not_written_and_the_others_are(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    writer = GroupWriter(factory)
    _, release, holder = hold_write_lock(engine)
    futures = [writer.submit_batched(add_many, name) for name in ("a", "!b", "c")]
    release.set()
    holder.join(10)
    assert futures[0].result(10) > 0 and futures[2].result(10) > 0
    with pytest.raises(ValueError, match="!b is refused"):
        futures[1].result(10)
    writer.close()
    assert stored(engine) == ["holder", "a", "c"]


def test_when_the_batched_call_fails_each_item_is_run_alone(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    with engine.begin() as connection:
        connection.execute(insert(Row).values(name="taken"))
    writer = GroupWriter(factory)
    _, release, holder = hold_write_lock(engine)
    # "taken" violates the unique index: the shared call raises, then each runs alone.
    futures = [writer.submit_batched(add_many, name) for name in ("x", "taken", "y")]
    release.set()
    holder.join(10)
    assert futures[0].result(10) > 0 and futures[2].result(10) > 0
    with pytest.raises(IntegrityError):
        futures[1].result(10)
    writer.close()
    assert stored(engine) == ["taken", "holder", "x", "y"]


def test_a_failing_plain_job_loses_only_its_savepoint(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    writer = GroupWriter(factory)

    def half_then_fail(session: Session) -> None:
        session.execute(insert(Row).values(name="half"))
        raise RuntimeError("job: broke after writing")

    _, release, holder = hold_write_lock(engine)
    good = writer.submit(add("good"))
    bad = writer.submit(half_then_fail)
    also = writer.submit(add("also"))
    release.set()
    holder.join(10)
    with pytest.raises(RuntimeError, match="broke after writing"):
        bad.result(10)
    assert good.result(10) and also.result(10)
    writer.close()
    assert stored(engine) == ["holder", "good", "also"]


def test_when_the_commit_fails_no_job_is_acknowledged_and_nothing_is_stored(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    failing: list[bool] = [True]

    def session_that_cannot_commit() -> Session:
        session = factory()
        real_commit = session.commit

        def commit() -> None:
            if failing[0]:
                raise OSError("disk full")
            real_commit()

        session.commit = commit  # type: ignore[method-assign]
        return session

    writer = GroupWriter(session_that_cannot_commit)
    futures = [writer.submit_batched(add_many, name) for name in ("p", "q")]
    for future in futures:
        with pytest.raises(OSError, match="disk full"):
            future.result(10)
    failing[0] = False
    assert writer.submit_batched(add_many, "r").result(10) > 0  # the writer lives on
    writer.close()
    assert stored(engine) == ["r"]


def test_a_cancelled_job_is_skipped(engine: Engine, factory: sessionmaker[Session]) -> None:
    writer = GroupWriter(factory)
    _, release, holder = hold_write_lock(engine)
    first = writer.submit(add("first"))
    dropped = writer.submit(add("dropped"))
    assert dropped.cancel()  # its caller gave up before the writer took it
    release.set()
    holder.join(10)
    assert first.result(10)
    writer.close()
    assert stored(engine) == ["holder", "first"]


def test_close_finishes_queued_jobs_then_refuses_new_ones(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    writer = GroupWriter(factory)
    _, release, holder = hold_write_lock(engine)
    futures = [writer.submit(add(f"queued-{n}")) for n in range(3)]
    closer = threading.Thread(target=writer.close)
    closer.start()
    release.set()
    holder.join(10)
    closer.join(10)
    assert all(f.result(0) for f in futures)
    with pytest.raises(WriterClosed):
        writer.submit(add("late"))
    assert stored(engine) == ["holder", "queued-0", "queued-1", "queued-2"]


def test_async_callers_wait_without_blocking_the_loop(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    writer = GroupWriter(factory)

    async def many() -> list[int]:
        return await asyncio.gather(*(writer.run_batched(add_many, f"a{n}") for n in range(20)))

    ids = asyncio.run(many())
    writer.close()
    assert len(set(ids)) == 20
    assert writer.jobs == 20 and writer.batches <= 20


def test_a_batched_function_must_answer_every_item(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    writer = GroupWriter(factory)

    def short(session: Session, items: list[str]) -> list[int]:
        return []

    with pytest.raises(RuntimeError, match="0 outcomes for 1 items"):
        writer.submit_batched(short, "x").result(10)
    writer.close()


def test_max_batch_must_be_positive(factory: sessionmaker[Session]) -> None:
    with pytest.raises(ValueError, match="max_batch"):
        GroupWriter(factory, max_batch=0)


def test_the_begin_hook_runs_first_in_every_transaction(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    seen: list[int] = []

    def begin(session: Session) -> None:
        seen.append(len(stored_in(session)))

    def stored_in(session: Session) -> list[str]:
        return list(session.scalars(select(Row.name)))

    writer = GroupWriter(factory, begin=begin)
    writer.submit(add("one")).result(10)
    writer.submit(add("two")).result(10)
    writer.close()
    assert seen == [0, 1]


# --- the transaction helpers the writer's jobs use -------------------------------------


def test_the_transaction_cache_starts_empty_in_each_transaction(
    factory: sessionmaker[Session],
) -> None:
    with factory() as session:
        session.execute(select(1))
        transaction_cache(session)["k"] = 1
        assert transaction_cache(session) == {"k": 1}
        session.commit()
        session.execute(select(1))
        assert transaction_cache(session) == {}


def test_preassigned_ids_continue_the_table_and_insert_in_one_statement(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with factory() as session:
        session.add(Row(name="first"))
        session.flush()
        objects = [Row(name=f"n{n}") for n in range(3)]
        preassign_ids(session, objects)
        assert [o.id for o in objects] == [2, 3, 4]
        statements.clear()
        session.add_all(objects)
        session.flush()
        assert len([s for s in statements if s.startswith("INSERT")]) == 1  # executemany
        session.commit()
    assert stored(engine) == ["first", "n0", "n1", "n2"]


def test_concurrent_threads_all_get_their_answer(factory: sessionmaker[Session]) -> None:
    writer = GroupWriter(factory)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        ids = list(
            pool.map(lambda n: writer.submit_batched(add_many, f"t{n}").result(10), range(40))
        )
    writer.close()
    assert len(set(ids)) == 40


def test_idle_work_runs_when_no_job_comes_and_jobs_go_first(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    rounds: list[int] = []
    ran = threading.Event()

    def idle(session: Session) -> bool:
        rounds.append(len(list(session.scalars(select(Row.name)))))
        ran.set()
        return False  # nothing more: rest until the next quiet spell

    writer = GroupWriter(factory, idle=idle, idle_after=0.05)
    assert writer.submit(add("job")).result(10)
    assert ran.wait(5)  # no job for 50 ms: the idle work ran, after the job's commit
    writer.close()
    assert rounds and rounds[0] == 1
