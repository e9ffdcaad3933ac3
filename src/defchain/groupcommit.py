"""Group commit: one writer thread per process commits every waiting job in one transaction.

Intake is the hot write path. With one transaction per tip, every tip pays for its own
``BEGIN IMMEDIATE``, write lock, audit-chain head lookup and fsync, and sixteen request
threads fight over the lock and the GIL. Here a request hands its database work (a
*job*: ``fn(session) -> value``) to the process's writer thread and waits. The writer
takes every job that is waiting (up to ``max_batch``), runs each in a savepoint of one
transaction, commits once, and only then answers each job: a tip is acknowledged only
after the commit that holds it has returned.

A job that raises is rolled back to its savepoint and gets its own exception; the other
jobs of the batch still commit. If the commit itself fails, every job of the batch gets
that error and nothing of the batch is stored.

A *batched* job shares one call with every waiting job of the same function:
``fn(session, items) -> outcomes`` gets the items of all of them and returns one
outcome per item, a value or the exception that refused it (a refused item must leave
nothing written). Intake stores a whole batch of reports with one insert this way. If
``fn`` raises, nothing of that call is kept and each item is run again alone, so one
bad item cannot sink the others.

    writer = GroupWriter(session_factory)
    receipt = await writer.run(lambda session: store(session, data))   # from async code
    receipt = writer.submit(job).result()                             # from a thread
    receipt = await writer.run_batched(store_many, item)              # shares a call
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 - an item of a batched job
log = logging.getLogger(__name__)

DEFAULT_MAX_BATCH = 64


@dataclass
class _Job:
    fn: Callable[..., Any]
    future: concurrent.futures.Future[Any]
    batched: bool = False
    item: Any = None


BatchFn = Callable[[Session, list[I]], Sequence[T | BaseException]]


_STOP = object()


class WriterClosed(RuntimeError):
    """The writer was closed (the server is shutting down)."""


class GroupWriter:
    """A writer thread that runs jobs in batches, one transaction and one commit each.

    The thread starts on the first job (so a forked or spawned worker process starts its
    own) and stops at ``close()`` after finishing the jobs already queued.
    """

    def __init__(
        self,
        session_factory: Callable[[], Session],
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        begin: Callable[[Session], None] | None = None,
        idle: Callable[[Session], bool] | None = None,
        idle_after: float = 1.0,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._session_factory = session_factory
        self._begin = begin  # run first in each transaction: take the locks it will need
        # Work that may wait (linking reports to persons): run in a transaction of its
        # own when no job has arrived for ``idle_after`` seconds; it returns true while
        # more remains. Jobs always go first.
        self._idle = idle
        self._idle_after = idle_after
        # Called (on the writer thread) after each batch committed: wakes the work that
        # follows a commit, such as triage. Must be quick and must not raise.
        self._after_commit = after_commit
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Job | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False
        self.batches = 0  # counters for tests and the benchmark
        self.jobs = 0

    def submit(self, fn: Callable[[Session], T]) -> concurrent.futures.Future[T]:
        """Queue ``fn``; the future resolves after the commit that holds its work."""
        return self._queue_job(_Job(fn, concurrent.futures.Future()))

    def submit_batched(self, fn: BatchFn[I, T], item: I) -> concurrent.futures.Future[T]:
        """Queue ``item`` for a shared call of ``fn`` with the other items waiting."""
        return self._queue_job(_Job(fn, concurrent.futures.Future(), batched=True, item=item))

    async def run(self, fn: Callable[[Session], T]) -> T:
        """``submit`` from async code: waits without blocking the event loop."""
        return await asyncio.wrap_future(self.submit(fn))

    async def run_batched(self, fn: BatchFn[I, T], item: I) -> T:
        """``submit_batched`` from async code."""
        return await asyncio.wrap_future(self.submit_batched(fn, item))

    def start(self) -> None:
        """Start the thread now (it also starts on the first job): a writer with idle
        work should not wait for a job to begin it."""
        with self._start_lock:
            self._start()

    def _start(self) -> None:
        if self._closed:
            raise WriterClosed("The writer is closed.")
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="defchain-group-writer", daemon=True
            )
            self._thread.start()

    def _queue_job(self, job: _Job) -> concurrent.futures.Future[Any]:
        with self._start_lock:
            self._start()
            self._queue.put(job)
        return job.future

    def close(self, timeout: float | None = 30.0) -> None:
        """Finish the queued jobs, then stop the thread (idempotent)."""
        with self._start_lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
            if thread is not None:
                self._queue.put(_STOP)
        if thread is not None:
            thread.join(timeout)

    # --- the writer thread ------------------------------------------------------------

    def _loop(self) -> None:
        more = False
        while True:
            try:
                wait = 0.0 if more else self._idle_after
                first = self._queue.get(timeout=wait) if self._idle else self._queue.get()
            except queue.Empty:
                more = self._run_idle()
                continue
            if first is _STOP or not self._commit(first):  # type: ignore[arg-type]
                return
            more = more and self._idle is not None

    def _run_idle(self) -> bool:
        """One round of the idle work; false (rest a while) when it fails or is done."""
        assert self._idle is not None
        session = self._session_factory()
        try:
            session.connection()
            if self._begin is not None:
                self._begin(session)
            more = self._idle(session)
            session.commit()
        except Exception:
            log.exception("the writer's idle work failed; trying again later")
            session.rollback()
            return False
        finally:
            session.close()
        return more

    def _drain(self, batch: list[_Job]) -> bool:
        """Add the jobs waiting to ``batch``; false when the stop sign was among them."""
        while len(batch) < self.max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return True
            if item is _STOP:
                return False
            batch.append(item)  # type: ignore[arg-type]
        return True

    def _commit(self, first: _Job) -> bool:
        """One transaction: wait for the write lock, then run every job waiting by now.

        The jobs are gathered *after* the transaction has begun (on SQLite, after the
        write lock is ours; elsewhere after ``begin`` ran): the requests that arrived
        while another process held the lock join this batch instead of waiting for the
        next one. Returns false when the writer should stop.
        """
        batch = [first]
        jobs: list[_Job] = []  # the batch's jobs not cancelled by their callers
        outcomes: list[tuple[bool, Any]] = []
        session = self._session_factory()
        keep_going = True
        try:
            session.connection()  # BEGIN (IMMEDIATE on SQLite: waits for the lock)
            if self._begin is not None:
                self._begin(session)
            keep_going = self._drain(batch)
            jobs = [job for job in batch if job.future.set_running_or_notify_cancel()]
            outcomes = self._run_all(session, jobs)
            session.commit()
        except BaseException as exc:  # the transaction failed: nothing of the batch is stored
            log.exception("group commit of %d jobs failed", len(batch))
            try:
                session.rollback()
            finally:
                session.close()
            if not jobs:  # it failed before the jobs were taken
                jobs = [job for job in batch if job.future.set_running_or_notify_cancel()]
            for index, job in enumerate(jobs):
                # A job that failed on its own keeps its error; the rest get the commit's.
                ok, value = outcomes[index] if index < len(outcomes) else (True, None)
                job.future.set_exception(exc if ok else value)
            if not isinstance(exc, Exception):
                raise
            return keep_going
        session.close()
        self.batches += 1
        self.jobs += len(jobs)
        if self._after_commit is not None:
            try:
                self._after_commit()
            except Exception:
                log.exception("the writer's after-commit hook failed")
        for job, (ok, value) in zip(jobs, outcomes, strict=True):
            if ok:
                job.future.set_result(value)
            else:
                job.future.set_exception(value)
        return keep_going

    def _run_all(self, session: Session, jobs: list[_Job]) -> list[tuple[bool, Any]]:
        """Every job's outcome, in order. The usual batch, one batched function's items,
        runs without a savepoint; if that call fails, the transaction starts over and
        runs each item alone."""
        groups = _groups(jobs)
        if len(groups) == 1 and len(jobs) > 1 and jobs[0].batched:
            try:
                return self._results(jobs, jobs[0].fn(session, [job.item for job in jobs]))
            except Exception:
                log.info("a batch of %d failed; storing its items one at a time", len(jobs))
                session.rollback()
                session.connection()
                if self._begin is not None:
                    self._begin(session)
        done: dict[int, tuple[bool, Any]] = {}
        for group in groups:
            done.update(zip(map(id, group), self._run(session, group), strict=True))
        return [done[id(job)] for job in jobs]

    @staticmethod
    def _results(group: list[_Job], results: Sequence[Any]) -> list[tuple[bool, Any]]:
        if len(results) != len(group):
            raise RuntimeError(f"{len(results)} outcomes for {len(group)} items")
        return [(not isinstance(r, BaseException), r) for r in results]

    def _run(self, session: Session, group: list[_Job]) -> list[tuple[bool, Any]]:
        """Run one plain job, or one call of a batched function, in a savepoint."""
        try:
            with session.begin_nested():
                if not group[0].batched:
                    return [(True, group[0].fn(session))]
                outcomes = self._results(group, group[0].fn(session, [j.item for j in group]))
        except Exception as exc:  # the job's own failure: only its savepoint is lost
            if len(group) == 1:
                return [(False, exc)]
            return [self._run(session, [job])[0] for job in group]  # each alone
        return outcomes


def _groups(jobs: list[_Job]) -> list[list[_Job]]:
    """Plain jobs one by one; batched jobs of one function together, in queue order."""
    groups: list[list[_Job]] = []
    batched: dict[Any, list[_Job]] = {}
    for job in jobs:
        if not job.batched:
            groups.append([job])
        elif job.fn in batched:
            batched[job.fn].append(job)
        else:
            batched[job.fn] = [job]
            groups.append(batched[job.fn])
    return groups
