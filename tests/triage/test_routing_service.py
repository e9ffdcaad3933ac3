"""Routing rules as administered data: validation names the field, every change is
audited, specs come out active and in order, the tester validates its sample."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from defchain.access import Actor
from defchain.audit import AuditEvent
from defchain.errors import Conflict, PermissionDenied, ValidationFailed
from defchain.intake import Report
from defchain.triage import RoutingRule, TriageSuggestion
from defchain.triage import routing_service as service
from defchain.triage.routing import FALLBACK_REASON, route, sample_of
from defchain.triage.schemas import InputInvalid
from tests.conftest import receive_public_tip

SYSTEM = Actor.system("test")


def rule_data(cast: Any, **fields: Any) -> dict[str, Any]:
    return {"name": "Schools to B", "agency_id": cast.agency_b.id, **fields}


def make(db: Any, cast: Any, clock: Any, actor: Actor = SYSTEM, **fields: Any) -> RoutingRule:
    return service.create_rule(db, actor=actor, data=rule_data(cast, **fields), now=clock.now())


def events(db: Any, tag: str) -> list[AuditEvent]:
    return list(
        db.scalars(select(AuditEvent).where(AuditEvent.tag == tag).order_by(AuditEvent.seq))
    )


def problems(exc: pytest.ExceptionInfo[ValidationFailed]) -> dict[str, str]:
    value = exc.value
    return (
        dict(value.errors)
        if isinstance(value, InputInvalid)
        else {value.field or "": value.message}
    )


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"name": ""}, "name", "must not be empty"),
        ({"name": "   "}, "name", "must not be empty"),
        ({"kinds": ["tip", "spaceship"]}, "kinds", "unknown report kind 'spaceship'"),
        ({"priorities": ["P9"]}, "priorities", "unknown priority 'P9'"),
        ({"agency_id": None}, "agency_id", ""),
        ({"school_contains": "x" * 201}, "school_contains", "200"),
        ({"colour": "red"}, "colour", "is not a field of this form"),
    ],
)
def test_bad_input_names_the_field(
    db: Any, cast: Any, clock: Any, fields: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(ValidationFailed) as exc:
        make(db, cast, clock, **fields)
    assert field in problems(exc)
    assert words in problems(exc)[field]
    assert db.scalar(select(func.count(RoutingRule.id))) == 0


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("jurisdiction_id", 99_999, "no such jurisdiction"),
        ("from_agency_id", 99_999, "no such agency"),
        ("agency_id", 99_999, "no such agency"),
        ("team_id", 99_999, "no such team"),
        ("info_agency_ids", [99_999], "no such agency"),
    ],
)
def test_records_that_do_not_exist_are_named(
    db: Any, cast: Any, clock: Any, field: str, value: Any, words: str
) -> None:
    with pytest.raises(ValidationFailed) as exc:
        make(db, cast, clock, **{field: value})
    assert exc.value.field == field
    assert words in problems(exc)[field]
    assert db.scalar(select(func.count(RoutingRule.id))) == 0


def test_several_bad_references_are_named_together(db: Any, cast: Any, clock: Any) -> None:
    with pytest.raises(InputInvalid) as exc:
        make(db, cast, clock, jurisdiction_id=99_999, team_id=99_998)
    assert set(exc.value.errors) == {"jurisdiction_id", "team_id"}


def test_owner_cannot_also_get_an_info_copy_nor_be_inactive(db: Any, cast: Any, clock: Any) -> None:
    with pytest.raises(InputInvalid) as exc:
        make(db, cast, clock, info_agency_ids=[cast.agency_b.id])
    assert "owning agency" in exc.value.errors["info_agency_ids"]
    cast.agency_c.active = False
    with pytest.raises(InputInvalid) as exc:
        make(db, cast, clock, agency_id=cast.agency_c.id)
    assert "inactive" in exc.value.errors["agency_id"]


def test_only_routing_managers_change_rules(db: Any, cast: Any, clock: Any) -> None:
    for name in ("analyst_a", "lead_a", "oversight", "auditor"):
        with pytest.raises(PermissionDenied):
            make(db, cast, clock, actor=cast.actor(name))
        with pytest.raises(PermissionDenied):
            service.try_route(db, actor=cast.actor(name), sample_data={})
    assert make(db, cast, clock, actor=cast.actor("admin")).id


def test_create_update_delete_and_move_are_audited_with_the_changed_fields(
    db: Any, cast: Any, clock: Any
) -> None:
    admin = cast.actor("admin")
    first = make(
        db, cast, clock, actor=admin, kinds=["tip", "sar", "tip"], school_contains=" Lincoln "
    )
    second = make(db, cast, clock, actor=admin, name="Everything else", agency_id=cast.agency_c.id)
    assert (first.position, second.position) == (1, 2)
    assert first.kinds == ["tip", "sar"] and first.school_contains == "Lincoln"

    [created, _] = events(db, "triage:routing_rule:created")
    assert created.actor_id == cast.admin.id
    assert created.subject_type == "routing_rule" and created.subject_id == str(first.id)
    assert created.changes["kinds"] == [None, ["tip", "sar"]]
    assert created.changes["position"] == [None, 1]

    service.update_rule(
        db,
        actor=admin,
        rule=first,
        data=rule_data(cast, kinds=["tip", "sar"], school_contains="lincoln", team_id=cast.team.id),
        now=clock.now(),
    )
    [updated] = events(db, "triage:routing_rule:updated")
    assert updated.changes == {
        "school_contains": ["Lincoln", "lincoln"],
        "team_id": [None, cast.team.id],
    }

    # Saving the same values again changes nothing and records nothing.
    service.update_rule(
        db,
        actor=admin,
        rule=first,
        data=rule_data(cast, kinds=["sar", "tip"], school_contains="lincoln", team_id=cast.team.id),
        now=clock.now(),
    )
    assert len(events(db, "triage:routing_rule:updated")) == 1

    service.move_rule(db, actor=admin, rule=second, direction="up", now=clock.now())
    [moved] = events(db, "triage:routing_rule:moved")
    assert moved.subject_id == str(second.id)
    assert moved.changes == {
        "position": [2, 1],
        "order": [[first.id, second.id], [second.id, first.id]],
    }
    assert [r.id for r in service.list_rules(db)] == [second.id, first.id]
    # Already at the top: nothing moves, nothing is recorded.
    service.move_rule(db, actor=admin, rule=second, direction="up", now=clock.now())
    assert len(events(db, "triage:routing_rule:moved")) == 1
    with pytest.raises(ValidationFailed) as exc:
        service.move_rule(db, actor=admin, rule=second, direction="sideways", now=clock.now())
    assert exc.value.field == "direction"

    first_id = first.id
    service.delete_rule(db, actor=admin, rule=first, now=clock.now())
    [deleted] = events(db, "triage:routing_rule:deleted")
    assert deleted.subject_id == str(first_id)
    assert deleted.changes["name"] == ["Schools to B", None]
    assert db.get(RoutingRule, first_id) is None


def test_a_rule_that_routed_a_report_is_switched_off_not_deleted(
    db: Any, cast: Any, clock: Any
) -> None:
    used = make(db, cast, clock)
    report = receive_public_tip(db, cast, clock, narrative="He said he would hurt them")
    db.add(TriageSuggestion(report_id=report.id, route_rule_id=used.id, created_at=clock.now()))
    db.flush()
    with pytest.raises(Conflict) as exc:
        service.delete_rule(db, actor=SYSTEM, rule=used, now=clock.now())
    assert "switch it off" in exc.value.message
    assert events(db, "triage:routing_rule:deleted") == []


def test_rule_specs_are_the_active_rules_in_order(db: Any, cast: Any, clock: Any) -> None:
    a = make(db, cast, clock, name="A")
    b = make(db, cast, clock, name="B", active=False)
    c = make(db, cast, clock, name="C", info_agency_ids=[cast.agency_c.id, cast.agency_a.id])
    service.move_rule(db, actor=SYSTEM, rule=c, direction="up", now=clock.now())
    service.move_rule(db, actor=SYSTEM, rule=c, direction="up", now=clock.now())
    specs = service.rule_specs(db)
    assert [s.id for s in specs] == [c.id, a.id]
    assert b.id not in {s.id for s in specs}
    assert specs[0].info_agency_ids == tuple(sorted((cast.agency_a.id, cast.agency_c.id)))
    assert isinstance(specs[0].kinds, tuple)


def test_the_tester_routes_a_sample_and_explains(db: Any, cast: Any, clock: Any) -> None:
    sar = make(db, cast, clock, name="SARs to C", kinds=["sar"], agency_id=cast.agency_c.id)
    off = make(db, cast, clock, name="Switched off", active=False)
    schools = make(
        db, cast, clock, name="Lincoln schools", school_contains="lincoln", team_id=cast.team.id
    )
    sample = {
        "kind": "tip",
        "jurisdiction_id": cast.jurisdiction.id,
        "from_agency_id": cast.agency_a.id,
        "school": "Lincoln Middle School",
    }
    result = service.try_route(db, actor=cast.actor("admin"), sample_data=sample)
    assert (result.rule_id, result.agency_id, result.team_id) == (
        schools.id,
        cast.agency_b.id,
        cast.team.id,
    )
    assert result.reason == 'Rule "Lincoln schools": the subject\'s school contains "lincoln".'
    assert result.checked == (
        (sar.id, "kind is Tip, rule wants Suspicious activity report"),
        (off.id, "the rule is switched off"),
    )

    fallback = service.try_route(db, actor=SYSTEM, sample_data={**sample, "school": "Roosevelt"})
    assert (fallback.rule_id, fallback.agency_id, fallback.reason) == (
        None,
        cast.agency_a.id,
        FALLBACK_REASON,
    )


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"kind": "spaceship"}, "kind", "unknown report kind"),
        ({"priority": "P7"}, "priority", "unknown priority"),
        ({"jurisdiction_id": 99_999}, "jurisdiction_id", "no such jurisdiction"),
        ({"from_agency_id": 99_999}, "from_agency_id", "no such agency"),
        ({"school": "x" * 201}, "school", "200"),
        ({"employer": "x" * 201}, "employer", "200"),
        ({"kind": None}, "kind", ""),
    ],
)
def test_the_tester_names_each_bad_sample_field(
    db: Any, cast: Any, clock: Any, change: dict[str, Any], field: str, words: str
) -> None:
    sample = {
        "kind": "tip",
        "jurisdiction_id": cast.jurisdiction.id,
        "from_agency_id": cast.agency_a.id,
        **change,
    }
    sample = {k: v for k, v in sample.items() if v is not None}
    with pytest.raises(InputInvalid) as exc:
        service.try_route(db, actor=SYSTEM, sample_data=sample)
    assert words in exc.value.errors[field]


def test_a_stored_report_routes_through_its_sample(db: Any, cast: Any, clock: Any) -> None:
    make(db, cast, clock, name="Public tips to B", kinds=["tip"], from_agency_id=cast.agency_a.id)
    report = receive_public_tip(db, cast, clock, narrative="She said she would bring a knife")
    stored = db.get(Report, report.id)
    result = route(sample_of(stored), service.rule_specs(db))
    assert result.agency_id == cast.agency_b.id
