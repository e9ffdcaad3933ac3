"""Sign-in: password, TOTP second factor, lockout, and idle-timed sessions.

Failures are results, not exceptions, so that the failure counter and its audit event
are committed by the request boundary like any other change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from defchain import audit
from defchain.access.models import User, UserSession
from defchain.access.rules import (
    is_locked,
    lockout_after_failure,
    password_problem,
    session_expired,
)
from defchain.access.security import (
    hash_password,
    new_session_token,
    new_totp_secret,
    token_digest,
    verify_password,
    verify_totp,
)
from defchain.errors import ValidationFailed

GENERIC_FAILURE = "The username or password is not correct."


@dataclass(frozen=True)
class AuthPolicy:
    """The sign-in settings in force (from ``Settings``)."""

    mfa_required: bool
    lockout_threshold: int = 5
    lockout_minutes: int = 15
    idle_minutes: int = 30
    max_hours: int = 12


@dataclass(frozen=True)
class SigninResult:
    """What happened at the password step."""

    ok: bool
    message: str = ""
    token: str | None = None
    next_step: Literal["mfa", "enroll", "done"] | None = None


def _audit(
    session: Session,
    user: User | None,
    tag: str,
    changes: dict[str, list[object]],
    now: datetime,
    *,
    subject_id: str | int | None = None,
) -> None:
    audit.record(
        session,
        actor_id=user.id if user else None,
        actor_label=f"{user.username} (#{user.id})" if user else "anonymous",
        tag=tag,
        subject_type="user",
        subject_id=subject_id if subject_id is not None else (user.id if user else "?"),
        changes=changes,
        at=now,
    )


def _record_failure(
    session: Session, user: User, policy: AuthPolicy, now: datetime, stage: str
) -> str:
    user.failed_signins, locked_until = lockout_after_failure(
        user.failed_signins,
        now=now,
        threshold=policy.lockout_threshold,
        minutes=policy.lockout_minutes,
    )
    _audit(session, user, "access:signin:failed", {"stage": [None, stage]}, now)
    if locked_until is not None:
        user.locked_until = locked_until
        _audit(session, user, "access:account:locked", {"locked_until": [None, locked_until]}, now)
        return locked_message(policy)
    return GENERIC_FAILURE if stage == "password" else "That code is not correct."


def locked_message(policy: AuthPolicy) -> str:
    """What a locked-out user reads."""
    return (
        f"This account is locked for {policy.lockout_minutes} minutes after "
        f"{policy.lockout_threshold} failed attempts. Try again later or ask an administrator."
    )


def sign_in(
    session: Session, *, username: str, password: str, policy: AuthPolicy, now: datetime
) -> SigninResult:
    """Check the password and open a session that may still need its second factor."""
    username = username.strip().lower()
    user = session.scalar(select(User).where(func.lower(User.username) == username))
    if user is None:
        verify_password(password, None)
        _audit(
            session,
            None,
            "access:signin:failed",
            {"stage": [None, "unknown_user"]},
            now,
            subject_id=username[:80] or "?",
        )
        return SigninResult(ok=False, message=GENERIC_FAILURE)
    if user.disabled:
        verify_password(password, None)
        _audit(session, user, "access:signin:failed", {"stage": [None, "disabled"]}, now)
        return SigninResult(ok=False, message=GENERIC_FAILURE)
    if is_locked(user.locked_until, now=now):
        _audit(session, user, "access:signin:failed", {"stage": [None, "locked"]}, now)
        return SigninResult(ok=False, message=locked_message(policy))
    if not verify_password(password, user.password_hash):
        return SigninResult(
            ok=False, message=_record_failure(session, user, policy, now, "password")
        )
    token = new_session_token()
    needs: Literal["mfa", "enroll", "done"] = (
        "mfa" if user.mfa_enabled else ("enroll" if policy.mfa_required else "done")
    )
    session.add(
        UserSession(
            token_hash=token_digest(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            mfa_verified=needs == "done",
        )
    )
    if needs == "done":
        _complete(session, user, now, method="password")
    session.flush()
    return SigninResult(ok=True, token=token, next_step=needs)


def _complete(session: Session, user: User, now: datetime, *, method: str) -> None:
    user.failed_signins = 0
    user.locked_until = None
    before = user.last_signin_at
    user.last_signin_at = now
    _audit(
        session,
        user,
        "access:signin:succeeded",
        {"method": [None, method], "last_signin_at": [before, now]},
        now,
    )


def verify_second_factor(
    session: Session, *, user_session: UserSession, code: str, policy: AuthPolicy, now: datetime
) -> str | None:
    """Check a TOTP code for a half-open session; returns an error message or ``None``."""
    user = user_session.user
    if is_locked(user.locked_until, now=now):
        return locked_message(policy)
    if not user.mfa_enabled or not user.mfa_secret:
        return "This account has no authenticator enrolled."
    step = verify_totp(user.mfa_secret, code, at=now, last_step=user.mfa_last_step)
    if step is None:
        message = _record_failure(session, user, policy, now, "totp")
        if is_locked(user.locked_until, now=now):
            user_session.ended_at = now
        return message
    user.mfa_last_step = step
    user_session.mfa_verified = True
    _complete(session, user, now, method="password+totp")
    session.flush()
    return None


def start_enrolment(session: Session, *, user: User) -> str:
    """Give the user a new (not yet active) TOTP secret, keeping an unconfirmed one."""
    if user.mfa_enabled:
        raise ValidationFailed("mfa: an authenticator is already enrolled.", field="mfa")
    if not user.mfa_secret:
        user.mfa_secret = new_totp_secret()
        session.flush()
    return user.mfa_secret


def confirm_enrolment(
    session: Session, *, user_session: UserSession, code: str, policy: AuthPolicy, now: datetime
) -> str | None:
    """Activate the authenticator once the user types a valid code from it."""
    user = user_session.user
    if user.mfa_enabled or not user.mfa_secret:
        return "Start enrolment again: no pending authenticator."
    step = verify_totp(user.mfa_secret, code, at=now, last_step=user.mfa_last_step)
    if step is None:
        return _record_failure(session, user, policy, now, "totp_enrolment")
    user.mfa_enabled = True
    user.mfa_last_step = step
    _audit(session, user, "access:user:mfa_enrolled", {"mfa_enabled": [False, True]}, now)
    if not user_session.mfa_verified:
        user_session.mfa_verified = True
        _complete(session, user, now, method="password+totp_enrolment")
    session.flush()
    return None


@dataclass(frozen=True)
class SessionLookup:
    """The session behind a cookie, or why there is none."""

    user_session: UserSession | None
    reason: str | None = None


def resolve(
    session: Session, *, token: str | None, policy: AuthPolicy, now: datetime
) -> SessionLookup:
    """Find the live session for a cookie, ending it when idle or too old."""
    if not token:
        return SessionLookup(None)
    user_session = session.scalar(
        select(UserSession).where(UserSession.token_hash == token_digest(token))
    )
    if user_session is None or user_session.ended_at is not None:
        return SessionLookup(None)
    if user_session.user.disabled:
        user_session.ended_at = now
        return SessionLookup(None, "This account is disabled.")
    reason = session_expired(
        created_at=user_session.created_at,
        last_seen_at=user_session.last_seen_at,
        now=now,
        idle_minutes=policy.idle_minutes,
        max_hours=policy.max_hours,
    )
    if reason:
        user_session.ended_at = now
        _audit(
            session, user_session.user, "access:session:expired", {"reason": [None, reason]}, now
        )
        return SessionLookup(None, reason)
    # Sliding idle window; skip the write when the last touch was very recent.
    if (now - user_session.last_seen_at).total_seconds() >= 30:
        user_session.last_seen_at = now
    return SessionLookup(user_session)


def sign_out(session: Session, *, user_session: UserSession, now: datetime) -> None:
    """End the session at the user's request."""
    user_session.ended_at = now
    _audit(session, user_session.user, "access:signout:succeeded", {}, now)
    session.flush()


def change_own_password(
    session: Session, *, user: User, current: str, new: str, now: datetime
) -> None:
    """A user changes their own password after proving the current one."""
    if not verify_password(current, user.password_hash):
        raise ValidationFailed(
            "current_password: the current password is not correct.", field="current_password"
        )
    problem = password_problem(new, username=user.username)
    if problem:
        raise ValidationFailed(f"new_password: {problem}", field="new_password")
    user.password_hash = hash_password(new)
    _audit(session, user, "access:user:password_changed", {"password": ["***", "***"]}, now)
    session.flush()
