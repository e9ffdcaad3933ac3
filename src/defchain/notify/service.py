"""Create notifications inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from defchain.notify.models import Notification


def notify_user(
    session: Session,
    *,
    user_id: int,
    tag: str,
    subject: str,
    body: str = "",
    link: str = "",
    now: datetime,
) -> Notification:
    """Queue a notification for one user (flushes, never commits).

    Subjects and bodies must not carry case details that the e-mail channel should not
    hold: say what happened and link to it.
    """
    notification = Notification(
        user_id=user_id, tag=tag, subject=subject[:200], body=body, link=link, created_at=now
    )
    session.add(notification)
    session.flush()
    return notification


def unread_count(session: Session, *, user_id: int) -> int:
    """How many notifications the user has not opened."""
    query = select(func.count(Notification.id)).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    return int(session.scalar(query) or 0)
