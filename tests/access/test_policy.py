"""``can()``, ``visible()`` and ``load_for()`` for every member of the cast."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from defchain.access import (
    Actor,
    Agency,
    Grant,
    Jurisdiction,
    Permission,
    Team,
    User,
    can,
    load_for,
    queries,
    require,
    service,
    visible,
)
from defchain.access.schemas import AgencyIn, TeamIn, UserIn
from defchain.clock import FrozenClock
from defchain.errors import NotFound, PermissionDenied
from tests.access.permission_sets import CASES, IMPORTS, PEOPLE, REPORTS, STAFF, TRIAGE
from tests.conftest import CAST_USERS, Cast

P = Permission

# --- what each role may do at all ---------------------------------------------------------

EXPECTED_PERMISSIONS: dict[str, set[Permission]] = {
    "analyst_a": STAFF | REPORTS | PEOPLE | TRIAGE | CASES | IMPORTS,
    "lead_a": STAFF | REPORTS | PEOPLE | TRIAGE | CASES | {P.ACCESS_TEAM_MANAGE},
    "member_b": STAFF | REPORTS | PEOPLE | TRIAGE | CASES,
    "user_c": STAFF | REPORTS | PEOPLE | TRIAGE | CASES,
    "oversight": {P.ACCESS_ACCOUNT_MANAGE, P.ACCESS_JURISDICTION_READ, P.OVERSIGHT_SUMMARY_READ},
    "admin": set(Permission),
    "auditor": {
        P.ACCESS_ACCOUNT_MANAGE,
        P.ACCESS_JURISDICTION_READ,
        P.AUDIT_EVENT_READ,
        P.AUDIT_CHAIN_VERIFY,
    },
}


@pytest.mark.parametrize("name", CAST_USERS)
def test_role_permissions_without_a_record(cast: Cast, name: str) -> None:
    actor = cast.actor(name)
    assert {p for p in Permission if can(actor, p)} == EXPECTED_PERMISSIONS[name]


# --- scope per record ---------------------------------------------------------------------

READABLE_AGENCIES = {
    "analyst_a": {"agency_a"},
    "lead_a": {"agency_a"},
    "member_b": {"agency_b"},
    "user_c": {"agency_c"},
    "oversight": set(),
    "admin": {"agency_a", "agency_b", "agency_c"},
    "auditor": set(),
}
TEAM_READERS = {"lead_a", "member_b", "admin"}
TEAM_MANAGERS = {"lead_a", "admin"}
USERS_READ_BY_ALL_OF_THEMSELVES = {"analyst_a", "lead_a", "member_b", "user_c"}


@pytest.mark.parametrize("name", CAST_USERS)
def test_agency_read_scope_is_own_agency(cast: Cast, name: str) -> None:
    actor = cast.actor(name)
    readable = {
        a
        for a in ("agency_a", "agency_b", "agency_c")
        if can(actor, P.ACCESS_AGENCY_READ, getattr(cast, a))
    }
    assert readable == READABLE_AGENCIES[name]


@pytest.mark.parametrize("name", CAST_USERS)
def test_agency_write_is_for_admins_only(cast: Cast, name: str) -> None:
    actor = cast.actor(name)
    assert can(actor, P.ACCESS_AGENCY_WRITE, cast.agency_a) is (name == "admin")


@pytest.mark.parametrize("name", CAST_USERS)
def test_team_read_scope_is_membership(cast: Cast, name: str) -> None:
    assert can(cast.actor(name), P.ACCESS_TEAM_READ, cast.team) is (name in TEAM_READERS)


@pytest.mark.parametrize("name", CAST_USERS)
def test_only_the_lead_manages_the_team(cast: Cast, name: str) -> None:
    assert can(cast.actor(name), P.ACCESS_TEAM_MANAGE, cast.team) is (name in TEAM_MANAGERS)


def test_a_lead_does_not_manage_a_team_they_only_belong_to(
    cast: Cast, db: Session, clock: FrozenClock
) -> None:
    other = _second_team(cast, db, clock)
    lead = cast.actor("lead_a")
    assert can(lead, P.ACCESS_TEAM_READ, other)
    assert not can(lead, P.ACCESS_TEAM_MANAGE, other)


@pytest.mark.parametrize("name", CAST_USERS)
def test_users_read_only_themselves(cast: Cast, name: str) -> None:
    actor = cast.actor(name)
    readable = {other for other in CAST_USERS if can(actor, P.ACCESS_USER_READ, cast.user(other))}
    if name == "admin":
        assert readable == set(CAST_USERS)
    elif name in USERS_READ_BY_ALL_OF_THEMSELVES:
        assert readable == {name}
    else:
        assert readable == set()  # oversight and auditor hold no user:read


def test_admin_may_do_everything_to_everything(cast: Cast) -> None:
    admin = cast.actor("admin")
    records = [cast.jurisdiction, cast.agency_a, cast.agency_c, cast.team, cast.user_c]
    assert all(can(admin, p, r) for p in Permission for r in records)


def test_nobody_but_admin_acts_on_unknown_record_types(cast: Cast) -> None:
    @dataclasses.dataclass
    class Unregistered:
        id: int

    thing = Unregistered(id=cast.agency_a.id)
    for name in CAST_USERS:
        assert can(cast.actor(name), P.ACCESS_AGENCY_READ, thing) is (name == "admin")


def test_jurisdictions_are_readable_by_every_role_but_written_by_admin(cast: Cast) -> None:
    for name in CAST_USERS:
        actor = cast.actor(name)
        assert can(actor, P.ACCESS_JURISDICTION_READ, cast.jurisdiction)
        assert can(actor, P.ACCESS_JURISDICTION_WRITE, cast.jurisdiction) is (name == "admin")


def test_require_raises_exactly_when_can_is_false(cast: Cast) -> None:
    require(cast.actor("lead_a"), P.ACCESS_TEAM_MANAGE, cast.team)
    with pytest.raises(PermissionDenied):
        require(cast.actor("member_b"), P.ACCESS_TEAM_MANAGE, cast.team)


# --- labels -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LabelledRecord:
    """A record of a type the policy has no scope rule for, carrying labels."""

    id: int
    labels: frozenset[str]


def _with_clearances(
    cast: Cast, db: Session, clock: FrozenClock, name: str, clearances: list[str]
) -> Actor:
    """Give a cast member clearances through the service and rebuild their actor."""
    user = cast.user(name)
    data = UserIn(
        username=user.username,
        full_name=user.full_name,
        email=user.email,
        agency_id=user.agency_id,
        roles=user.roles,
        clearances=clearances,
    )
    service.update_user(db, actor=Actor.system("test"), user=user, data=data, now=clock.now())
    return cast.actor(name)


def test_admin_without_the_clearance_is_refused_a_labelled_record(
    cast: Cast, db: Session, clock: FrozenClock
) -> None:
    record = LabelledRecord(id=1, labels=frozenset({"health"}))
    admin = cast.actor("admin")
    assert not can(admin, P.ACCESS_AGENCY_READ, record)
    assert can(admin, P.ACCESS_AGENCY_READ, LabelledRecord(id=1, labels=frozenset()))
    cleared = _with_clearances(cast, db, clock, "admin", ["health"])
    assert cleared.clearances == {"health"}
    assert can(cleared, P.ACCESS_AGENCY_READ, record)
    both = LabelledRecord(id=1, labels=frozenset({"health", "cji"}))
    assert not can(cleared, P.ACCESS_AGENCY_READ, both)


def test_labels_are_checked_before_scope_for_staff(
    cast: Cast, db: Session, clock: FrozenClock
) -> None:
    # Agency A carrying a health label (transient, never saved): analyst_a's own agency.
    labelled = Agency(
        id=cast.agency_a.id, name="A", kind="police", jurisdiction_id=cast.jurisdiction.id
    )
    labelled.labels = frozenset({"health"})  # type: ignore[attr-defined]
    assert not can(cast.actor("analyst_a"), P.ACCESS_AGENCY_READ, labelled)
    cleared = _with_clearances(cast, db, clock, "analyst_a", ["health"])
    assert can(cleared, P.ACCESS_AGENCY_READ, labelled)
    # Clearance does not widen scope: agency B stays out of reach.
    labelled_b = Agency(
        id=cast.agency_b.id, name="B", kind="school_district", jurisdiction_id=cast.jurisdiction.id
    )
    labelled_b.labels = frozenset({"health"})  # type: ignore[attr-defined]
    assert not can(cleared, P.ACCESS_AGENCY_READ, labelled_b)


# --- can() and visible() side by side -------------------------------------------------------


def _second_team(cast: Cast, db: Session, clock: FrozenClock) -> Team:
    """Team T2: lead_a is a plain member, user_c leads it (as a team_member by role)."""
    system = Actor.system("test")
    team = service.create_team(
        db,
        actor=system,
        now=clock.now(),
        data=TeamIn(name="Team T2", jurisdiction_id=cast.jurisdiction.id),
    )
    service.add_member(
        db, actor=system, team=team, user_id=cast.lead_a.id, is_lead=False, now=clock.now()
    )
    service.add_member(
        db, actor=system, team=team, user_id=cast.user_c.id, is_lead=True, now=clock.now()
    )
    return team


def _grant(
    db: Session,
    cast: Cast,
    clock: FrozenClock,
    resource: Any,
    grantee: Any,
    level: str = "read",
    *,
    revoked: bool = False,
) -> None:
    db.add(
        Grant(
            resource_type=type(resource).__name__.lower(),
            resource_id=resource.id,
            grantee_type=type(grantee).__name__.lower(),
            grantee_id=grantee.id,
            level=level,
            granted_by=cast.admin.id,
            reason="test",
            created_at=clock.now(),
            revoked_at=clock.now() if revoked else None,
        )
    )
    db.flush()


@pytest.fixture
def world(cast: Cast, db: Session, clock: FrozenClock) -> Cast:
    """The cast plus a second team, a fourth agency and grants of every grantee kind."""
    extra_team = _second_team(cast, db, clock)
    extra_agency = service.create_agency(
        db,
        actor=Actor.system("test"),
        now=clock.now(),
        data=AgencyIn(
            name="Agency D Sheriff", kind="sheriff", jurisdiction_id=cast.jurisdiction.id
        ),
    )
    _grant(db, cast, clock, cast.agency_a, cast.member_b)  # user grant
    _grant(db, cast, clock, cast.team, cast.agency_c, "write")  # agency grant
    _grant(db, cast, clock, extra_agency, extra_team)  # team grant
    _grant(db, cast, clock, extra_agency, cast.analyst_a, revoked=True)  # revoked
    return cast


MODEL_PERMISSIONS = [
    (Agency, P.ACCESS_AGENCY_READ),
    (Agency, P.ACCESS_AGENCY_WRITE),
    (Team, P.ACCESS_TEAM_READ),
    (Team, P.ACCESS_TEAM_MANAGE),
    (User, P.ACCESS_USER_READ),
    (User, P.ACCESS_USER_WRITE),
    (Jurisdiction, P.ACCESS_JURISDICTION_READ),
    (Jurisdiction, P.ACCESS_JURISDICTION_WRITE),
]


@pytest.mark.parametrize(
    ("model", "permission"), MODEL_PERMISSIONS, ids=[p.value for _, p in MODEL_PERMISSIONS]
)
@pytest.mark.parametrize("name", CAST_USERS)
def test_visible_selects_exactly_what_can_allows(
    world: Cast, db: Session, name: str, model: Any, permission: Permission
) -> None:
    actor = world.actor(name)
    listed = set(db.scalars(select(model.id).where(visible(actor, permission))))
    allowed = {r.id for r in db.scalars(select(model)) if can(actor, permission, r)}
    assert listed == allowed


def test_grants_widen_read_scope(world: Cast, db: Session) -> None:
    member_b = world.actor("member_b")
    assert can(member_b, P.ACCESS_AGENCY_READ, world.agency_a)  # granted to the user
    user_c = world.actor("user_c")
    assert can(user_c, P.ACCESS_TEAM_READ, world.team)  # granted to agency C
    assert not can(user_c, P.ACCESS_TEAM_MANAGE, world.team)  # a grant is not a role
    sheriff = db.scalars(select(Agency).where(Agency.name == "Agency D Sheriff")).one()
    assert can(user_c, P.ACCESS_AGENCY_READ, sheriff)  # granted to team T2
    assert can(world.actor("lead_a"), P.ACCESS_AGENCY_READ, sheriff)
    assert not can(world.actor("analyst_a"), P.ACCESS_AGENCY_READ, sheriff)  # revoked
    assert not can(world.actor("member_b"), P.ACCESS_AGENCY_READ, sheriff)


def test_list_queries_use_the_same_scope(world: Cast, db: Session) -> None:
    user_c = world.actor("user_c")
    assert [t.name for t in queries.teams(db, user_c)] == ["Team T", "Team T2"]
    assert [a.name for a in queries.agencies(db, user_c)] == [
        "Agency C Behavioral Health",
        "Agency D Sheriff",
    ]
    assert [u.username for u in queries.users(db, user_c)] == ["user_c"]
    assert queries.teams(db, world.actor("analyst_a")) == []


# --- load_for ---------------------------------------------------------------------------


def test_load_for_returns_a_permitted_record(cast: Cast, db: Session) -> None:
    team = load_for(db, cast.actor("lead_a"), "team", cast.team.id, P.ACCESS_TEAM_MANAGE)
    assert team is cast.team


def test_load_for_hides_an_invisible_record(cast: Cast, db: Session) -> None:
    with pytest.raises(NotFound):
        load_for(db, cast.actor("analyst_a"), "team", cast.team.id, P.ACCESS_TEAM_READ)
    with pytest.raises(NotFound):
        load_for(db, cast.actor("user_c"), "agency", cast.agency_a.id, P.ACCESS_AGENCY_READ)


def test_load_for_forbids_a_visible_record_the_actor_may_not_change(
    cast: Cast, db: Session, clock: FrozenClock
) -> None:
    other = _second_team(cast, db, clock)  # lead_a is a plain member here
    with pytest.raises(PermissionDenied):
        load_for(db, cast.actor("lead_a"), "team", other.id, P.ACCESS_TEAM_MANAGE)
    with pytest.raises(PermissionDenied):
        load_for(db, cast.actor("member_b"), "team", cast.team.id, P.ACCESS_TEAM_MANAGE)


def test_load_for_missing_id_is_not_found(cast: Cast, db: Session) -> None:
    missing = cast.team.id + 10_000
    with pytest.raises(NotFound):
        load_for(db, cast.actor("admin"), "team", missing, P.ACCESS_TEAM_READ)
    with pytest.raises(NotFound):
        load_for(db, cast.actor("analyst_a"), "team", missing, P.ACCESS_TEAM_READ)


@pytest.mark.parametrize(
    ("name", "kind", "permission"),
    [
        ("analyst_a", "team", P.ACCESS_TEAM_MANAGE),
        ("oversight", "agency", P.ACCESS_AGENCY_WRITE),
        ("auditor", "user", P.ACCESS_USER_READ),
    ],
)
def test_load_for_does_not_reveal_existence_to_a_role_without_the_permission(
    cast: Cast, db: Session, name: str, kind: str, permission: Permission
) -> None:
    # A role that lacks the permission gets the same answer whether or not the id exists.
    existing = {"team": cast.team.id, "agency": cast.agency_b.id, "user": cast.user_c.id}[kind]
    outcomes = []
    for record_id in (existing, existing + 10_000):
        with pytest.raises(PermissionDenied) as raised:
            load_for(db, cast.actor(name), kind, record_id, permission)
        outcomes.append(str(raised.value))
    assert outcomes[0] == outcomes[1]
