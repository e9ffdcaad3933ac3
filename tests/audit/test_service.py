"""Recording and verifying the audit chain on a real database, including tampering.

The database refuses UPDATE and DELETE on ``audit_events`` with triggers. The tamper
tests first show that, then play an attacker who can drop or disable the triggers: they
do it inside the test's transaction (DDL is transactional on both engines), so the
rollback at the end of each test restores the triggers.
"""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from defchain import audit
from defchain.audit import AuditEvent
from defchain.audit.rules import GENESIS_HASH, EventContent, event_hash
from defchain.clock import FrozenClock

EVENTS = AuditEvent.__table__


def _record(db: Session, clock: FrozenClock, n: int) -> list[AuditEvent]:
    """Record ``n`` events a second apart with varied content."""
    events = []
    for i in range(1, n + 1):
        clock.advance(seconds=1)
        events.append(
            audit.record(
                db,
                actor_id=i,
                actor_label=f"user{i} (#{i})",
                tag="access:agency:updated",
                subject_type="agency",
                subject_id=i,
                changes={"name": [f"Old {i}", f"New {i}"], "at": [None, clock.now()]},
                at=clock.now(),
            )
        )
    return events


def _stored_hashes(db: Session) -> dict[int, str]:
    return dict(db.execute(select(EVENTS.c.seq, EVENTS.c.hash)).tuples().all())


def _disable_append_only(db: Session) -> None:
    """What an attacker with DDL rights does first (undone by the test's rollback)."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change"))
    else:
        db.execute(text("DROP TRIGGER audit_events_no_update"))
        db.execute(text("DROP TRIGGER audit_events_no_delete"))


def _forged_row(seq: int, prev_hash: str, at: datetime, **overrides: Any) -> dict[str, Any]:
    """A row whose own hash is right for its content (the attacker knows the algorithm)."""
    content = EventContent(
        seq=seq,
        at=at,
        actor_id=None,
        actor_label="forger",
        tag="access:user:created",
        subject_type="user",
        subject_id="99",
        changes={"username": [None, "ghost"]},
        prev_hash=prev_hash,
    )
    row = {**dataclasses.asdict(content), "hash": event_hash(content)}
    row.update(overrides)
    return row


def _problems(db: Session) -> list[tuple[int, str]]:
    return [(p.seq, p.reason) for p in audit.verify(db).problems]


# --- recording ---------------------------------------------------------------------------


def test_record_builds_a_gap_free_hash_chain(db: Session, clock: FrozenClock) -> None:
    events = _record(db, clock, 4)
    rows = db.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars().all()
    assert [e.seq for e in rows] == [1, 2, 3, 4]
    assert rows[0].prev_hash == GENESIS_HASH
    for previous, current in itertools.pairwise(rows):
        assert current.prev_hash == previous.hash
    assert len({e.hash for e in rows}) == 4
    assert rows[-1].hash == events[-1].hash


def test_record_stores_normalized_changes_and_the_hash_of_them(
    db: Session, clock: FrozenClock
) -> None:
    event = audit.record(
        db,
        actor_id=None,
        actor_label="test (#0)",
        tag="access:user:updated",
        subject_type="user",
        subject_id=5,
        changes={"roles": (["admin"], ["auditor"])},
        at=clock.now(),
    )
    db.expire_all()
    stored = db.scalars(select(AuditEvent).where(AuditEvent.id == event.id)).one()
    assert stored.changes == {"roles": [["admin"], ["auditor"]]}
    assert stored.subject_id == "5"
    assert stored.at == clock.now()
    recomputed = EventContent(
        seq=stored.seq,
        at=stored.at,
        actor_id=stored.actor_id,
        actor_label=stored.actor_label,
        tag=stored.tag,
        subject_type=stored.subject_type,
        subject_id=stored.subject_id,
        changes=stored.changes,
        prev_hash=stored.prev_hash,
    )
    assert event_hash(recomputed) == stored.hash


def test_seq_stays_gap_free_after_a_rolled_back_append(db: Session, clock: FrozenClock) -> None:
    _record(db, clock, 1)
    with pytest.raises(RuntimeError), db.begin_nested():
        _record(db, clock, 1)
        raise RuntimeError("the surrounding change failed")
    _record(db, clock, 1)
    assert db.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)).all() == [1, 2]
    assert audit.verify(db).ok


@pytest.mark.parametrize(
    ("tag", "changes"),
    [("agency updated", {}), ("access:agency:updated", {"name": "New"})],
    ids=["bad-tag", "changes-not-a-pair"],
)
def test_record_refuses_malformed_events_and_writes_nothing(
    db: Session, clock: FrozenClock, tag: str, changes: dict[str, Any]
) -> None:
    with pytest.raises(ValueError):
        audit.record(
            db,
            actor_id=None,
            actor_label="x",
            tag=tag,
            subject_type="agency",
            subject_id=1,
            changes=changes,
            at=clock.now(),
        )
    assert audit.count_events(db) == 0


def test_recent_events_and_count_filter_by_tag_prefix(db: Session, clock: FrozenClock) -> None:
    _record(db, clock, 3)
    audit.record(
        db,
        actor_id=None,
        actor_label="anonymous",
        tag="access:signin:failed",
        subject_type="user",
        subject_id="nobody",
        at=clock.now(),
    )
    assert audit.count_events(db) == 4
    assert audit.count_events(db, tag_prefix="access:signin") == 1
    assert [e.seq for e in audit.recent_events(db, limit=2)] == [4, 3]
    assert [e.tag for e in audit.recent_events(db, tag_prefix="access:signin")] == [
        "access:signin:failed"
    ]


# --- verifying a clean chain ---------------------------------------------------------


def test_verify_empty_chain(db: Session) -> None:
    result = audit.verify(db)
    assert result.ok
    assert (result.checked, result.head_hash) == (0, GENESIS_HASH)


def test_verify_clean_chain(db: Session, clock: FrozenClock) -> None:
    events = _record(db, clock, 5)
    result = audit.verify(db)
    assert result.ok, result.problems
    assert result.checked == 5
    assert result.head_hash == events[-1].hash


# --- the database refuses changes --------------------------------------------------------


def test_database_refuses_update_and_delete(db: Session, clock: FrozenClock) -> None:
    _record(db, clock, 2)
    statements = [
        update(EVENTS).where(EVENTS.c.seq == 1).values(actor_label="someone else"),
        delete(EVENTS).where(EVENTS.c.seq == 2),
    ]
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"), db.begin_nested():
            db.execute(statement)
    assert db.scalars(select(EVENTS.c.actor_label).order_by(EVENTS.c.seq)).all() == [
        "user1 (#1)",
        "user2 (#2)",
    ]


@pytest.mark.postgres_only
def test_postgres_refuses_truncate(db: Session, clock: FrozenClock) -> None:
    _record(db, clock, 1)
    with pytest.raises(DBAPIError, match="append-only"), db.begin_nested():
        db.execute(text("TRUNCATE audit_events"))
    assert audit.count_events(db) == 1


def test_disabling_the_triggers_is_undone_by_rollback(db: Session, clock: FrozenClock) -> None:
    # Guards the tamper tests below: their attack must not outlive the test.
    _record(db, clock, 1)
    with db.begin_nested() as attack:
        _disable_append_only(db)
        attack.rollback()
    with pytest.raises(DBAPIError, match="append-only"), db.begin_nested():
        db.execute(delete(EVENTS))


def test_duplicate_seq_is_refused_by_the_database(db: Session, clock: FrozenClock) -> None:
    events = _record(db, clock, 2)
    forged = _forged_row(2, events[0].hash, clock.now())
    with pytest.raises(IntegrityError), db.begin_nested():
        db.execute(insert(EVENTS).values(**forged))


# --- tampering is found ----------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        {"changes": {"name": ["Old 3", "Something else"], "at": [None, "forged"]}},
        {"actor_label": "admin (#1)"},
        {"actor_id": 1},
        {"tag": "access:agency:created"},
        {"at": datetime(2026, 1, 1, 0, 0, tzinfo=UTC)},
    ],
    ids=["changes", "actor_label", "actor_id", "tag", "at"],
)
def test_edited_row_is_found_at_its_seq(
    db: Session, clock: FrozenClock, values: dict[str, Any]
) -> None:
    _record(db, clock, 5)
    _disable_append_only(db)
    db.execute(update(EVENTS).where(EVENTS.c.seq == 3).values(**values))
    assert _problems(db) == [(3, "content does not match its hash")]


def test_edited_and_rehashed_row_is_found_at_the_next_seq(db: Session, clock: FrozenClock) -> None:
    events = _record(db, clock, 5)
    _disable_append_only(db)
    forged = _forged_row(3, events[1].hash, events[2].at)
    db.execute(update(EVENTS).where(EVENTS.c.seq == 3).values(**forged))
    assert _problems(db) == [(4, "previous-hash link does not match")]


def test_deleted_row_is_found(db: Session, clock: FrozenClock) -> None:
    _record(db, clock, 5)
    _disable_append_only(db)
    db.execute(delete(EVENTS).where(EVENTS.c.seq == 3))
    assert sorted(_problems(db)) == [
        (4, "previous-hash link does not match"),
        (4, "sequence jumps from 2 to 4"),
    ]


def test_deleting_the_newest_row_changes_the_head_hash(db: Session, clock: FrozenClock) -> None:
    # The chain alone cannot show a cut-off tail; comparing the head hash with one noted
    # earlier (e.g. in a signed export) can.
    _record(db, clock, 5)
    before = audit.verify(db)
    _disable_append_only(db)
    db.execute(delete(EVENTS).where(EVENTS.c.seq == 5))
    after = audit.verify(db)
    assert after.ok
    assert (after.checked, before.checked) == (4, 5)
    assert after.head_hash != before.head_hash


def test_a_recorded_head_hash_catches_a_cut_off_tail(db: Session, clock: FrozenClock) -> None:
    _record(db, clock, 5)
    noted = audit.verify(db).head_hash
    _record(db, clock, 1)  # the log grows normally: the noted head is still in it
    assert audit.verify(db, expected_head=noted).ok
    _disable_append_only(db)
    db.execute(delete(EVENTS).where(EVENTS.c.seq >= 5))
    result = audit.verify(db, expected_head=noted)
    assert not result.ok
    assert "no longer in the chain" in result.problems[0].reason


def test_appended_row_with_a_wrong_link_is_found(db: Session, clock: FrozenClock) -> None:
    events = _record(db, clock, 3)
    db.execute(insert(EVENTS).values(**_forged_row(4, events[1].hash, clock.now())))
    assert _problems(db) == [(4, "previous-hash link does not match")]


def test_appended_row_with_a_skipped_seq_is_found(db: Session, clock: FrozenClock) -> None:
    events = _record(db, clock, 3)
    db.execute(insert(EVENTS).values(**_forged_row(6, events[2].hash, clock.now())))
    assert _problems(db) == [(6, "sequence jumps from 3 to 6")]


def test_row_forged_into_the_middle_is_found_after_it(db: Session, clock: FrozenClock) -> None:
    # Inserting at seq 3 needs the later rows renumbered; the attacker links the forged
    # row correctly, but the row that used to be 3 no longer fits.
    events = _record(db, clock, 5)
    _disable_append_only(db)
    # Two steps so that the unique seq never collides mid-statement (PostgreSQL).
    db.execute(update(EVENTS).where(EVENTS.c.seq >= 3).values(seq=-EVENTS.c.seq))
    db.execute(update(EVENTS).where(EVENTS.c.seq < 0).values(seq=1 - EVENTS.c.seq))
    db.execute(insert(EVENTS).values(**_forged_row(3, events[1].hash, events[1].at)))
    problems = _problems(db)
    assert min(seq for seq, _ in problems) == 4
    assert (4, "previous-hash link does not match") in problems
    assert {seq for seq, _ in problems} == {4, 5, 6}


def test_verify_reads_the_stored_rows_not_the_sessions_copies(
    db: Session, clock: FrozenClock
) -> None:
    # The session still holds the recorded objects; the change below bypasses them.
    events = _record(db, clock, 2)
    _disable_append_only(db)
    db.execute(update(EVENTS).where(EVENTS.c.seq == 1).values(subject_id="changed"))
    assert events[0].subject_id == "1"
    assert _problems(db) == [(1, "content does not match its hash")]


def test_a_time_shifted_by_one_microsecond_is_found(db: Session, clock: FrozenClock) -> None:
    events = _record(db, clock, 2)
    _disable_append_only(db)
    shifted = events[0].at + timedelta(microseconds=1)
    db.execute(update(EVENTS).where(EVENTS.c.seq == 1).values(at=shifted))
    assert _problems(db) == [(1, "content does not match its hash")]
