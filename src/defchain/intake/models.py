"""Reports from every channel, their attachments, the tipster thread, API integrations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from defchain.db import Base, UTCDateTime


class Report(Base):
    """One signal: a tip, SAR, denial notice, purchase attempt, wellness check, referral
    or direct threat.

    ``details`` holds the kind's structured fields (validated by ``schemas``);
    ``subject`` holds descriptors of the person of concern, for linking later. An
    anonymous public report stores no IP address, no user agent, and a receipt time
    truncated to the minute.
    """

    __tablename__ = "reports"
    __table_args__ = (
        UniqueConstraint("integration_id", "external_id", name="uq_reports_external"),
        Index("ix_reports_received", "received_at"),
        Index("ix_reports_agency_received", "agency_id", "received_at"),
        # The reports still waiting for linking, triage and routing after receipt.
        Index(
            "ix_reports_unprocessed",
            "id",
            sqlite_where=text("processed_at IS NULL"),
            postgresql_where=text("processed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)
    channel: Mapped[str] = mapped_column(String(20), index=True)
    status: Mapped[str] = mapped_column(String(20), default="new")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdictions.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), default=None)
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    danger_now: Mapped[bool] = mapped_column(Boolean, default=False)
    narrative: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str] = mapped_column(String(500), default="")
    occurred_at_text: Mapped[str] = mapped_column(String(200), default="")
    subject: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reporter: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The same labels as ",cji,health," so list queries can filter clearances in SQL.
    label_set: Mapped[str] = mapped_column(String(100), default=",")
    tip_code: Mapped[str | None] = mapped_column(String(20), unique=True, default=None)
    passphrase_hash: Mapped[str | None] = mapped_column(String(300), default=None)
    followup_failures: Mapped[int] = mapped_column(Integer, default=0)
    followup_locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    integration_id: Mapped[int | None] = mapped_column(ForeignKey("integrations.id"), default=None)
    external_id: Mapped[str | None] = mapped_column(String(100), default=None)
    search_text: Mapped[str] = mapped_column(Text, default="")
    # Set once linking, triage and routing have run after the commit that stored it.
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # The priority that counts now: a person's decision, else the rules' suggestion.
    priority: Mapped[str | None] = mapped_column(String(2), default=None, index=True)
    # pending (rules not run yet), suggested (waiting for a person), decided.
    triage_state: Mapped[str] = mapped_column(String(12), default="pending", index=True)

    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="report", cascade="all, delete-orphan", order_by="Attachment.id"
    )
    messages: Mapped[list[TipMessage]] = relationship(
        back_populates="report", cascade="all, delete-orphan", order_by="TipMessage.id"
    )


class Attachment(Base):
    """An image or PDF, checked by content and stripped of metadata before storage."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(50))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    report: Mapped[Report] = relationship(back_populates="attachments")


class TipMessage(Base):
    """One message of the two-way thread between an anonymous tipster and staff."""

    __tablename__ = "tip_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    author: Mapped[str] = mapped_column(String(10))  # "tipster" or "staff"
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    report: Mapped[Report] = relationship(back_populates="messages")


class Integration(Base):
    """Another tip line or system allowed to forward reports through the API."""

    __tablename__ = "integrations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
