"""Domain errors. The web layer maps each to one HTTP status in one place."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    """The object does not exist, or the actor may not know that it exists."""

    status_code = 404


class PermissionDenied(DomainError):
    """The actor may see the object but not do this to it."""

    status_code = 403


class ValidationFailed(DomainError):
    """Input broke a rule; ``field`` names the field."""

    status_code = 422


class Conflict(DomainError):
    """The change collides with existing data (e.g. a duplicate name)."""

    status_code = 409


class AuthenticationFailed(DomainError):
    """Sign-in failed; the message never says which part was wrong."""

    status_code = 401
