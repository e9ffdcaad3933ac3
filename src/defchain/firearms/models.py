"""Firearms: the denial follow-up, the banned-person watch, the ERPO tracker.

Every stored choice is a value of an enum in ``rules.py``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from defchain.db import Base, UTCDateTime


class FollowUp(Base):
    """The follow-up of one NICS denial or suspicious purchase attempt.

    ``status`` is ``open`` while its steps run, ``done`` once the outcome is recorded,
    and ``case`` when the person already had a case (the tripwire took it there).
    """

    __tablename__ = "firearm_followups"
    __table_args__ = (UniqueConstraint("report_id", name="uq_firearm_followups_report"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"))
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("persons.id"), index=True, default=None
    )
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # FollowUpKind
    status: Mapped[str] = mapped_column(String(10), default="open")  # FollowUpStatus
    decision: Mapped[str | None] = mapped_column(String(20), default=None)  # Decision
    outcome: Mapped[str] = mapped_column(Text, default="")
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), default=None)


class FollowUpStep(Base):
    """One step of a follow-up, done (a step not yet done has no row)."""

    __tablename__ = "firearm_followup_steps"
    __table_args__ = (UniqueConstraint("followup_id", "step", name="uq_firearm_followup_steps"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    followup_id: Mapped[int] = mapped_column(ForeignKey("firearm_followups.id"), index=True)
    step: Mapped[str] = mapped_column(String(20))  # Step
    done_at: Mapped[datetime] = mapped_column(UTCDateTime())
    done_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    note: Mapped[str] = mapped_column(Text, default="")


class Prohibition(Base):
    """Something that puts a person on the banned-person watch, from ``starts_at``
    until ``ends_at`` (open-ended when empty) or until lifted."""

    __tablename__ = "firearm_prohibitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # ProhibitionKind
    source: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    recorded_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # The ERPO that made it (kind erpo), so the order's expiry moves its end.
    order_id: Mapped[int | None] = mapped_column(ForeignKey("erpo_orders.id"), default=None)


class ErpoOrder(Base):
    """An extreme risk protection order pursued on a case, stage by stage."""

    __tablename__ = "erpo_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    state: Mapped[str] = mapped_column(String(2))  # whose law sets the deadlines
    stage: Mapped[str] = mapped_column(String(20))  # ErpoStage
    petition_drafted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    filed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    ex_parte_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    hearing_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    final_order_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    served_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    surrendered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    return_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    receipt: Mapped[str] = mapped_column(Text, default="")
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SurrenderedFirearm(Base):
    """One firearm of an order's surrender inventory."""

    __tablename__ = "erpo_surrendered_firearms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("erpo_orders.id"), index=True)
    type: Mapped[str] = mapped_column(String(60))
    make: Mapped[str] = mapped_column(String(120), default="")
    serial_number: Mapped[str] = mapped_column(String(60), default="")
    stored_at: Mapped[str] = mapped_column(String(300))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FirearmPolicy(Base):
    """An agency's policy: how many days a denial's follow-up may take."""

    __tablename__ = "firearm_policies"

    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), primary_key=True)
    followup_days: Mapped[int] = mapped_column(Integer, default=3)
