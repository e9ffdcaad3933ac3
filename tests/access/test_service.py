"""Administration services: permission checks, audit events, conflicts, validation."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from defchain import audit
from defchain.access import (
    Actor,
    Agency,
    TeamMembership,
    User,
    UserSession,
    auth,
    queries,
    service,
)
from defchain.access.rules import AgencyKind, Role
from defchain.access.schemas import AgencyIn, JurisdictionIn, TeamIn, UserIn
from defchain.access.security import verify_password
from defchain.audit import AuditEvent
from defchain.clock import FrozenClock
from defchain.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tests.conftest import CAST_PASSWORD, CAST_USERS, Cast

SYSTEM = Actor.system("test")
DEMO = auth.AuthPolicy(mfa_required=False)


def _events_after(db: Session, seq: int) -> list[AuditEvent]:
    return list(db.scalars(select(AuditEvent).where(AuditEvent.seq > seq).order_by(AuditEvent.seq)))


def _head(db: Session) -> int:
    return int(db.scalar(select(func.max(AuditEvent.seq))) or 0)


def _agency_in(agency: Agency, **changes: Any) -> AgencyIn:
    values = {
        "name": agency.name,
        "kind": agency.kind,
        "jurisdiction_id": agency.jurisdiction_id,
        "phone": agency.phone,
        "email": agency.email,
        "active": agency.active,
    }
    values.update(changes)
    return AgencyIn(**values)


def _user_in(user: User, **changes: Any) -> UserIn:
    values = {
        "username": user.username,
        "full_name": user.full_name,
        "email": user.email,
        "agency_id": user.agency_id,
        "roles": user.roles,
        "clearances": user.clearances,
    }
    values.update(changes)
    return UserIn(**values)


# --- the cast itself -------------------------------------------------------------------------


def test_cast_is_built_through_audited_services(cast: Cast, db: Session) -> None:
    tags = [e.tag for e in db.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
    assert tags.count("access:user:created") == len(CAST_USERS)
    assert tags.count("access:agency:created") == 3
    assert tags.count("access:team:member_set") == 2
    assert audit.verify(db).ok
    assert verify_password(CAST_PASSWORD, cast.user_c.password_hash)


# --- audited changes ------------------------------------------------------------------------


def test_renaming_an_agency_writes_one_structured_event(
    cast: Cast, db: Session, clock: FrozenClock
) -> None:
    head = _head(db)
    clock.advance(minutes=5)
    service.update_agency(
        db,
        actor=cast.actor("admin"),
        agency=cast.agency_b,
        data=_agency_in(cast.agency_b, name="Agency B Unified Schools"),
        now=clock.now(),
    )
    [event] = _events_after(db, head)
    assert event.tag == "access:agency:updated"
    assert (event.subject_type, event.subject_id) == ("agency", str(cast.agency_b.id))
    assert event.changes == {"name": ["Agency B School District", "Agency B Unified Schools"]}
    assert (event.actor_id, event.actor_label) == (cast.admin.id, f"admin (#{cast.admin.id})")
    assert event.at == clock.now()
    db.expire_all()
    assert db.get(Agency, cast.agency_b.id).name == "Agency B Unified Schools"


def test_saving_an_unchanged_agency_writes_no_event(
    cast: Cast, db: Session, clock: FrozenClock
) -> None:
    head = _head(db)
    service.update_agency(
        db, actor=SYSTEM, agency=cast.agency_a, data=_agency_in(cast.agency_a), now=clock.now()
    )
    assert _events_after(db, head) == []


def test_updating_a_user_records_old_and_new_roles(
    cast: Cast, db: Session, clock: FrozenClock
) -> None:
    head = _head(db)
    service.update_user(
        db,
        actor=SYSTEM,
        user=cast.user_c,
        data=_user_in(cast.user_c, roles=[Role.TEAM_LEAD, Role.TEAM_MEMBER], clearances=["health"]),
        now=clock.now(),
    )
    [event] = _events_after(db, head)
    assert event.tag == "access:user:updated"
    assert event.changes == {
        "roles": [["team_member"], ["team_lead", "team_member"]],
        "clearances": [[], ["health"]],
    }


def test_creating_a_user_audits_every_field_but_the_password(
    cast: Cast, db: Session, clock: FrozenClock
) -> None:
    head = _head(db)
    user = service.create_user(
        db,
        actor=SYSTEM,
        password="another long passphrase 7",
        now=clock.now(),
        data=UserIn(
            username="new_person",
            full_name="New Person",
            agency_id=cast.agency_c.id,
            roles=[Role.TEAM_MEMBER],
        ),
    )
    [event] = _events_after(db, head)
    assert event.tag == "access:user:created"
    assert event.subject_id == str(user.id)
    assert set(event.changes) == set(service.USER_FIELDS)
    assert "password" not in str(event.changes).lower()
    assert verify_password("another long passphrase 7", user.password_hash)


# --- conflicts and validation leave nothing behind -----------------------------------------


def _counts(db: Session) -> tuple[int, int, int]:
    return (
        int(db.scalar(select(func.count(Agency.id))) or 0),
        int(db.scalar(select(func.count(User.id))) or 0),
        audit.count_events(db),
    )


def test_duplicate_agency_name_is_a_conflict_naming_the_field(
    cast: Cast, db: Session, clock: FrozenClock
) -> None:
    before = _counts(db)
    with pytest.raises(Conflict) as raised:
        service.create_agency(
            db,
            actor=SYSTEM,
            now=clock.now(),
            data=AgencyIn(
                name="agency a police department",
                kind=AgencyKind.POLICE,
                jurisdiction_id=cast.jurisdiction.id,
            ),
        )
    assert raised.value.field == "name"
    assert "agency a police department" in raised.value.message
    assert _counts(db) == before


def test_renaming_onto_another_agencys_name_is_a_conflict(
    cast: Cast, db: Session, clock: FrozenClock
) -> None:
    before = _counts(db)
    with pytest.raises(Conflict) as raised:
        service.update_agency(
            db,
            actor=SYSTEM,
            agency=cast.agency_b,
            now=clock.now(),
            data=_agency_in(cast.agency_b, name=cast.agency_a.name),
        )
    assert raised.value.field == "name"
    db.expire_all()
    assert db.get(Agency, cast.agency_b.id).name == "Agency B School District"
    assert _counts(db) == before


def test_duplicate_username_is_a_conflict(cast: Cast, db: Session, clock: FrozenClock) -> None:
    before = _counts(db)
    with pytest.raises(Conflict) as raised:
        service.create_user(
            db,
            actor=SYSTEM,
            password="another long passphrase 7",
            now=clock.now(),
            data=_user_in(cast.user_c, username="USER_C", full_name="Dup"),
        )
    assert raised.value.field == "username"
    assert _counts(db) == before


def test_duplicate_team_and_jurisdiction_names_are_conflicts(
    cast: Cast, db: Session, clock: FrozenClock
) -> None:
    before = _counts(db)
    with pytest.raises(Conflict) as team_conflict:
        service.create_team(
            db,
            actor=SYSTEM,
            now=clock.now(),
            data=TeamIn(name="team t", jurisdiction_id=cast.jurisdiction.id),
        )
    with pytest.raises(Conflict) as jurisdiction_conflict:
        service.create_jurisdiction(
            db,
            actor=SYSTEM,
            now=clock.now(),
            data=JurisdictionIn(name="Test County", state="OH", timezone="America/New_York"),
        )
    assert team_conflict.value.field == jurisdiction_conflict.value.field == "name"
    assert _counts(db) == before


@pytest.mark.parametrize("password", ["short", "user_c2-passphrase-long", "aaaaabbbbbaaaaa"])
def test_weak_password_is_refused_and_nothing_is_written(
    cast: Cast, db: Session, clock: FrozenClock, password: str
) -> None:
    before = _counts(db)
    with pytest.raises(ValidationFailed) as raised:
        service.create_user(
            db,
            actor=SYSTEM,
            password=password,
            now=clock.now(),
            data=UserIn(
                username="user_c2",
                full_name="User C Two",
                agency_id=cast.agency_c.id,
                roles=[Role.TEAM_MEMBER],
            ),
        )
    assert raised.value.field == "password"
    assert db.scalar(select(User).where(User.username == "user_c2")) is None
    assert _counts(db) == before


def test_unknown_agency_is_a_validation_failure(
    cast: Cast, db: Session, clock: FrozenClock
) -> None:
    with pytest.raises(ValidationFailed) as raised:
        service.create_user(
            db,
            actor=SYSTEM,
            password=CAST_PASSWORD,
            now=clock.now(),
            data=UserIn(
                username="nobody",
                full_name="No Body",
                agency_id=cast.agency_c.id + 1000,
                roles=[Role.TEAM_MEMBER],
            ),
        )
    assert raised.value.field == "agency_id"


# --- who may call what ---------------------------------------------------------------------

NON_ADMINS = [name for name in CAST_USERS if name != "admin"]


@pytest.mark.parametrize("name", NON_ADMINS)
def test_only_admins_create_agencies(
    cast: Cast, db: Session, clock: FrozenClock, name: str
) -> None:
    before = _counts(db)
    with pytest.raises(PermissionDenied):
        service.create_agency(
            db,
            actor=cast.actor(name),
            now=clock.now(),
            data=AgencyIn(
                name="Rogue Agency", kind=AgencyKind.OTHER, jurisdiction_id=cast.jurisdiction.id
            ),
        )
    assert _counts(db) == before


@pytest.mark.parametrize("name", NON_ADMINS)
def test_only_admins_change_users(cast: Cast, db: Session, clock: FrozenClock, name: str) -> None:
    actor = cast.actor(name)
    target = cast.user(name)  # even their own account
    with pytest.raises(PermissionDenied):
        service.update_user(
            db, actor=actor, user=target, now=clock.now(), data=_user_in(target, roles=[Role.ADMIN])
        )
    with pytest.raises(PermissionDenied):
        service.set_disabled(db, actor=actor, user=cast.admin, disabled=True, now=clock.now())
    db.expire_all()
    assert cast.user(name).roles != ["admin"]
    assert cast.admin.disabled is False


def test_team_lead_manages_members_of_their_team_only(
    cast: Cast, db: Session, clock: FrozenClock
) -> None:
    lead = cast.actor("lead_a")
    head = _head(db)
    service.add_member(
        db, actor=lead, team=cast.team, user_id=cast.user_c.id, is_lead=False, now=clock.now()
    )
    [event] = _events_after(db, head)
    assert (event.tag, event.changes) == (
        "access:team:member_set",
        {"member": [None, "user_c"], "is_lead": [None, False]},
    )
    assert cast.actor("user_c").team_ids == {cast.team.id}
    with pytest.raises(PermissionDenied):
        service.add_member(
            db,
            actor=cast.actor("member_b"),
            team=cast.team,
            user_id=cast.analyst_a.id,
            is_lead=False,
            now=clock.now(),
        )
    with pytest.raises(PermissionDenied):
        service.create_team(
            db,
            actor=lead,
            now=clock.now(),
            data=TeamIn(name="Lead's Own Team", jurisdiction_id=cast.jurisdiction.id),
        )


def test_removing_a_member_is_audited_and_missing_members_are_not_found(
    cast: Cast, db: Session, clock: FrozenClock
) -> None:
    head = _head(db)
    service.remove_member(
        db, actor=cast.actor("lead_a"), team=cast.team, user_id=cast.member_b.id, now=clock.now()
    )
    [event] = _events_after(db, head)
    assert event.changes == {"member": ["member_b", None]}
    assert (
        db.scalar(select(TeamMembership).where(TeamMembership.user_id == cast.member_b.id)) is None
    )
    with pytest.raises(NotFound):
        service.remove_member(
            db,
            actor=cast.actor("lead_a"),
            team=cast.team,
            user_id=cast.member_b.id,
            now=clock.now(),
        )


# --- accounts -------------------------------------------------------------------------------


def _open_session(db: Session, clock: FrozenClock, username: str) -> str:
    result = auth.sign_in(
        db, username=username, password=CAST_PASSWORD, policy=DEMO, now=clock.now()
    )
    assert result.ok and result.token
    return result.token


def _open_sessions(db: Session, user: User) -> int:
    return int(
        db.scalar(
            select(func.count(UserSession.id)).where(
                UserSession.user_id == user.id, UserSession.ended_at.is_(None)
            )
        )
        or 0
    )


def test_disabling_a_user_ends_their_sessions(cast: Cast, db: Session, clock: FrozenClock) -> None:
    tokens = [_open_session(db, clock, "member_b") for _ in range(2)]
    _open_session(db, clock, "user_c")
    assert _open_sessions(db, cast.member_b) == 2
    clock.advance(minutes=1)
    head = _head(db)
    service.set_disabled(
        db, actor=cast.actor("admin"), user=cast.member_b, disabled=True, now=clock.now()
    )
    [event] = _events_after(db, head)
    assert (event.tag, event.changes) == ("access:user:disabled", {"disabled": [False, True]})
    assert _open_sessions(db, cast.member_b) == 0
    assert _open_sessions(db, cast.user_c) == 1
    for token in tokens:
        assert auth.resolve(db, token=token, policy=DEMO, now=clock.now()).user_session is None
    refused = auth.sign_in(
        db, username="member_b", password=CAST_PASSWORD, policy=DEMO, now=clock.now()
    )
    assert not refused.ok


def test_admin_cannot_disable_or_demote_themselves(
    cast: Cast, db: Session, clock: FrozenClock
) -> None:
    admin = cast.actor("admin")
    with pytest.raises(ValidationFailed) as disabled:
        service.set_disabled(db, actor=admin, user=cast.admin, disabled=True, now=clock.now())
    assert disabled.value.field == "user"
    with pytest.raises(ValidationFailed) as demoted:
        service.update_user(
            db,
            actor=admin,
            user=cast.admin,
            now=clock.now(),
            data=_user_in(cast.admin, roles=[Role.AUDITOR]),
        )
    assert demoted.value.field == "roles"
    assert (cast.admin.disabled, cast.admin.roles) == (False, ["admin"])


def test_setting_a_password_ends_sessions_and_hides_the_value(
    cast: Cast, db: Session, clock: FrozenClock
) -> None:
    _open_session(db, clock, "user_c")
    head = _head(db)
    service.set_password(
        db, actor=SYSTEM, user=cast.user_c, password="a brand new passphrase 9", now=clock.now()
    )
    [event] = _events_after(db, head)
    assert event.changes == {"password": ["***", "***"]}
    assert _open_sessions(db, cast.user_c) == 0
    assert verify_password("a brand new passphrase 9", cast.user_c.password_hash)
    assert not verify_password(CAST_PASSWORD, cast.user_c.password_hash)


def test_actor_for_reflects_teams_and_leads(cast: Cast) -> None:
    assert cast.actor("lead_a").led_team_ids == {cast.team.id}
    assert cast.actor("member_b").team_ids == {cast.team.id}
    assert cast.actor("member_b").led_team_ids == frozenset()
    assert cast.actor("user_c").team_ids == frozenset()
    assert cast.actor("user_c").grants == {}


# --- notification preferences -------------------------------------------------------------


def _prefs(cast: Cast, clock: FrozenClock, name: str, **values: Any) -> User:
    fields = {"on_duty": False, "quiet_start": "", "quiet_end": "", **values}
    user = cast.user(name)
    return service.update_preferences(
        cast.session, actor=cast.actor(name), user_id=user.id, now=clock.now(), **fields
    )


def test_a_user_sets_their_own_preferences_and_it_is_audited(
    cast: Cast, db: Session, clock: FrozenClock
) -> None:
    head = _head(db)
    user = _prefs(cast, clock, "lead_a", on_duty=True, quiet_start="22:00", quiet_end="06:30")
    assert (user.on_duty, user.quiet_start, user.quiet_end) == (True, "22:00", "06:30")
    [event] = _events_after(db, head)
    assert event.tag == "access:user:preferences_changed"
    assert (event.subject_type, event.subject_id) == ("user", str(cast.lead_a.id))
    assert event.actor_id == cast.lead_a.id
    assert event.changes == {
        "on_duty": [False, True],
        "quiet_start": ["", "22:00"],
        "quiet_end": ["", "06:30"],
    }
    # Saving the same values again writes nothing; clearing both removes quiet hours.
    _prefs(cast, clock, "lead_a", on_duty=True, quiet_start="22:00", quiet_end="06:30")
    assert len(_events_after(db, head)) == 1
    _prefs(cast, clock, "lead_a", on_duty=True)
    assert (cast.lead_a.quiet_start, cast.lead_a.quiet_end) == ("", "")


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"quiet_start": "22:00"}, "quiet_end"),
        ({"quiet_end": "07:00"}, "quiet_start"),
        ({"quiet_start": "25:00", "quiet_end": "07:00"}, "quiet_start"),
        ({"quiet_start": "22:00", "quiet_end": "7pm"}, "quiet_end"),
        ({"quiet_start": "08:00", "quiet_end": "08:00"}, "quiet_end"),
    ],
)
def test_bad_quiet_hours_name_the_field_and_change_nothing(
    cast: Cast, db: Session, clock: FrozenClock, values: dict[str, str], field: str
) -> None:
    head = _head(db)
    with pytest.raises(ValidationFailed) as refused:
        _prefs(cast, clock, "analyst_a", on_duty=True, **values)
    assert refused.value.field == field
    assert refused.value.message.startswith(f"{field}:")
    assert (cast.analyst_a.on_duty, cast.analyst_a.quiet_start) == (False, "")
    assert _events_after(db, head) == []


def test_nobody_else_changes_a_users_preferences(
    cast: Cast, db: Session, clock: FrozenClock
) -> None:
    for actor in (cast.actor("admin"), cast.actor("lead_a"), SYSTEM):
        with pytest.raises(PermissionDenied):
            service.update_preferences(
                db,
                actor=actor,
                user_id=cast.analyst_a.id,
                on_duty=True,
                quiet_start="",
                quiet_end="",
                now=clock.now(),
            )
    assert cast.analyst_a.on_duty is False


# --- escalation contacts ----------------------------------------------------------------------


def test_agency_contacts_are_saved_and_audited(cast: Cast, db: Session, clock: FrozenClock) -> None:
    head = _head(db)
    service.update_agency(
        db,
        actor=cast.actor("admin"),
        agency=cast.agency_a,
        data=_agency_in(
            cast.agency_a,
            primary_contact_id=cast.analyst_a.id,
            secondary_contact_id=cast.lead_a.id,
            head_user_id=cast.admin.id,
        ),
        now=clock.now(),
    )
    [event] = _events_after(db, head)
    assert event.tag == "access:agency:updated"
    assert event.changes == {
        "primary_contact_id": [None, cast.analyst_a.id],
        "secondary_contact_id": [None, cast.lead_a.id],
        "head_user_id": [None, cast.admin.id],
    }
    assert queries.escalation_contacts(db, cast.agency_a.id) == {
        "primary": cast.analyst_a,
        "secondary": cast.lead_a,
        "head": cast.admin,
    }


@pytest.mark.parametrize("field", ["primary_contact_id", "secondary_contact_id", "head_user_id"])
def test_a_contact_from_another_agency_is_refused_by_field(
    cast: Cast, db: Session, clock: FrozenClock, field: str
) -> None:
    head = _head(db)
    with pytest.raises(ValidationFailed) as refused:
        service.update_agency(
            db,
            actor=cast.actor("admin"),
            agency=cast.agency_a,
            data=_agency_in(cast.agency_a, **{field: cast.member_b.id}),
            now=clock.now(),
        )
    assert refused.value.field == field
    assert "user of this agency" in refused.value.message
    assert getattr(cast.agency_a, field) is None
    assert _events_after(db, head) == []


def test_contacts_must_be_enabled_distinct_and_unknown_ids_are_refused(
    cast: Cast, db: Session, clock: FrozenClock
) -> None:
    admin = cast.actor("admin")
    service.set_disabled(db, actor=admin, user=cast.analyst_a, disabled=True, now=clock.now())
    cases = [
        ({"primary_contact_id": cast.analyst_a.id}, "primary_contact_id", "disabled"),
        ({"head_user_id": 999_999}, "head_user_id", "user of this agency"),
        (
            {"primary_contact_id": cast.lead_a.id, "secondary_contact_id": cast.lead_a.id},
            "secondary_contact_id",
            "other than the primary",
        ),
    ]
    for changes, field, words in cases:
        with pytest.raises(ValidationFailed) as refused:
            service.update_agency(
                db,
                actor=admin,
                agency=cast.agency_a,
                data=_agency_in(cast.agency_a, **changes),
                now=clock.now(),
            )
        assert refused.value.field == field and words in refused.value.message
    with pytest.raises(ValidationFailed) as new_agency:
        service.create_agency(
            db,
            actor=admin,
            now=clock.now(),
            data=AgencyIn(
                name="Agency D",
                kind=AgencyKind.POLICE,
                jurisdiction_id=cast.jurisdiction.id,
                head_user_id=cast.lead_a.id,
            ),
        )
    assert new_agency.value.field == "head_user_id"


def test_escalation_helpers_skip_who_cannot_act(
    cast: Cast, db: Session, clock: FrozenClock
) -> None:
    admin = cast.actor("admin")
    service.update_agency(
        db,
        actor=admin,
        agency=cast.agency_a,
        data=_agency_in(cast.agency_a, primary_contact_id=cast.analyst_a.id),
        now=clock.now(),
    )
    cast.analyst_a.on_duty = cast.lead_a.on_duty = cast.member_b.on_duty = True
    db.flush()
    assert queries.on_duty_users(db, cast.agency_a.id) == [cast.analyst_a, cast.lead_a]
    assert queries.on_duty_users(db, cast.agency_c.id) == []
    assert queries.team_leads(db, cast.team.id) == [cast.lead_a]
    assert queries.escalation_contacts(db, 999_999) == dict.fromkeys(
        ("primary", "secondary", "head")
    )

    service.set_disabled(db, actor=admin, user=cast.analyst_a, disabled=True, now=clock.now())
    service.set_disabled(db, actor=admin, user=cast.lead_a, disabled=True, now=clock.now())
    assert queries.on_duty_users(db, cast.agency_a.id) == []
    assert queries.team_leads(db, cast.team.id) == []
    assert queries.escalation_contacts(db, cast.agency_a.id)["primary"] is None
    assert cast.agency_a.primary_contact_id == cast.analyst_a.id  # kept, but not reached
    # Saving the agency for another change keeps a contact disabled since then.
    service.update_agency(
        db,
        actor=admin,
        agency=cast.agency_a,
        data=_agency_in(cast.agency_a, phone="555-0101", primary_contact_id=cast.analyst_a.id),
        now=clock.now(),
    )
