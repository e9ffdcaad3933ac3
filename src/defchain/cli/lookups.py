"""Find records by what an operator types: a name or a numeric id.

The operator is an administrator (``Actor.system``), so these look up without a scope
filter; they raise ``NotFound`` with the field name so the message says what to fix.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from defchain.access import Agency, Jurisdiction, User
from defchain.errors import NotFound

M = TypeVar("M", Agency, Jurisdiction)


def _by_name_or_id(session: Session, model: type[M], value: str, field: str) -> M:
    value = value.strip()
    record: M | None = None
    if value.isdigit():
        record = session.get(model, int(value))
    if record is None:
        column: Any = model.name
        record = session.scalar(select(model).where(func.lower(column) == value.lower()))
    if record is None:
        raise NotFound(f"{field}: no {field} named or numbered '{value}'.", field=field)
    return record


def agency(session: Session, value: str) -> Agency:
    """An agency by exact name (any case) or id."""
    return _by_name_or_id(session, Agency, value, "agency")


def jurisdiction(session: Session, value: str) -> Jurisdiction:
    """A jurisdiction by exact name (any case) or id."""
    return _by_name_or_id(session, Jurisdiction, value, "jurisdiction")


def user(session: Session, username: str) -> User:
    """A user by username (any case)."""
    found = session.scalar(
        select(User).where(func.lower(User.username) == username.strip().lower())
    )
    if found is None:
        raise NotFound(f"username: no user named '{username}'.", field="username")
    return found
