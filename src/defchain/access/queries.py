"""Read models for the access domain: lists filtered through ``visible()``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from defchain.access.models import Agency, Jurisdiction, Team, TeamMembership, User
from defchain.access.policy import Actor, visible
from defchain.access.rules import Permission
from defchain.audit import AuditEvent

P = Permission


def agencies(session: Session, actor: Actor) -> Sequence[Agency]:
    """Agencies the actor may see, by name."""
    return session.scalars(
        select(Agency).where(visible(actor, P.ACCESS_AGENCY_READ)).order_by(Agency.name)
    ).all()


def teams(session: Session, actor: Actor) -> Sequence[Team]:
    """Teams the actor may see, by name."""
    return session.scalars(
        select(Team).where(visible(actor, P.ACCESS_TEAM_READ)).order_by(Team.name)
    ).all()


def users(session: Session, actor: Actor) -> Sequence[User]:
    """Users the actor may see, by agency then name."""
    return session.scalars(
        select(User)
        .where(visible(actor, P.ACCESS_USER_READ))
        .join(Agency, Agency.id == User.agency_id)
        .order_by(Agency.name, User.full_name)
    ).all()


def jurisdictions(session: Session, actor: Actor) -> Sequence[Jurisdiction]:
    """Jurisdictions, by name."""
    return session.scalars(
        select(Jurisdiction)
        .where(visible(actor, P.ACCESS_JURISDICTION_READ))
        .order_by(Jurisdiction.name)
    ).all()


def active_users(session: Session) -> Sequence[User]:
    """Every enabled account (for choosing team members)."""
    return session.scalars(
        select(User)
        .where(User.disabled.is_(False))
        .join(Agency, Agency.id == User.agency_id)
        .order_by(Agency.name, User.full_name)
    ).all()


def agency_members(session: Session, agency_id: int) -> Sequence[User]:
    """Staff of one agency."""
    return session.scalars(
        select(User).where(User.agency_id == agency_id).order_by(User.full_name)
    ).all()


def team_members(session: Session, team_id: int) -> Sequence[TeamMembership]:
    """Memberships of a team, leads first."""
    return session.scalars(
        select(TeamMembership)
        .where(TeamMembership.team_id == team_id)
        .join(User)
        .order_by(TeamMembership.is_lead.desc(), User.full_name)
    ).all()


def team_leads(session: Session, team_id: int) -> list[User]:
    """The enabled leads of a team, by name."""
    return list(
        session.scalars(
            select(User)
            .join(TeamMembership, TeamMembership.user_id == User.id)
            .where(
                TeamMembership.team_id == team_id,
                TeamMembership.is_lead.is_(True),
                User.disabled.is_(False),
            )
            .order_by(User.full_name, User.id)
        ).all()
    )


def on_duty_users(session: Session, agency_id: int) -> list[User]:
    """The agency's enabled users who are on duty (P1 alerts reach them at once)."""
    return list(
        session.scalars(
            select(User)
            .where(User.agency_id == agency_id, User.on_duty.is_(True), User.disabled.is_(False))
            .order_by(User.full_name, User.id)
        ).all()
    )


ESCALATION_KEYS = {
    "primary": "primary_contact_id",
    "secondary": "secondary_contact_id",
    "head": "head_user_id",
}


def escalation_contacts(session: Session, agency_id: int) -> dict[str, User | None]:
    """The agency's escalation contacts: ``primary``, ``secondary`` and ``head``.

    A contact who has been disabled or has moved to another agency since counts as none
    (``None``): escalation must reach someone who can act. An unknown agency has none.
    """
    agency = session.get(Agency, agency_id)
    contacts: dict[str, User | None] = dict.fromkeys(ESCALATION_KEYS)
    if agency is None:
        return contacts
    for key, column in ESCALATION_KEYS.items():
        user_id = getattr(agency, column)
        user = session.get(User, user_id) if user_id is not None else None
        if user is not None and not user.disabled and user.agency_id == agency.id:
            contacts[key] = user
    return contacts


def summary(session: Session, *, now: datetime) -> dict[str, object]:
    """Aggregates only (for oversight): no names, no records."""
    roles: Counter[str] = Counter()
    for user_roles in session.scalars(select(User.roles).where(User.disabled.is_(False))):
        roles.update(user_roles)
    since = now - timedelta(hours=24)
    failed = session.scalar(
        select(func.count(AuditEvent.id)).where(
            AuditEvent.tag == "access:signin:failed", AuditEvent.at >= since
        )
    )
    return {
        "jurisdictions": session.scalar(select(func.count(Jurisdiction.id))) or 0,
        "agencies": session.scalar(select(func.count(Agency.id)).where(Agency.active)) or 0,
        "teams": session.scalar(select(func.count(Team.id))) or 0,
        "users": session.scalar(select(func.count(User.id)).where(User.disabled.is_(False))) or 0,
        "users_without_mfa": session.scalar(
            select(func.count(User.id)).where(User.disabled.is_(False), User.mfa_enabled.is_(False))
        )
        or 0,
        "roles": dict(sorted(roles.items())),
        "failed_signins_24h": failed or 0,
    }
