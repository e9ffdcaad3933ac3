"""Administration of jurisdictions, agencies, users and teams.

Every function takes ``session`` and ``actor`` keyword-only, checks permission, writes
one audit event per change in the same transaction, and flushes; the caller's boundary
commits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from defchain import audit
from defchain.access.models import (
    Agency,
    Grant,
    Jurisdiction,
    Team,
    TeamMembership,
    User,
    UserSession,
)
from defchain.access.policy import Actor, require
from defchain.access.rules import Permission, Role, password_problem
from defchain.access.schemas import AgencyIn, JurisdictionIn, PreferencesIn, TeamIn, UserIn
from defchain.access.security import hash_password
from defchain.errors import Conflict, NotFound, PermissionDenied, ValidationFailed

P = Permission


def _audit(
    session: Session,
    actor: Actor,
    tag: str,
    subject: Any,
    changes: dict[str, Any],
    now: datetime,
) -> None:
    audit.record_by(
        session,
        actor,
        tag=tag,
        subject_type=type(subject).__name__.lower(),
        subject_id=subject.id,
        changes=changes,
        at=now,
    )


def _snapshot(obj: Any, fields: list[str]) -> dict[str, Any]:
    return {f: getattr(obj, f) for f in fields}


def _ensure_unique(
    session: Session, model: Any, column: Any, value: str, field: str, exclude_id: int | None = None
) -> None:
    query = select(model.id).where(func.lower(column) == value.lower())
    if exclude_id is not None:
        query = query.where(model.id != exclude_id)
    if session.scalar(query) is not None:
        raise Conflict(f"{field}: '{value}' is already in use.", field=field)


def _require_exists(session: Session, model: Any, record_id: int, field: str) -> None:
    if session.get(model, record_id) is None:
        raise ValidationFailed(f"{field}: no such record (id {record_id}).", field=field)


# --- jurisdictions -------------------------------------------------------------------

JURISDICTION_FIELDS = [
    "name",
    "state",
    "county",
    "city",
    "timezone",
    "intake_agency_id",
    "warning_signs_md",
]


def create_jurisdiction(
    session: Session, *, actor: Actor, data: JurisdictionIn, now: datetime
) -> Jurisdiction:
    """Add a jurisdiction."""
    require(actor, P.ACCESS_JURISDICTION_WRITE)
    _ensure_unique(session, Jurisdiction, Jurisdiction.name, data.name, "name")
    if data.intake_agency_id is not None:
        _require_exists(session, Agency, data.intake_agency_id, "intake_agency_id")
    jurisdiction = Jurisdiction(**data.model_dump(), created_at=now)
    session.add(jurisdiction)
    session.flush()
    _audit(
        session,
        actor,
        "access:jurisdiction:created",
        jurisdiction,
        {f: [None, v] for f, v in data.model_dump().items()},
        now,
    )
    return jurisdiction


def update_jurisdiction(
    session: Session,
    *,
    actor: Actor,
    jurisdiction: Jurisdiction,
    data: JurisdictionIn,
    now: datetime,
) -> Jurisdiction:
    """Change a jurisdiction's name, place, time zone, intake agency or warning-signs page."""
    require(actor, P.ACCESS_JURISDICTION_WRITE, jurisdiction)
    _ensure_unique(session, Jurisdiction, Jurisdiction.name, data.name, "name", jurisdiction.id)
    if data.intake_agency_id is not None:
        _require_exists(session, Agency, data.intake_agency_id, "intake_agency_id")
    before = _snapshot(jurisdiction, JURISDICTION_FIELDS)
    for field, value in data.model_dump().items():
        setattr(jurisdiction, field, value)
    changes = audit.diff(before, _snapshot(jurisdiction, JURISDICTION_FIELDS))
    if changes:
        _audit(session, actor, "access:jurisdiction:updated", jurisdiction, changes, now)
    session.flush()
    return jurisdiction


# --- agencies ------------------------------------------------------------------------

AGENCY_FIELDS = [
    "name",
    "kind",
    "jurisdiction_id",
    "phone",
    "email",
    "active",
    "primary_contact_id",
    "secondary_contact_id",
    "head_user_id",
]
CONTACT_FIELDS = ("primary_contact_id", "secondary_contact_id", "head_user_id")


def _check_contacts(session: Session, data: AgencyIn, agency: Agency | None) -> None:
    """Each escalation contact is a user of this agency; a newly chosen one is enabled.

    (A contact already stored stays valid when disabled later, so that saving the form
    for another change does not fail; the escalation helpers skip disabled users.)
    """
    for field in CONTACT_FIELDS:
        user_id = getattr(data, field)
        if user_id is None:
            continue
        user = session.get(User, user_id)
        if user is None or agency is None or user.agency_id != agency.id:
            raise ValidationFailed(f"{field}: must be a user of this agency.", field=field)
        if user.disabled and getattr(agency, field) != user_id:
            raise ValidationFailed(f"{field}: this account is disabled.", field=field)
    if data.primary_contact_id is not None and (
        data.secondary_contact_id == data.primary_contact_id
    ):
        raise ValidationFailed(
            "secondary_contact_id: must be someone other than the primary contact.",
            field="secondary_contact_id",
        )


def create_agency(session: Session, *, actor: Actor, data: AgencyIn, now: datetime) -> Agency:
    """Add an agency in a jurisdiction."""
    require(actor, P.ACCESS_AGENCY_WRITE)
    _ensure_unique(session, Agency, Agency.name, data.name, "name")
    _require_exists(session, Jurisdiction, data.jurisdiction_id, "jurisdiction_id")
    _check_contacts(session, data, None)  # a new agency has no users yet: none may be set
    agency = Agency(**data.model_dump(), created_at=now)
    session.add(agency)
    session.flush()
    _audit(
        session,
        actor,
        "access:agency:created",
        agency,
        {f: [None, v] for f, v in data.model_dump().items()},
        now,
    )
    return agency


def update_agency(
    session: Session, *, actor: Actor, agency: Agency, data: AgencyIn, now: datetime
) -> Agency:
    """Change an agency's details and escalation contacts (users of the agency)."""
    require(actor, P.ACCESS_AGENCY_WRITE, agency)
    _ensure_unique(session, Agency, Agency.name, data.name, "name", agency.id)
    _require_exists(session, Jurisdiction, data.jurisdiction_id, "jurisdiction_id")
    _check_contacts(session, data, agency)
    before = _snapshot(agency, AGENCY_FIELDS)
    for field, value in data.model_dump().items():
        setattr(agency, field, value)
    changes = audit.diff(before, _snapshot(agency, AGENCY_FIELDS))
    if changes:
        _audit(session, actor, "access:agency:updated", agency, changes, now)
    session.flush()
    return agency


# --- users ---------------------------------------------------------------------------

USER_FIELDS = ["username", "full_name", "email", "agency_id", "roles", "clearances"]


def _check_password(password: str, username: str) -> None:
    problem = password_problem(password, username=username)
    if problem:
        raise ValidationFailed(f"password: {problem}", field="password")


def _user_values(data: UserIn) -> dict[str, Any]:
    """The form's values as stored: roles and clearances sorted, without repeats."""
    values = data.model_dump(mode="json")
    values["roles"] = sorted(set(values["roles"]))
    values["clearances"] = sorted(set(values["clearances"]))
    return values


def create_user(
    session: Session, *, actor: Actor, data: UserIn, password: str, now: datetime
) -> User:
    """Add a staff account with an initial password."""
    require(actor, P.ACCESS_USER_WRITE)
    _ensure_unique(session, User, User.username, data.username, "username")
    _require_exists(session, Agency, data.agency_id, "agency_id")
    _check_password(password, data.username)
    values = _user_values(data)
    user = User(**values, password_hash=hash_password(password), created_at=now)
    session.add(user)
    session.flush()
    _audit(
        session,
        actor,
        "access:user:created",
        user,
        {f: [None, values[f]] for f in USER_FIELDS},
        now,
    )
    return user


def update_user(session: Session, *, actor: Actor, user: User, data: UserIn, now: datetime) -> User:
    """Change a user's profile, agency, roles or clearances."""
    require(actor, P.ACCESS_USER_WRITE, user)
    _ensure_unique(session, User, User.username, data.username, "username", user.id)
    _require_exists(session, Agency, data.agency_id, "agency_id")
    if user.id == actor.user_id and Role.ADMIN not in data.roles:
        raise ValidationFailed(
            "roles: you cannot remove your own administrator role.", field="roles"
        )
    before = _snapshot(user, USER_FIELDS)
    values = _user_values(data)
    for field, value in values.items():
        setattr(user, field, value)
    changes = audit.diff(before, _snapshot(user, USER_FIELDS))
    if changes:
        _audit(session, actor, "access:user:updated", user, changes, now)
    session.flush()
    return user


def end_all_sessions(session: Session, *, user: User, now: datetime) -> int:
    """End every open sign-in session of ``user``; returns how many."""
    open_sessions = session.scalars(
        select(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
    ).all()
    for user_session in open_sessions:
        user_session.ended_at = now
    return len(open_sessions)


def set_disabled(
    session: Session, *, actor: Actor, user: User, disabled: bool, now: datetime
) -> User:
    """Disable (signing the user out everywhere) or re-enable an account."""
    require(actor, P.ACCESS_USER_WRITE, user)
    if disabled and user.id == actor.user_id:
        raise ValidationFailed("user: you cannot disable your own account.", field="user")
    if user.disabled != disabled:
        user.disabled = disabled
        if disabled:
            end_all_sessions(session, user=user, now=now)
        tag = "access:user:disabled" if disabled else "access:user:enabled"
        _audit(session, actor, tag, user, {"disabled": [not disabled, disabled]}, now)
    session.flush()
    return user


def set_password(
    session: Session, *, actor: Actor, user: User, password: str, now: datetime
) -> None:
    """An administrator sets a new password; the user's sessions end."""
    require(actor, P.ACCESS_USER_WRITE, user)
    _check_password(password, user.username)
    user.password_hash = hash_password(password)
    end_all_sessions(session, user=user, now=now)
    _audit(session, actor, "access:user:password_set", user, {"password": ["***", "***"]}, now)
    session.flush()


def reset_mfa(session: Session, *, actor: Actor, user: User, now: datetime) -> None:
    """Remove the user's authenticator; they enrol again at next sign-in."""
    require(actor, P.ACCESS_USER_WRITE, user)
    was_enabled = user.mfa_enabled
    user.mfa_secret = None
    user.mfa_enabled = False
    user.mfa_last_step = 0
    end_all_sessions(session, user=user, now=now)
    _audit(
        session, actor, "access:user:mfa_reset", user, {"mfa_enabled": [was_enabled, False]}, now
    )
    session.flush()


def unlock(session: Session, *, actor: Actor, user: User, now: datetime) -> None:
    """Lift a sign-in lockout before it expires."""
    require(actor, P.ACCESS_USER_WRITE, user)
    before = user.locked_until
    user.locked_until = None
    user.failed_signins = 0
    _audit(session, actor, "access:user:unlocked", user, {"locked_until": [before, None]}, now)
    session.flush()


PREFERENCE_FIELDS = ["on_duty", "quiet_start", "quiet_end"]


def update_preferences(
    session: Session,
    *,
    actor: Actor,
    user_id: int,
    on_duty: bool,
    quiet_start: str,
    quiet_end: str,
    now: datetime,
) -> User:
    """A user sets their own notification preferences: on duty (P1 alerts for their
    agency at once) and quiet hours ("HH:MM" to "HH:MM", their agency's local time, may
    run over midnight; both empty for none). Nobody else, administrators included, may
    change them."""
    require(actor, P.ACCESS_ACCOUNT_MANAGE)
    if actor.user_id is None or actor.user_id != user_id:
        raise PermissionDenied("Only the user themself changes their notification preferences.")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"No user with id {user_id}.")
    try:
        data = PreferencesIn(on_duty=on_duty, quiet_start=quiet_start, quiet_end=quiet_end)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "form"
        message = str(error["msg"]).removeprefix("Value error, ")
        raise ValidationFailed(f"{field}: {message}", field=field) from exc
    if data.quiet_start and not data.quiet_end:
        raise ValidationFailed(
            "quiet_end: set when quiet hours end too, or clear the start.", field="quiet_end"
        )
    if data.quiet_end and not data.quiet_start:
        raise ValidationFailed(
            "quiet_start: set when quiet hours start too, or clear the end.", field="quiet_start"
        )
    if data.quiet_start and data.quiet_start == data.quiet_end:
        raise ValidationFailed(
            "quiet_end: must differ from the start (leave both empty for no quiet hours).",
            field="quiet_end",
        )
    before = _snapshot(user, PREFERENCE_FIELDS)
    for field_name, value in data.model_dump().items():
        setattr(user, field_name, value)
    changes = audit.diff(before, _snapshot(user, PREFERENCE_FIELDS))
    if changes:
        _audit(session, actor, "access:user:preferences_changed", user, changes, now)
    session.flush()
    return user


# --- teams ---------------------------------------------------------------------------


def create_team(session: Session, *, actor: Actor, data: TeamIn, now: datetime) -> Team:
    """Create a team; members are added one by one."""
    require(actor, P.ACCESS_TEAM_CREATE)
    _ensure_unique(session, Team, Team.name, data.name, "name")
    _require_exists(session, Jurisdiction, data.jurisdiction_id, "jurisdiction_id")
    team = Team(**data.model_dump(), created_at=now)
    session.add(team)
    session.flush()
    _audit(
        session,
        actor,
        "access:team:created",
        team,
        {f: [None, v] for f, v in data.model_dump().items()},
        now,
    )
    return team


def _membership(session: Session, team: Team, user_id: int) -> TeamMembership | None:
    return session.scalar(
        select(TeamMembership).where(
            TeamMembership.team_id == team.id, TeamMembership.user_id == user_id
        )
    )


def add_member(
    session: Session, *, actor: Actor, team: Team, user_id: int, is_lead: bool, now: datetime
) -> TeamMembership:
    """Put a user (from any agency) on the team, or change whether they lead it."""
    require(actor, P.ACCESS_TEAM_MANAGE, team)
    user = session.get(User, user_id)
    if user is None or user.disabled:
        raise ValidationFailed("user_id: choose an active user.", field="user_id")
    membership = _membership(session, team, user_id)
    if membership is None:
        membership = TeamMembership(team_id=team.id, user_id=user_id, is_lead=is_lead)
        session.add(membership)
        changes: dict[str, Any] = {"member": [None, user.username], "is_lead": [None, is_lead]}
    else:
        changes = {"is_lead": [membership.is_lead, is_lead]}
        membership.is_lead = is_lead
    session.flush()
    _audit(session, actor, "access:team:member_set", team, changes, now)
    return membership


def remove_member(
    session: Session, *, actor: Actor, team: Team, user_id: int, now: datetime
) -> None:
    """Take a user off the team."""
    require(actor, P.ACCESS_TEAM_MANAGE, team)
    membership = _membership(session, team, user_id)
    if membership is None:
        raise NotFound(f"User {user_id} is not on this team.")
    username = membership.user.username
    session.delete(membership)
    session.flush()
    _audit(session, actor, "access:team:member_removed", team, {"member": [username, None]}, now)


# --- actors --------------------------------------------------------------------------


def actor_for(session: Session, user: User) -> Actor:
    """Build the policy's view of a user: roles, clearances, teams and grants."""
    memberships = session.scalars(
        select(TeamMembership).where(TeamMembership.user_id == user.id)
    ).all()
    team_ids = frozenset(m.team_id for m in memberships)
    grants_rows = session.scalars(
        select(Grant).where(
            Grant.revoked_at.is_(None),
            ((Grant.grantee_type == "user") & (Grant.grantee_id == user.id))
            | ((Grant.grantee_type == "agency") & (Grant.grantee_id == user.agency_id))
            | ((Grant.grantee_type == "team") & Grant.grantee_id.in_(team_ids)),
        )
    ).all()
    grants: dict[tuple[str, int], Any] = {}
    for grant in grants_rows:
        key = (grant.resource_type, grant.resource_id)
        if grants.get(key) != "write":
            grants[key] = grant.level
    return Actor(
        user_id=user.id,
        username=user.username,
        full_name=user.full_name,
        agency_id=user.agency_id,
        roles=frozenset(Role(r) for r in user.roles),
        clearances=frozenset(user.clearances),
        team_ids=team_ids,
        led_team_ids=frozenset(m.team_id for m in memberships if m.is_lead),
        grants=grants,
    )
