"""Notifications that reach a person: in-app rows, delivered by e-mail when configured."""

from defchain.notify.mailer import (
    Mailer,
    SmtpMailer,
    claim_due,
    deliver_pending,
    record_outcomes,
    send_claimed,
)
from defchain.notify.models import Notification
from defchain.notify.service import (
    for_user,
    mark_link_read,
    mark_read,
    notify_user,
    unread_count,
)
from defchain.notify.worker import MailWorker

__all__ = [
    "MailWorker",
    "Mailer",
    "Notification",
    "SmtpMailer",
    "claim_due",
    "deliver_pending",
    "for_user",
    "mark_link_read",
    "mark_read",
    "notify_user",
    "record_outcomes",
    "send_claimed",
    "unread_count",
]
