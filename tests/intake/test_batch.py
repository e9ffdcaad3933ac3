"""Storing many reports at once (``receive_batch``), as the group writer does."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from defchain import audit
from defchain.access import Actor
from defchain.audit import AuditEvent
from defchain.errors import DomainError, PermissionDenied, ValidationFailed
from defchain.groupcommit import GroupWriter
from defchain.intake import Integration, Report, parse_report, service
from defchain.intake.service import Incoming, Source

API_TIP = {"kind": "tip", "channel": "api", "narrative": "Said he would bring a gun on Monday."}


@pytest.fixture
def linked(db: Session, cast: Any, clock: Any) -> Integration:
    found, _token = service.create_integration(
        db, actor=Actor.system("test"), name="Tip Line", agency_id=cast.agency_a.id, now=clock.now()
    )
    return found


def api_entry(linked: Integration, clock: Any, **fields: Any) -> Incoming:
    data = parse_report({**API_TIP, **fields}, now=clock.now())
    return Incoming(data, Source(integration=linked), clock.now())


def public_entry(cast: Any, clock: Any, narrative: str) -> Incoming:
    cast.jurisdiction.intake_agency_id = cast.agency_a.id
    payload = {
        "kind": "tip",
        "channel": "web",
        "jurisdiction_id": cast.jurisdiction.id,
        "narrative": narrative,
    }
    return Incoming(parse_report(payload, now=clock.now()), service.PUBLIC, clock.now())


def count(db: Session, model: type[Any]) -> int:
    return int(db.scalar(select(func.count()).select_from(model)) or 0)


def test_a_batch_stores_each_report_with_its_own_audit_event_in_order(
    db: Session, cast: Any, clock: Any, linked: Integration
) -> None:
    clock.advance(seconds=17)
    staff = Incoming(
        parse_report({**API_TIP, "channel": "phone"}, now=clock.now()),
        Source(actor=cast.actor("analyst_a")),
        clock.now(),
    )
    entries = [
        api_entry(linked, clock, narrative="first, from the tip line"),
        public_entry(cast, clock, "second, from the public page"),
        staff,
        public_entry(cast, clock, "fourth, from the public page"),
    ]
    events_before = count(db, AuditEvent)
    outcomes = service.receive_batch(db, entries)
    reports = [outcome[0] for outcome in outcomes if isinstance(outcome, tuple)]
    assert len(reports) == 4 and all(created for _, created in outcomes)  # type: ignore[misc]
    assert [r.id for r in reports] == sorted(r.id for r in reports)
    assert reports[0].narrative == "first, from the tip line"
    # Public tips: distinct codes and minute precision; the others keep the second.
    assert reports[1].tip_code and reports[3].tip_code
    assert reports[1].tip_code != reports[3].tip_code
    assert reports[1].received_at.second == 0 and reports[0].received_at.second == 17
    assert reports[0].tip_code is None and reports[2].tip_code is None
    events = list(
        db.scalars(select(AuditEvent).where(AuditEvent.seq > events_before).order_by("seq"))
    )
    assert [e.subject_id for e in events] == [str(r.id) for r in reports]
    assert events[0].actor_label.startswith("integration:Tip Line")
    assert events[1].actor_label == "public"
    assert audit.verify(db).ok


def test_one_bad_entry_is_refused_and_the_others_are_stored(
    db: Session, cast: Any, clock: Any, linked: Integration
) -> None:
    nobody = cast.actor("oversight")  # may read aggregates, not enter reports
    before = count(db, Report)
    outcomes = service.receive_batch(
        db,
        [
            api_entry(linked, clock, narrative="kept"),
            api_entry(linked, clock, jurisdiction_id=987_654),
            Incoming(
                parse_report({**API_TIP, "channel": "phone"}, now=clock.now()),
                Source(actor=nobody),
                clock.now(),
            ),
            api_entry(linked, clock, narrative="kept too"),
        ],
    )
    assert isinstance(outcomes[1], ValidationFailed) and outcomes[1].field == "jurisdiction_id"
    assert isinstance(outcomes[2], PermissionDenied)
    assert [o[0].narrative for o in outcomes if isinstance(o, tuple)] == ["kept", "kept too"]
    assert count(db, Report) == before + 2


def test_an_external_id_sent_twice_in_one_batch_is_stored_once(
    db: Session, clock: Any, linked: Integration
) -> None:
    before = count(db, Report)
    outcomes = service.receive_batch(
        db,
        [
            api_entry(linked, clock, external_id="line-1"),
            api_entry(linked, clock, external_id="line-2"),
            api_entry(linked, clock, external_id="line-1"),
        ],
    )
    assert [o[1] for o in outcomes if isinstance(o, tuple)] == [True, True, False]
    first, _, again = (o[0] for o in outcomes if isinstance(o, tuple))
    assert again.id == first.id
    assert count(db, Report) == before + 2
    # And in a later batch it is found in the database.
    later = service.receive_batch(db, [api_entry(linked, clock, external_id="line-2")])
    assert isinstance(later[0], tuple) and later[0][1] is False


def test_a_race_on_an_external_id_fails_the_batch_and_the_writer_stores_each_alone(
    db: Session, clock: Any, linked: Integration, monkeypatch: pytest.MonkeyPatch
) -> None:
    winner, _ = service.receive_from_integration(
        db, data=api_entry(linked, clock, external_id="raced").data, integration=linked,
        now=clock.now(),
    )  # fmt: skip
    # This batch looked before the winner committed: its lookup saw nothing, once.
    real = service._by_external_ids
    calls: list[int] = []

    def stale_once(*args: Any) -> dict[tuple[int, str], Report]:
        calls.append(1)
        return {} if len(calls) == 1 else real(*args)

    monkeypatch.setattr(service, "_by_external_ids", stale_once)
    entries = [
        api_entry(linked, clock, narrative="innocent bystander"),
        api_entry(linked, clock, external_id="raced"),
    ]
    with pytest.raises(IntegrityError), db.begin_nested():
        service.receive_batch(db, entries)

    # Through the writer: the failed shared call is retried one entry at a time.
    calls.clear()
    factory = sessionmaker(
        bind=db.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    writer = GroupWriter(factory)
    futures = [writer.submit_batched(_receive_ids, entry) for entry in entries]
    writer.close()  # finishes the queued jobs first
    bystander, raced = (future.result(10) for future in futures)
    assert raced == (winner.id, False)
    assert bystander[1] is True and bystander[0] != winner.id


def _receive_ids(session: Session, entries: list[Incoming]) -> list[tuple[int, bool] | Exception]:
    outcomes = service.receive_batch(session, entries)
    return [o if isinstance(o, DomainError) else (o[0].id, o[1]) for o in outcomes]
