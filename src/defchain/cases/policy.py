"""Who may see and work which case, registered with the access policy.

A case belongs to the agency that opened it and, when it has one, to its team: staff of
the owning agency and members of the team work it; anyone else needs a grant on the
case (read, or write for changes).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, true

from defchain.access import Actor, Permission, register_resource
from defchain.cases.models import Case, Meeting

P = Permission


def case_scope(actor: Actor, permission: Permission, case: Case) -> bool:
    """The owning agency's staff, the case team's members, or a grant on the case."""
    if actor.is_admin or case.agency_id == actor.agency_id:
        return True
    if case.team_id is not None and case.team_id in actor.team_ids:
        return True
    return actor.granted("case", case.id, write=permission is not P.CASES_CASE_READ)


def case_visible(actor: Actor, permission: Permission) -> ColumnElement[bool]:
    """The list twin of ``case_scope`` (``visible()`` has already checked the role)."""
    if actor.is_admin:
        return true()
    granted = actor.granted_ids("case")
    if permission is not P.CASES_CASE_READ:
        granted = {i for i in granted if actor.granted("case", i, write=True)}
    return or_(
        Case.agency_id == actor.agency_id,
        Case.team_id.in_(sorted(actor.team_ids)),
        Case.id.in_(sorted(granted)),
    )


def meeting_scope(actor: Actor, permission: Permission, meeting: Meeting) -> bool:
    """A team's meetings are its members' (and administrators')."""
    return actor.is_admin or meeting.team_id in actor.team_ids


def meeting_visible(actor: Actor, permission: Permission) -> ColumnElement[bool]:
    """The list twin of ``meeting_scope``."""
    return true() if actor.is_admin else Meeting.team_id.in_(sorted(actor.team_ids))


def register() -> None:
    """Put cases under ``can()``, ``visible()`` and ``load_for(kind="case")``, and
    meetings under ``load_for(kind="meeting")`` (meeting lists are per team, so no list
    permission is taken over: ``visible(CASES_CASE_READ)`` stays the case rule)."""
    register_resource(
        "meeting",
        Meeting,
        read_permission=P.CASES_CASE_READ,
        scope=meeting_scope,
        visible_rule=meeting_visible,
        list_permissions=frozenset(),
    )
    register_resource(
        "case",
        Case,
        read_permission=P.CASES_CASE_READ,
        scope=case_scope,
        visible_rule=case_visible,
        list_permissions=frozenset({P.CASES_CASE_READ, P.CASES_CASE_UPDATE}),
    )
