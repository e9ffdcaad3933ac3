"""Sign-in: password, lockout, TOTP second factor and idle-timed sessions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from defchain.access import User, UserSession, auth
from defchain.access.security import new_totp_secret, token_digest, totp_code
from defchain.audit import AuditEvent
from defchain.clock import FrozenClock
from defchain.errors import ValidationFailed
from tests.conftest import CAST_PASSWORD, Cast, totp_now

STRICT = auth.AuthPolicy(mfa_required=True)  # outside demo mode
DEMO = auth.AuthPolicy(mfa_required=False)


def _sign_in(
    db: Session,
    clock: FrozenClock,
    username: str,
    password: str = CAST_PASSWORD,
    policy: auth.AuthPolicy = STRICT,
) -> auth.SigninResult:
    return auth.sign_in(db, username=username, password=password, policy=policy, now=clock.now())


def _events(db: Session, tag_prefix: str) -> list[AuditEvent]:
    return list(
        db.scalars(
            select(AuditEvent).where(AuditEvent.tag.startswith(tag_prefix)).order_by(AuditEvent.seq)
        )
    )


def _user_session(db: Session, token: str | None) -> UserSession:
    assert token is not None
    return db.scalars(
        select(UserSession).where(UserSession.token_hash == token_digest(token))
    ).one()


def _enrol(user: User) -> str:
    """Give a user an active authenticator (enrolment itself is tested below)."""
    user.mfa_secret = new_totp_secret()
    user.mfa_enabled = True
    return user.mfa_secret


def _wrong_code(secret: str, clock: FrozenClock) -> str:
    """A six-digit code that none of the accepted time steps (now, +-30 s) shows."""
    accepted = {totp_code(secret, clock.now() + timedelta(seconds=s)) for s in (-30, 0, 30)}
    return next(c for c in (f"{d}" * 6 for d in range(10)) if c not in accepted)


# --- password step -------------------------------------------------------------------------


def test_successful_demo_sign_in_is_done_and_audited(
    cast: Cast, db: Session, clock: FrozenClock
) -> None:
    result = _sign_in(db, clock, "  Member_B ", policy=DEMO)
    assert (result.ok, result.next_step) == (True, "done")
    user_session = _user_session(db, result.token)
    assert user_session.user_id == cast.member_b.id
    assert user_session.mfa_verified
    [event] = _events(db, "access:signin:")
    assert event.tag == "access:signin:succeeded"
    assert event.actor_id == cast.member_b.id
    assert event.changes["method"] == [None, "password"]
    assert cast.member_b.last_signin_at == clock.now()


def test_session_token_is_stored_only_as_a_digest(
    cast: Cast, db: Session, clock: FrozenClock
) -> None:
    result = _sign_in(db, clock, "member_b", policy=DEMO)
    assert result.token is not None
    stored = db.scalars(select(UserSession.token_hash)).all()
    assert stored == [token_digest(result.token)]
    assert result.token not in stored


def test_wrong_password_fails_and_is_audited(cast: Cast, db: Session, clock: FrozenClock) -> None:
    result = _sign_in(db, clock, "member_b", password="not the password at all")
    assert not result.ok
    assert result.token is None
    assert result.message == auth.GENERIC_FAILURE
    [event] = _events(db, "access:signin:")
    assert (event.tag, event.actor_id) == ("access:signin:failed", cast.member_b.id)
    assert event.changes == {"stage": [None, "password"]}
    assert cast.member_b.failed_signins == 1
    assert db.scalars(select(UserSession)).all() == []


def test_unknown_user_fails_with_the_same_message_and_is_audited(
    cast: Cast, db: Session, clock: FrozenClock
) -> None:
    result = _sign_in(db, clock, "no_such_person")
    assert not result.ok
    assert result.message == auth.GENERIC_FAILURE
    [event] = _events(db, "access:signin:")
    assert event.tag == "access:signin:failed"
    assert (event.actor_id, event.actor_label) == (None, "anonymous")
    assert (event.subject_type, event.subject_id) == ("user", "no_such_person")
    assert event.changes == {"stage": [None, "unknown_user"]}


# --- lockout --------------------------------------------------------------------------------


def test_five_failures_lock_the_account_for_fifteen_minutes(
    cast: Cast, db: Session, clock: FrozenClock
) -> None:
    def wrong() -> auth.SigninResult:
        return _sign_in(db, clock, "lead_a", password="wrong password 123", policy=DEMO)

    for _ in range(4):
        assert wrong().message == auth.GENERIC_FAILURE
    assert cast.lead_a.locked_until is None
    fifth = wrong()
    locked_at = clock.now()
    assert "locked for 15 minutes" in fifth.message
    assert cast.lead_a.locked_until == locked_at + timedelta(minutes=15)
    [locked_event] = _events(db, "access:account:locked")
    assert locked_event.actor_id == cast.lead_a.id

    sixth = _sign_in(db, clock, "lead_a", policy=DEMO)  # the right password, while locked
    assert not sixth.ok
    assert "locked" in sixth.message
    assert _events(db, "access:signin:failed")[-1].changes == {"stage": [None, "locked"]}

    clock.advance(minutes=14, seconds=59)
    assert not _sign_in(db, clock, "lead_a", policy=DEMO).ok
    clock.advance(seconds=2)  # 15 minutes and 1 second after the lock
    result = _sign_in(db, clock, "lead_a", policy=DEMO)
    assert result.ok
    assert (cast.lead_a.failed_signins, cast.lead_a.locked_until) == (0, None)


def test_a_success_resets_the_failure_count(cast: Cast, db: Session, clock: FrozenClock) -> None:
    for _ in range(4):
        _sign_in(db, clock, "user_c", password="wrong password 123", policy=DEMO)
    assert _sign_in(db, clock, "user_c", policy=DEMO).ok
    assert cast.user_c.failed_signins == 0
    for _ in range(4):
        _sign_in(db, clock, "user_c", password="wrong password 123", policy=DEMO)
    assert cast.user_c.locked_until is None
    assert _sign_in(db, clock, "user_c", policy=DEMO).ok


def test_disabled_user_cannot_sign_in(cast: Cast, db: Session, clock: FrozenClock) -> None:
    cast.user_c.disabled = True
    result = _sign_in(db, clock, "user_c", policy=DEMO)
    assert not result.ok
    assert result.message == auth.GENERIC_FAILURE
    assert _events(db, "access:signin:")[-1].changes == {"stage": [None, "disabled"]}


# --- second factor ----------------------------------------------------------------------------


def test_without_an_authenticator_strict_policy_asks_to_enrol(
    cast: Cast, db: Session, clock: FrozenClock
) -> None:
    result = _sign_in(db, clock, "analyst_a")
    assert (result.ok, result.next_step) == (True, "enroll")
    assert not _user_session(db, result.token).mfa_verified
    assert _events(db, "access:signin:succeeded") == []


def test_with_an_authenticator_the_next_step_is_the_code(
    cast: Cast, db: Session, clock: FrozenClock
) -> None:
    _enrol(cast.analyst_a)
    for policy in (STRICT, DEMO):
        result = _sign_in(db, clock, "analyst_a", policy=policy)
        assert (result.ok, result.next_step) == (True, "mfa")
        assert not _user_session(db, result.token).mfa_verified


def test_correct_code_completes_sign_in_and_cannot_be_replayed(
    cast: Cast, db: Session, clock: FrozenClock
) -> None:
    secret = _enrol(cast.analyst_a)
    first = _user_session(db, _sign_in(db, clock, "analyst_a").token)
    code = totp_now(secret, clock)
    assert (
        auth.verify_second_factor(db, user_session=first, code=code, policy=STRICT, now=clock.now())
        is None
    )
    assert first.mfa_verified
    [event] = _events(db, "access:signin:succeeded")
    assert event.changes["method"] == [None, "password+totp"]

    clock.advance(seconds=5)
    second = _user_session(db, _sign_in(db, clock, "analyst_a").token)
    replay = auth.verify_second_factor(
        db, user_session=second, code=code, policy=STRICT, now=clock.now()
    )
    assert replay == "That code is not correct."
    assert not second.mfa_verified
    assert cast.analyst_a.failed_signins == 1

    clock.advance(seconds=30)  # the next time step brings a new code
    assert (
        auth.verify_second_factor(
            db, user_session=second, code=totp_now(secret, clock), policy=STRICT, now=clock.now()
        )
        is None
    )


def test_wrong_codes_count_toward_lockout(cast: Cast, db: Session, clock: FrozenClock) -> None:
    secret = _enrol(cast.analyst_a)
    user_session = _user_session(db, _sign_in(db, clock, "analyst_a").token)
    good = totp_now(secret, clock)
    wrong = _wrong_code(secret, clock)
    for _ in range(4):
        assert (
            auth.verify_second_factor(
                db, user_session=user_session, code=wrong, policy=STRICT, now=clock.now()
            )
            is not None
        )
    assert user_session.ended_at is None
    message = auth.verify_second_factor(
        db, user_session=user_session, code=wrong, policy=STRICT, now=clock.now()
    )
    assert message is not None and "locked" in message
    assert user_session.ended_at == clock.now()
    assert (
        auth.verify_second_factor(
            db, user_session=user_session, code=good, policy=STRICT, now=clock.now()
        )
        is not None
    )
    stages = [e.changes["stage"][1] for e in _events(db, "access:signin:failed")]
    assert stages == ["totp"] * 5
    assert len(_events(db, "access:account:locked")) == 1


def test_enrolment_activates_the_authenticator_with_a_valid_code(
    cast: Cast, db: Session, clock: FrozenClock
) -> None:
    user_session = _user_session(db, _sign_in(db, clock, "member_b").token)
    secret = auth.start_enrolment(db, user=cast.member_b)
    assert auth.start_enrolment(db, user=cast.member_b) == secret  # kept until confirmed
    assert (
        auth.confirm_enrolment(
            db,
            user_session=user_session,
            code=_wrong_code(secret, clock),
            policy=STRICT,
            now=clock.now(),
        )
        == "That code is not correct."
    )
    assert not cast.member_b.mfa_enabled
    assert (
        auth.confirm_enrolment(
            db,
            user_session=user_session,
            code=totp_now(secret, clock),
            policy=STRICT,
            now=clock.now(),
        )
        is None
    )
    assert cast.member_b.mfa_enabled
    assert user_session.mfa_verified
    assert [e.tag for e in _events(db, "access:user:mfa_enrolled")] == ["access:user:mfa_enrolled"]
    clock.advance(minutes=1)
    assert _sign_in(db, clock, "member_b").next_step == "mfa"


# --- sessions ----------------------------------------------------------------------------------


def _live_session(db: Session, clock: FrozenClock) -> str:
    result = _sign_in(db, clock, "member_b", policy=DEMO)
    assert result.token is not None
    return result.token


def test_session_survives_29_idle_minutes_and_slides(
    cast: Cast, db: Session, clock: FrozenClock
) -> None:
    token = _live_session(db, clock)
    clock.advance(minutes=29)
    lookup = auth.resolve(db, token=token, policy=DEMO, now=clock.now())
    assert lookup.user_session is not None
    assert lookup.user_session.last_seen_at == clock.now()
    clock.advance(minutes=29)  # 58 minutes after sign-in, 29 after the last request
    assert auth.resolve(db, token=token, policy=DEMO, now=clock.now()).user_session is not None
    assert _events(db, "access:session:") == []


def test_session_idle_for_31_minutes_ends_and_is_audited(
    cast: Cast, db: Session, clock: FrozenClock
) -> None:
    token = _live_session(db, clock)
    clock.advance(minutes=31)
    lookup = auth.resolve(db, token=token, policy=DEMO, now=clock.now())
    assert lookup.user_session is None
    assert lookup.reason is not None and "30 minutes" in lookup.reason
    assert _user_session(db, token).ended_at == clock.now()
    [event] = _events(db, "access:session:expired")
    assert event.actor_id == cast.member_b.id
    assert event.changes == {"reason": [None, lookup.reason]}
    clock.advance(seconds=1)
    again = auth.resolve(db, token=token, policy=DEMO, now=clock.now())
    assert (again.user_session, again.reason) == (None, None)


def test_unknown_and_signed_out_tokens_resolve_to_nothing(
    cast: Cast, db: Session, clock: FrozenClock
) -> None:
    assert auth.resolve(db, token=None, policy=DEMO, now=clock.now()).user_session is None
    assert auth.resolve(db, token="forged", policy=DEMO, now=clock.now()).user_session is None
    token = _live_session(db, clock)
    auth.sign_out(db, user_session=_user_session(db, token), now=clock.now())
    assert auth.resolve(db, token=token, policy=DEMO, now=clock.now()).user_session is None
    assert len(_events(db, "access:signout:succeeded")) == 1


def test_change_own_password_needs_the_current_one(
    cast: Cast, db: Session, clock: FrozenClock
) -> None:
    with pytest.raises(ValidationFailed) as wrong_current:
        auth.change_own_password(
            db,
            user=cast.user_c,
            current="not it at all",
            new="a fresh passphrase 11",
            now=clock.now(),
        )
    assert wrong_current.value.field == "current_password"
    with pytest.raises(ValidationFailed) as weak:
        auth.change_own_password(
            db, user=cast.user_c, current=CAST_PASSWORD, new="short", now=clock.now()
        )
    assert weak.value.field == "new_password"
    auth.change_own_password(
        db, user=cast.user_c, current=CAST_PASSWORD, new="a fresh passphrase 11", now=clock.now()
    )
    assert _sign_in(db, clock, "user_c", password="a fresh passphrase 11", policy=DEMO).ok
