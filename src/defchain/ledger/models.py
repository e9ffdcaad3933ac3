"""The chain ledger: one row per link a report or case must pass, with its deadline.

A *break* is a link whose ``due_at`` has passed and whose ``done_at`` is empty. Breaks are
never stored: ``queries.breaks`` computes them, so nothing can forget to set a flag.
``ChainAlert`` rows only record which escalation steps the sweep has already sent, so a
second sweep sends nothing twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from defchain.db import Base, UTCDateTime


class ChainLink(Base):
    """One link of the chain for one subject (a report or, later, a case).

    ``ref`` tells apart several links of the same name on one subject (each hand-off has
    its own ``acknowledged`` link: ``handoff:12``); it is ``""`` otherwise. The agency and
    team are who owns the link now (they receive its escalations); ``owner_user_id`` is
    the one person it is assigned to, when there is one.
    """

    __tablename__ = "chain_links"
    __table_args__ = (
        UniqueConstraint("subject_type", "subject_id", "link", "ref", name="uq_chain_links"),
        Index("ix_chain_links_open_due", "done_at", "due_at"),
        Index("ix_chain_links_agency", "agency_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(20))  # report, case
    subject_id: Mapped[int] = mapped_column(Integer)
    link: Mapped[str] = mapped_column(String(40))
    ref: Mapped[str] = mapped_column(String(60), default="")
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), default=None)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), default=None)
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    # What sets the pace of escalation ("P1".."P4", "needs_person"); see triage deadlines.
    pace: Mapped[str] = mapped_column(String(20), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    done_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    done_by: Mapped[str] = mapped_column(String(120), default="")  # who, as the audit names them
    note: Mapped[str] = mapped_column(String(500), default="")


class ChainAlert(Base):
    """An escalation step the sweep sent for a late link: step 0 goes to the first person
    on the link's escalation chain, step 1 to the next, and so on."""

    __tablename__ = "chain_alerts"
    __table_args__ = (UniqueConstraint("link_id", "step", name="uq_chain_alerts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("chain_links.id"), index=True)
    step: Mapped[int] = mapped_column(Integer)
    recipient_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    role: Mapped[str] = mapped_column(String(40))  # owner, primary, secondary, team_lead, head
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
