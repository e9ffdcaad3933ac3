"""Jurisdictions, agencies, teams, users, sign-in sessions and grants."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from defchain.db import Base, UTCDateTime


class Jurisdiction(Base):
    """A place with its own law and policy: a state, county or city."""

    __tablename__ = "jurisdictions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    state: Mapped[str] = mapped_column(String(2))
    county: Mapped[str] = mapped_column(String(120), default="")
    city: Mapped[str] = mapped_column(String(120), default="")
    timezone: Mapped[str] = mapped_column(String(64))
    # The agency that receives public tips for this jurisdiction (routing rules come later).
    intake_agency_id: Mapped[int | None] = mapped_column(
        ForeignKey("agencies.id", use_alter=True), default=None
    )
    # The public "warning signs and how to report" page, in Markdown; None = the default.
    warning_signs_md: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Agency(Base):
    """A police department, school district, behavioral-health agency and so on."""

    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdictions.id"), index=True)
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Who a late or unacknowledged link escalates to, in this order (then the team lead,
    # then the head); each may be empty.
    primary_contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", use_alter=True), default=None
    )
    secondary_contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", use_alter=True), default=None
    )
    head_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", use_alter=True), default=None
    )

    jurisdiction: Mapped[Jurisdiction] = relationship(foreign_keys=[jurisdiction_id])


class User(Base):
    """A staff account. Roles and clearances are small sets stored as JSON lists."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(200), default="")
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    clearances: Mapped[list[str]] = mapped_column(JSON, default=list)
    password_hash: Mapped[str] = mapped_column(String(300))
    mfa_secret: Mapped[str | None] = mapped_column(String(64), default=None)
    mfa_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    mfa_last_step: Mapped[int] = mapped_column(Integer, default=0)
    failed_signins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_signin_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    # On duty: receives P1 alerts for the agency at once. Quiet hours ("22:00"-"07:00",
    # the agency's local time) hold back e-mail that is not P1.
    on_duty: Mapped[bool] = mapped_column(Boolean, default=False)
    quiet_start: Mapped[str] = mapped_column(String(5), default="")
    quiet_end: Mapped[str] = mapped_column(String(5), default="")

    agency: Mapped[Agency] = relationship(foreign_keys=[agency_id])


class Team(Base):
    """A multi-agency threat assessment team."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdictions.id"), index=True)
    description: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    jurisdiction: Mapped[Jurisdiction] = relationship()
    memberships: Mapped[list[TeamMembership]] = relationship(
        back_populates="team", cascade="all, delete-orphan"
    )


class TeamMembership(Base):
    """A user on a team, as a member or as the team's lead."""

    __tablename__ = "team_memberships"
    __table_args__ = (UniqueConstraint("team_id", "user_id", name="uq_team_member"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    is_lead: Mapped[bool] = mapped_column(Boolean, default=False)

    team: Mapped[Team] = relationship(back_populates="memberships")
    user: Mapped[User] = relationship()


class UserSession(Base):
    """A signed-in browser. Only a hash of the cookie token is stored."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    mfa_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    user: Mapped[User] = relationship()


class Grant(Base):
    """Access to one record shared with an agency, a team or a user, at a level."""

    __tablename__ = "grants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resource_type: Mapped[str] = mapped_column(String(40))
    resource_id: Mapped[int] = mapped_column(Integer)
    grantee_type: Mapped[str] = mapped_column(String(10))
    grantee_id: Mapped[int] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(10))
    # None: granted by the system (routing a report to a team or another agency).
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
