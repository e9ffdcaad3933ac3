"""Integration services behind the API: idempotent receipt, last use, scope, disabling."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from defchain.access import Actor
from defchain.audit import AuditEvent
from defchain.errors import NotFound, PermissionDenied, ValidationFailed
from defchain.intake import Integration, Report, parse_report, service

TIP = {"kind": "tip", "channel": "api", "narrative": "Said he would bring a gun on Monday."}


@pytest.fixture
def linked(db: Session, cast: Any, clock: Any) -> Integration:
    found, _token = service.create_integration(
        db, actor=Actor.system("test"), name="Tip Line", agency_id=cast.agency_a.id, now=clock.now()
    )
    return found


def reports(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(Report)) or 0)


def test_a_lost_race_on_the_external_id_returns_the_winners_report(
    db: Session, linked: Integration, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = parse_report({**TIP, "external_id": "line-7"}, now=clock.now())
    first, created = service.receive_from_integration(
        db, data=data, integration=linked, now=clock.now()
    )
    assert created
    # The second request looked before the first committed: its check saw nothing.
    real = service._by_external_ids
    calls: list[int] = []

    def stale_once(*args: Any) -> dict[tuple[int, str], Report]:
        calls.append(1)
        return {} if len(calls) == 1 else real(*args)

    monkeypatch.setattr(service, "_by_external_ids", stale_once)
    again, created = service.receive_from_integration(
        db, data=data, integration=linked, now=clock.now()
    )
    assert (again.id, created) == (first.id, False)
    assert reports(db) == 1


def test_last_use_is_kept_to_the_minute(linked: Integration, clock: Any) -> None:
    service.touch_integration(linked, now=clock.now())
    first = linked.last_used_at
    clock.advance(seconds=30)
    service.touch_integration(linked, now=clock.now())
    assert linked.last_used_at == first  # no write for every request
    clock.advance(seconds=31)
    service.touch_integration(linked, now=clock.now())
    assert linked.last_used_at == first + timedelta(seconds=61)


def test_an_unknown_jurisdiction_is_refused_before_any_write(
    db: Session, linked: Integration, clock: Any
) -> None:
    for place in (987_654, 2**40):
        data = parse_report({**TIP, "jurisdiction_id": place}, now=clock.now())
        with pytest.raises(ValidationFailed) as info:
            service.receive_from_integration(db, data=data, integration=linked, now=clock.now())
        assert info.value.field == "jurisdiction_id"
    assert reports(db) == 0


def test_an_integration_sees_only_its_own_reports(
    db: Session, linked: Integration, cast: Any, clock: Any
) -> None:
    mine, _ = service.receive_from_integration(
        db, data=parse_report(TIP, now=clock.now()), integration=linked, now=clock.now()
    )
    assert service.report_of_integration(db, integration=linked, report_id=mine.id) is mine
    other, _token = service.create_integration(
        db, actor=Actor.system("test"), name="Other", agency_id=cast.agency_a.id, now=clock.now()
    )
    for integration, report_id in ((other, mine.id), (linked, 0), (linked, 2**40)):
        with pytest.raises(NotFound):
            service.report_of_integration(db, integration=integration, report_id=report_id)


def test_disabling_is_audited_and_ends_the_token(db: Session, cast: Any, clock: Any) -> None:
    found, token = service.create_integration(
        db, actor=Actor.system("test"), name="Line", agency_id=cast.agency_a.id, now=clock.now()
    )
    assert service.integration_for_token(db, token) is found
    with pytest.raises(PermissionDenied):
        service.set_integration_active(
            db, actor=cast.actor("analyst_a"), integration=found, active=False, now=clock.now()
        )
    service.set_integration_active(
        db, actor=cast.actor("admin"), integration=found, active=False, now=clock.now()
    )
    service.set_integration_active(  # already off: nothing to record
        db, actor=cast.actor("admin"), integration=found, active=False, now=clock.now()
    )
    assert service.integration_for_token(db, token) is None
    tags = db.scalars(
        select(AuditEvent.tag).where(
            AuditEvent.subject_type == "integration", AuditEvent.subject_id == str(found.id)
        )
    ).all()
    assert tags == ["intake:integration:created", "intake:integration:disabled"]
    with pytest.raises(PermissionDenied):
        service.list_integrations(db, actor=cast.actor("lead_a"))
    assert [i.name for i, _ in service.list_integrations(db, actor=cast.actor("admin"))] == ["Line"]
    with pytest.raises(NotFound):
        service.integration_named(db, "Nope")
