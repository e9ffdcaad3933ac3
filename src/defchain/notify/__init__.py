"""Notifications that reach a person: in-app rows, delivered by e-mail when configured."""

from defchain.notify.models import Notification
from defchain.notify.service import notify_user, unread_count

__all__ = ["Notification", "notify_user", "unread_count"]
