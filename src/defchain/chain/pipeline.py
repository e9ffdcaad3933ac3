"""The flow after receipt, off the request's path: one thread per worker process.

The intake writer wakes it after each commit; it also looks for waiting reports every few
seconds (reports imported by the command line, a worker that died mid-round). Two stages:

1. right after the commit, rounds of up to ``round_size`` reports, oldest first, in one
   transaction each: rules, routing, the chain's links and deadlines, P1 alerts
   (``triage.service.process_pending(link=False)``) -- cheap, so a suggestion follows
   its acknowledgement within a second or two even under a surge;
2. once no report has arrived for ``idle_after`` seconds, rounds of record linkage and
   clustering (``triage.service.link_processed``, tens of milliseconds a report), which
   re-evaluate a suggestion when what is known about the person changes it.

A first-stage round that fails is retried one report at a time, and a report that fails
alone is marked "needs a person" with the reason, so no report waits forever and none
becomes P4 silently.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from defchain import audit, ledger
from defchain.clock import Clock
from defchain.intake import Report
from defchain.triage import service as triage
from defchain.triage.models import TriageSuggestion

log = logging.getLogger(__name__)

ROUND = 50
FAILED_RULE = "PIPELINE-ERROR"


LINK_ROUND = 20


def run_round(
    session: Session, *, now: datetime, limit: int = ROUND, link: bool = True
) -> list[triage.Processed]:
    """One round in the caller's transaction (takes the audit lock first)."""
    audit.lock_chain(session)
    return triage.process_pending(session, now=now, limit=limit, link=link)


def link_round(session: Session, *, now: datetime, limit: int = LINK_ROUND) -> int:
    """One round of the second stage (linking, clustering, re-evaluation)."""
    audit.lock_chain(session)
    return triage.link_processed(session, now=now, limit=limit)


def mark_failed(session: Session, *, report_id: int, error: str, now: datetime) -> None:
    """A report the flow could not handle: a person must triage it, soon."""
    audit.lock_chain(session)
    report = session.get(Report, report_id)
    if report is None or report.processed_at is not None:
        return
    reason = "The automatic triage failed for this report; a person must triage it."
    session.add(
        TriageSuggestion(
            report_id=report.id,
            priority=None,
            needs_person=True,
            fired=[],
            unknown=[{"rule": FAILED_RULE, "priority": "P1", "reason": reason, "missing": []}],
            route_agency_id=report.agency_id,
            route_reason="Not routed: the automatic triage failed.",
            info_agency_ids=[],
            created_at=now,
        )
    )
    report.processed_at = now
    report.triage_state = "suggested"
    session.flush()
    deadlines = triage.deadlines_of(session, report, None, True)
    for name, after in deadlines.links.items():
        ledger.open_link(
            session,
            subject_type=triage.SUBJECT,
            subject_id=report.id,
            link=name,
            due_at=report.received_at + after,
            now=now,
            agency_id=report.agency_id,
            pace="needs_person",
        )
    audit.record_by(
        session,
        triage.PIPELINE,
        tag="triage:report:failed",
        subject_type=triage.SUBJECT,
        subject_id=report.id,
        changes={"error": [None, error[:300]]},
        at=now,
    )


class Pipeline:
    """The after-commit worker of one process (see the module docstring)."""

    def __init__(
        self,
        session_factory: Callable[[], Session],
        clock: Clock,
        *,
        round_size: int = ROUND,
        interval: float = 5.0,
        idle_after: float = 1.0,
        gather: float = 0.5,
        after_round: Callable[[list[triage.Processed]], None] | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._clock = clock
        self.round_size = round_size
        self._interval = interval
        self._after_round = after_round
        self._wake = threading.Event()
        # Linking (slow: record linkage) waits until no report arrived for this long, so
        # a surge of tips is triaged first and linked after.
        self._idle_after = idle_after
        self._last_wake = 0.0
        self._gather = gather
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.processed = 0  # for tests and the benchmark

    def start(self) -> None:
        with self._lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(
                    target=self._loop, name="defchain-pipeline", daemon=True
                )
                self._thread.start()

    def wake(self) -> None:
        """Something was committed: look now (cheap, thread-safe)."""
        self._last_wake = time.monotonic()
        self._wake.set()

    def close(self, timeout: float | None = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _loop(self) -> None:
        backlog = True  # linking left over from before the start
        while not self._stop.is_set():
            woke = self._wake.wait(
                min(self._idle_after, self._interval) if backlog else self._interval
            )
            if woke and self._gather:
                # Let the reports of the next few commits join this round: fewer, larger
                # transactions leave the write lock to intake more of the time.
                self._stop.wait(self._gather)
            self._wake.clear()
            try:
                self.drain_new()
                if time.monotonic() - self._last_wake >= self._idle_after:
                    backlog = self._link_round() >= LINK_ROUND
            except Exception:  # never die: log, rest, try again
                log.exception("the triage pipeline failed; trying again")
                self._stop.wait(1.0)

    def drain_new(self) -> int:
        """Triage every waiting report, a round at a time; returns how many."""
        total = 0
        while not self._stop.is_set():
            done = self._round()
            total += done
            if done < self.round_size:
                break
        if total:
            # Reports are arriving (found by polling, in the chain's own process): linking
            # waits until they stop, as it does when woken by the writer.
            self._last_wake = time.monotonic()
        return total

    def drain(self) -> int:
        """Triage everything waiting, then link everything triaged (tests, shutdown)."""
        total = self.drain_new()
        while not self._stop.is_set() and self._link_round() >= LINK_ROUND:
            pass
        return total

    def _link_round(self) -> int:
        session = self._session_factory()
        try:
            session.connection()
            done = link_round(session, now=self._clock.now())
            session.commit()
            return done
        except Exception:
            session.rollback()
            log.exception("a linking round failed; trying again later")
            return 0
        finally:
            session.close()

    def _round(self) -> int:
        session = self._session_factory()
        try:
            session.connection()
            processed = run_round(session, now=self._clock.now(), limit=self.round_size, link=False)
            session.commit()
        except Exception:
            session.rollback()
            session.close()
            log.exception("a triage round failed; retrying its reports one at a time")
            return self._one_by_one()
        finally:
            session.close()
        self._done(processed)
        return len(processed)

    def _one_by_one(self) -> int:
        ids = self._waiting_ids()
        for report_id in ids:
            session = self._session_factory()
            try:
                session.connection()
                audit.lock_chain(session)
                report = session.get(Report, report_id)
                if report is None or report.processed_at is not None:
                    session.rollback()
                    continue
                now = self._clock.now()
                processed = [triage.process_report(session, report=report, now=now, link=False)]
                session.commit()
                self._done(processed)
            except Exception as error:
                session.rollback()
                log.exception("triage of report %s failed; a person must triage it", report_id)
                self._mark_failed(report_id, error)
            finally:
                session.close()
        return len(ids)

    def _waiting_ids(self) -> list[int]:
        session = self._session_factory()
        try:
            query = (
                select(Report.id)
                .where(Report.processed_at.is_(None))
                .order_by(Report.id)
                .limit(self.round_size)
            )
            return list(session.scalars(query))
        finally:
            session.rollback()
            session.close()

    def _mark_failed(self, report_id: int, error: Exception) -> None:
        session = self._session_factory()
        try:
            session.connection()
            mark_failed(session, report_id=report_id, error=repr(error), now=self._clock.now())
            session.commit()
        except Exception:
            session.rollback()
            log.exception("could not even mark report %s as failed", report_id)
        finally:
            session.close()

    def _done(self, processed: list[triage.Processed]) -> None:
        self.processed += len(processed)
        if processed and self._after_round is not None:
            try:
                self._after_round(processed)
            except Exception:
                log.exception("the pipeline's after-round hook failed")
