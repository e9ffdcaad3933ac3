"""Write and verify audit events, inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from defchain.audit.models import AuditEvent
from defchain.audit.rules import (
    GENESIS_HASH,
    TAG_PATTERN,
    ChainProblem,
    EventContent,
    check_chain,
    event_hash,
    normalize_changes,
)
from defchain.db import preassign_ids, transaction_cache

# Any constant works; it serializes appenders on PostgreSQL. SQLite transactions
# already begin IMMEDIATE, which serializes writers.
_PG_CHAIN_LOCK_KEY = 7_406_118_232


@dataclass(frozen=True)
class Entry:
    """One event to append (``record_many``)."""

    actor_id: int | None
    actor_label: str
    tag: str
    subject_type: str
    subject_id: str | int
    changes: Mapping[str, Any] | None
    at: datetime


def record(
    session: Session,
    *,
    actor_id: int | None,
    actor_label: str,
    tag: str,
    subject_type: str,
    subject_id: str | int,
    changes: Mapping[str, Any] | None = None,
    at: datetime,
) -> AuditEvent:
    """Append one event to the chain in the current transaction (flushes, never commits)."""
    entry = Entry(actor_id, actor_label, tag, subject_type, subject_id, changes, at)
    return record_many(session, [entry])[0]


def record_many(session: Session, entries: Sequence[Entry]) -> list[AuditEvent]:
    """Append events to the chain in order, in the current transaction, with one insert."""
    for entry in entries:
        if not TAG_PATTERN.match(entry.tag):
            raise ValueError(f"audit tag {entry.tag!r} must look like domain:subject:action")
    if not entries:
        return []
    seq, prev_hash = _chain_head(session)
    events = []
    for entry in entries:
        seq += 1
        content = EventContent(
            seq=seq,
            at=entry.at,
            actor_id=entry.actor_id,
            actor_label=entry.actor_label,
            tag=entry.tag,
            subject_type=entry.subject_type,
            subject_id=str(entry.subject_id),
            changes=normalize_changes(entry.changes or {}),
            prev_hash=prev_hash,
        )
        prev_hash = event_hash(content)
        events.append(
            AuditEvent(
                seq=content.seq,
                at=content.at,
                actor_id=content.actor_id,
                actor_label=content.actor_label,
                tag=content.tag,
                subject_type=content.subject_type,
                subject_id=content.subject_id,
                changes=dict(content.changes),
                prev_hash=content.prev_hash,
                hash=prev_hash,
            )
        )
    preassign_ids(session, events)
    session.add_all(events)
    session.flush()
    return events


def lock_chain(session: Session) -> None:
    """Take the chain's lock for the rest of this transaction (appending takes it too).

    A group commit takes it first, so that its batch gathers the requests that arrived
    while another transaction appended. On SQLite the transaction's write lock already is
    the chain's lock.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    cache = transaction_cache(session)
    if cache.get(_LOCKED):
        return
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_CHAIN_LOCK_KEY})
    if not session.in_nested_transaction():  # a savepoint's rollback would release it
        cache[_LOCKED] = True


_LOCKED = "audit.chain_locked"


def _chain_head(session: Session) -> tuple[int, str]:
    """The last event's ``(seq, hash)``, locking the chain for this transaction."""
    lock_chain(session)
    head = session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    return (head[0], head[1]) if head else (0, GENESIS_HASH)


class Recorded(Protocol):
    """Whoever acts, as the audit log names them (an access ``Actor``, an intake ``Source``)."""

    @property
    def audit_id(self) -> int | None: ...

    @property
    def label(self) -> str: ...


def record_by(
    session: Session,
    who: Recorded,
    *,
    tag: str,
    subject_type: str,
    subject_id: str | int,
    changes: Mapping[str, Any] | None = None,
    at: datetime,
) -> AuditEvent:
    """``record`` for an actor-like ``who``: its ``audit_id`` and ``label`` name the actor."""
    return record(
        session,
        actor_id=who.audit_id,
        actor_label=who.label,
        tag=tag,
        subject_type=subject_type,
        subject_id=subject_id,
        changes=changes,
        at=at,
    )


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """``{field: [old, new]}`` for the fields whose value changed."""
    return {k: [before.get(k), after.get(k)] for k in after if before.get(k) != after.get(k)}


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of checking the whole chain."""

    checked: int
    head_hash: str
    problems: list[ChainProblem]

    @property
    def ok(self) -> bool:
        return not self.problems


def _stored_events(session: Session) -> Iterator[tuple[EventContent, str]]:
    # populate_existing: check what is stored, not objects this session already holds.
    rows = session.execute(
        select(AuditEvent)
        .order_by(AuditEvent.seq, AuditEvent.id)
        .execution_options(populate_existing=True)
    )
    for (event,) in rows:
        yield (
            EventContent(
                seq=event.seq,
                at=event.at,
                actor_id=event.actor_id,
                actor_label=event.actor_label,
                tag=event.tag,
                subject_type=event.subject_type,
                subject_id=event.subject_id,
                changes=event.changes,
                prev_hash=event.prev_hash,
            ),
            event.hash,
        )


def verify(session: Session, *, expected_head: str | None = None) -> VerifyResult:
    """Recompute every hash and link; report each edited, deleted or inserted row.

    The chain alone cannot show that its newest events were cut off. ``expected_head``
    is a head hash recorded earlier (printed by every verification): if it is no longer
    in the chain, events after it were removed or rewritten.
    """
    events = list(_stored_events(session))
    problems = check_chain(events)
    if expected_head is not None and expected_head not in {stored for _, stored in events}:
        problems.append(
            ChainProblem(
                events[-1][0].seq if events else 0,
                f"the recorded head hash {expected_head[:12]}... is no longer in the chain: "
                "events were removed from the end or rewritten",
            )
        )
    head = events[-1][1] if events else GENESIS_HASH
    return VerifyResult(checked=len(events), head_hash=head, problems=problems)
