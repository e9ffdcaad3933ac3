"""Who may do what to which record: ``can()`` for one object, ``visible()`` for lists.

They sit side by side so the single-object rule and the list filter cannot drift, and
every route loads objects through ``load_for()``: a record the actor may not see is
"not found" (its existence is not revealed), a visible record the actor may not change
is "forbidden".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from sqlalchemy import ColumnElement, false, true
from sqlalchemy.orm import Session

from defchain.access.models import Agency, Jurisdiction, Team, User
from defchain.access.rules import Permission, Role, labels_cleared, permissions_for
from defchain.errors import NotFound, PermissionDenied

P = Permission
GrantLevel = Literal["read", "write"]


@dataclass(frozen=True)
class Actor:
    """The signed-in user as the policy sees them, built once per request."""

    user_id: int
    username: str
    full_name: str
    agency_id: int
    roles: frozenset[Role]
    clearances: frozenset[str] = frozenset()
    team_ids: frozenset[int] = frozenset()
    led_team_ids: frozenset[int] = frozenset()
    # (resource_type, resource_id) -> level, already resolved for user, agency and teams.
    grants: dict[tuple[str, int], GrantLevel] = field(default_factory=dict)

    @classmethod
    def system(cls, label: str) -> Actor:
        """The operator at the command line: an administrator with no user row."""
        return cls(
            user_id=0,
            username=label,
            full_name=label,
            agency_id=0,
            roles=frozenset({Role.ADMIN}),
            clearances=frozenset(),
        )

    @property
    def audit_id(self) -> int | None:
        """The user id recorded in the audit log (``None`` for the command line)."""
        return self.user_id or None

    @property
    def permissions(self) -> frozenset[Permission]:
        return permissions_for(self.roles)

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    @property
    def label(self) -> str:
        """How the actor appears in the audit log."""
        return f"{self.username} (#{self.user_id})"

    def granted(self, resource_type: str, resource_id: int, *, write: bool = False) -> bool:
        level = self.grants.get((resource_type, resource_id))
        return level == "write" if write else level is not None

    def granted_ids(self, resource_type: str) -> set[int]:
        return {rid for (rtype, rid) in self.grants if rtype == resource_type}


# --- scope rules per resource type ---------------------------------------------------
# Each returns whether the actor, already holding the permission by role, may use it on
# this particular record.


def _agency_scope(actor: Actor, permission: Permission, agency: Agency) -> bool:
    if permission is P.ACCESS_AGENCY_READ:
        return agency.id == actor.agency_id or actor.granted("agency", agency.id)
    return actor.is_admin


def _team_scope(actor: Actor, permission: Permission, team: Team) -> bool:
    if permission is P.ACCESS_TEAM_READ:
        return team.id in actor.team_ids or actor.granted("team", team.id)
    if permission is P.ACCESS_TEAM_MANAGE:
        return team.id in actor.led_team_ids
    return False


def _user_scope(actor: Actor, permission: Permission, user: User) -> bool:
    if permission is P.ACCESS_USER_READ:
        return user.id == actor.user_id
    return False


def _jurisdiction_scope(actor: Actor, permission: Permission, _j: Jurisdiction) -> bool:
    return permission is P.ACCESS_JURISDICTION_READ


_SCOPES: dict[type[Any], Callable[[Actor, Permission, Any], bool]] = {
    Agency: _agency_scope,
    Team: _team_scope,
    User: _user_scope,
    Jurisdiction: _jurisdiction_scope,
}


VisibleRule = Callable[[Actor, Permission], ColumnElement[bool]]
_VISIBLE: dict[Permission, VisibleRule] = {}


def register_resource(
    kind: str,
    model: type[Any],
    *,
    read_permission: Permission,
    scope: Callable[[Actor, Permission, Any], bool],
    visible_rule: VisibleRule,
    list_permissions: frozenset[Permission],
) -> None:
    """Let a higher domain put its records under this policy.

    Domains above ``access`` (intake, cases, ...) own their models, so they register
    the scope rule for one record, its list twin, and the kind name ``load_for`` uses.
    ``visible_rule`` is called for administrators too: it must apply label clearances
    itself, because administrators are not cleared for every label by default.
    """
    _SCOPES[model] = scope
    READ_PERMISSION[kind] = (model, read_permission)
    for permission in list_permissions:
        _VISIBLE[permission] = visible_rule


def can(actor: Actor, permission: Permission, resource: object | None = None) -> bool:
    """Whether ``actor`` may use ``permission`` (on ``resource``, when given).

    Three checks, all required: a role grants the permission; the actor holds a
    clearance for every label on the record; and the record is in the actor's scope
    (administrators' scope is everything).
    """
    if permission not in actor.permissions:
        return False
    if resource is None:
        return True
    labels = frozenset(getattr(resource, "labels", None) or ())
    if not labels_cleared(labels, actor.clearances):
        return False
    if actor.is_admin:
        return True
    scope = _SCOPES.get(type(resource))
    if scope is None:
        return False
    return scope(actor, permission, resource)


def visible(actor: Actor, permission: Permission) -> ColumnElement[bool]:
    """The list twin of ``can()``: a WHERE clause selecting the records in scope."""
    if permission not in actor.permissions:
        return false()
    registered = _VISIBLE.get(permission)
    if registered is not None:
        return registered(actor, permission)
    if actor.is_admin:
        return true()
    if permission is P.ACCESS_AGENCY_READ:
        return Agency.id.in_({actor.agency_id} | actor.granted_ids("agency"))
    if permission is P.ACCESS_TEAM_READ:
        return Team.id.in_(set(actor.team_ids) | actor.granted_ids("team"))
    if permission is P.ACCESS_TEAM_MANAGE:
        return Team.id.in_(set(actor.led_team_ids))
    if permission is P.ACCESS_USER_READ:
        return User.id == actor.user_id
    if permission is P.ACCESS_JURISDICTION_READ:
        return true()
    return false()


# What each kind of record needs to be seen at all; used to tell 404 from 403.
READ_PERMISSION: dict[str, tuple[type[Any], Permission]] = {
    "agency": (Agency, P.ACCESS_AGENCY_READ),
    "team": (Team, P.ACCESS_TEAM_READ),
    "user": (User, P.ACCESS_USER_READ),
    "jurisdiction": (Jurisdiction, P.ACCESS_JURISDICTION_READ),
}

T = TypeVar("T")


def load_for(
    session: Session, actor: Actor, kind: str, record_id: int, permission: Permission
) -> Any:
    """The one way routes reach a record: load it and decide access.

    Raises ``NotFound`` when the record does not exist or the actor may not see it,
    and ``PermissionDenied`` when the actor may see it but not use ``permission``.
    """
    model, read_permission = READ_PERMISSION[kind]
    # Decided before the lookup so the answer does not depend on whether the id exists.
    if permission not in actor.permissions:
        raise PermissionDenied(f"Your role does not allow this on a {kind}.")
    record = session.get(model, record_id)
    if record is None or not can(actor, read_permission, record):
        raise NotFound(f"No {kind} with id {record_id}.")
    if not can(actor, permission, record):
        raise PermissionDenied(f"You may view this {kind} but not change it.")
    return record


def require(actor: Actor, permission: Permission, resource: object | None = None) -> None:
    """Raise ``PermissionDenied`` unless ``can()``; services call this before writing."""
    if not can(actor, permission, resource):
        raise PermissionDenied("You do not have permission to do this.")
