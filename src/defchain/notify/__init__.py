"""Notifications that reach a person: in-app rows, delivered by e-mail when configured."""

from defchain.notify.mailer import Mailer, SmtpMailer, deliver_pending
from defchain.notify.models import Notification
from defchain.notify.service import (
    for_user,
    mark_link_read,
    mark_read,
    notify_user,
    unread_count,
)

__all__ = [
    "Mailer",
    "Notification",
    "SmtpMailer",
    "deliver_pending",
    "for_user",
    "mark_link_read",
    "mark_read",
    "notify_user",
    "unread_count",
]
