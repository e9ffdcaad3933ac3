"""Create notifications inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from defchain.access import User
from defchain.errors import NotFound
from defchain.notify.models import Notification
from defchain.notify.rules import quiet_until


def notify_user(
    session: Session,
    *,
    user_id: int,
    tag: str,
    subject: str,
    body: str = "",
    link: str = "",
    now: datetime,
    urgent: bool = False,
) -> Notification:
    """Queue a notification for one user (flushes, never commits).

    It shows in the app at once. Its e-mail goes out after commit, except that a
    notification that is not ``urgent`` (P1) written during the recipient's quiet hours
    waits until they end (``deliver_after``). Subjects and bodies must not carry case
    details that the e-mail channel should not hold: say what happened and link to it.
    """
    notification = Notification(
        user_id=user_id,
        tag=tag,
        subject=subject[:200],
        body=body,
        link=link,
        created_at=now,
        urgent=urgent,
        deliver_after=None if urgent else _end_of_quiet_hours(session, user_id, now),
    )
    session.add(notification)
    session.flush()
    # Tells the boundary to deliver e-mail once this transaction has committed.
    session.info["notifications_pending"] = True
    return notification


def _end_of_quiet_hours(session: Session, user_id: int, now: datetime) -> datetime | None:
    """When the recipient's quiet hours (in their agency's time zone) end, if ``now`` is
    inside them."""
    user = session.get(User, user_id)
    if user is None or not (user.quiet_start and user.quiet_end):
        return None
    try:
        return quiet_until(now, user.agency.jurisdiction.timezone, user.quiet_start, user.quiet_end)
    except ValueError:
        # Stored values are validated; a bad one must not lose the notification.
        return None


def unread_count(session: Session, *, user_id: int) -> int:
    """How many notifications the user has not opened."""
    query = select(func.count(Notification.id)).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    return int(session.scalar(query) or 0)


def for_user(session: Session, *, user_id: int, limit: int = 100) -> list[Notification]:
    """The user's notifications, newest first."""
    query = (
        select(Notification)
        .where(Notification.user_id == user_id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query).all())


def mark_read(session: Session, *, user_id: int, notification_id: int, now: datetime) -> None:
    """Mark one of the user's own notifications read; anyone else's is "not found"."""
    notification = session.get(Notification, notification_id)
    if notification is None or notification.user_id != user_id:
        raise NotFound(f"No notification with id {notification_id}.")
    if notification.read_at is None:
        notification.read_at = now
        session.flush()


def mark_link_read(session: Session, *, user_id: int, link: str, now: datetime) -> int:
    """Opening what notifications point to reads them: mark the user's unread ones for
    ``link`` read; returns how many."""
    unread = session.scalars(
        select(Notification).where(
            Notification.user_id == user_id,
            Notification.link == link,
            Notification.read_at.is_(None),
        )
    ).all()
    for notification in unread:
        notification.read_at = now
    session.flush()
    return len(unread)
