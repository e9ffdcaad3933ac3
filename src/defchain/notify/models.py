"""Notifications addressed to one user."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from defchain.db import Base, UTCDateTime


class Notification(Base):
    """Something a user must see: shown in the app, and e-mailed when SMTP is set up.

    The row is written in the same transaction as the event it reports; delivery by
    e-mail happens after commit, so nobody is told about a change that rolled back.
    """

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_unsent", "emailed_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(String(300), default="")
    tag: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # P1 alerts ignore quiet hours; others wait until ``deliver_after``.
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    deliver_after: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # A failed send is retried later, never dropped.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_error: Mapped[str] = mapped_column(String(300), default="")
