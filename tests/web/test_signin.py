"""Sign-in through the web: MFA required outside demo, lockout, idle timeout, audit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from defchain.access.security import new_totp_secret, totp_code
from defchain.audit import AuditEvent

PASSWORD = "correct horse battery staple 42"


def tags(db: Any) -> list[str]:
    return list(db.scalars(select(AuditEvent.tag).order_by(AuditEvent.seq)))


def enrol(db: Any, user: Any) -> str:
    secret = new_totp_secret()
    user.mfa_secret, user.mfa_enabled = secret, True
    db.flush()
    return secret


def test_without_mfa_the_user_must_enrol_before_anything_else(
    cast: Any, anon: Any, db: Any
) -> None:
    response = anon.form("/signin", {"username": "analyst_a", "password": PASSWORD})
    assert response.headers["location"] == "/mfa/enroll"
    home = anon.get("/home", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/mfa/enroll"
    page = anon.get("/mfa/enroll")
    assert 'src="data:image/svg+xml' in page.text
    assert 'id="totp-secret"' in page.text


def test_enrolment_with_a_valid_code_completes_sign_in(
    cast: Any, anon: Any, db: Any, clock: Any
) -> None:
    anon.form("/signin", {"username": "analyst_a", "password": PASSWORD})
    anon.get("/mfa/enroll")
    db.refresh(cast.analyst_a)
    code = totp_code(cast.analyst_a.mfa_secret, clock.now())
    response = anon.form("/mfa/enroll", {"code": code})
    assert response.status_code == 303
    assert anon.get("/home").status_code == 200
    assert "access:user:mfa_enrolled" in tags(db)
    assert tags(db)[-1] == "access:signin:succeeded"


def test_mfa_code_step_and_audit(cast: Any, anon: Any, db: Any, clock: Any) -> None:
    secret = enrol(db, cast.admin)
    response = anon.form("/signin", {"username": "admin", "password": PASSWORD})
    assert response.headers["location"] == "/signin/mfa"
    assert anon.get("/admin/users", follow_redirects=False).headers["location"] == "/signin/mfa"
    wrong = anon.form("/signin/mfa", {"code": "000000"})
    assert wrong.status_code == 401 and "code is not correct" in wrong.text
    ok = anon.form("/signin/mfa", {"code": totp_code(secret, clock.now())})
    assert ok.status_code == 303 and ok.headers["location"] == "/home"
    assert anon.get("/admin/users").status_code == 200
    assert tags(db)[-2:] == ["access:signin:failed", "access:signin:succeeded"]


def test_failed_signins_are_audited_including_unknown_users(cast: Any, anon: Any, db: Any) -> None:
    anon.form("/signin", {"username": "admin", "password": "nope nope nope"})
    anon.form("/signin", {"username": "ghost", "password": "nope nope nope"})
    events = db.scalars(
        select(AuditEvent).where(AuditEvent.tag == "access:signin:failed").order_by(AuditEvent.seq)
    ).all()
    assert [(e.subject_id, e.changes["stage"][1]) for e in events] == [
        (str(cast.admin.id), "password"),
        ("ghost", "unknown_user"),
    ]


def test_five_failures_lock_the_account_for_fifteen_minutes(
    cast: Any, anon: Any, db: Any, clock: Any
) -> None:
    for attempt in range(5):
        response = anon.form("/signin", {"username": "member_b", "password": "wrong-" * 3})
        assert response.status_code == 401
    assert "locked for 15 minutes" in response.text
    locked = anon.form("/signin", {"username": "member_b", "password": PASSWORD})
    assert locked.status_code == 401 and "locked" in locked.text
    clock.advance(minutes=15, seconds=1)
    after = anon.form("/signin", {"username": "member_b", "password": PASSWORD})
    assert after.status_code == 303
    assert "access:account:locked" in tags(db)


def test_idle_session_times_out_after_thirty_minutes(
    cast: Any, browser_for: Any, clock: Any, db: Any
) -> None:
    client = browser_for(cast.analyst_a.id)
    clock.advance(minutes=29)
    assert client.get("/home").status_code == 200
    clock.advance(minutes=29)  # active 29 minutes ago: still fine
    assert client.get("/home").status_code == 200
    clock.advance(minutes=30, seconds=1)
    response = client.get("/home", follow_redirects=False)
    assert response.status_code == 303
    assert "expired=idle" in response.headers["location"]
    notice = client.get(response.headers["location"]).text
    assert "30 minutes without activity" in notice
    assert "access:session:expired" in tags(db)


def test_sign_out_ends_the_session(cast: Any, browser_for: Any, db: Any) -> None:
    client = browser_for(cast.lead_a.id)
    assert client.form("/signout").status_code == 303
    assert client.get("/home", follow_redirects=False).status_code == 303
    assert "access:signout:succeeded" in tags(db)


def test_empty_signin_form_names_both_fields(anon: Any) -> None:
    response = anon.form("/signin", {"username": "", "password": ""})
    assert response.status_code == 422
    assert "Username: is required" in response.text and "Password: is required" in response.text


def test_demo_mode_does_not_require_mfa(cast: Any, db: Any, clock: Any) -> None:
    from sqlalchemy.orm import sessionmaker

    from defchain.config import Settings
    from defchain.web.app import create_app

    from .conftest import CSRF_SEED, TOKEN, Browser

    # No pipeline or sweeper threads: like every web test (tests/web/conftest.py), the app
    # shares the test's one connection, which background threads must not use.
    settings = Settings(demo=True, pipeline=False, sweep_interval=0)
    app = create_app(settings, engine=db.get_bind().engine, clock=clock)
    app.state.ctx.session_factory = sessionmaker(
        bind=db.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    with Browser(app, base_url="http://testserver") as client:
        client.cookies.set("dc_csrf", CSRF_SEED)
        # The demo app has its own random secret key, so sign the token with it.
        from defchain.web.security import csrf_token

        token = csrf_token(app.state.ctx.settings.secret_key, CSRF_SEED)
        assert token != TOKEN
        response = client.post(
            "/signin",
            follow_redirects=False,
            data={"csrf_token": token, "username": "analyst_a", "password": PASSWORD},
        )
        assert response.headers["location"] == "/home"
        assert "Demo mode" in client.get("/home").text


def test_signed_in_user_turning_on_mfa_keeps_the_navigation(cast: Any, browser_for: Any) -> None:
    page = browser_for(cast.analyst_a.id).get("/mfa/enroll").text
    assert 'id="totp-secret"' in page
    assert 'href="/account"' in page


def test_half_signed_in_user_sees_no_navigation_on_enrolment(cast: Any, anon: Any) -> None:
    anon.form("/signin", {"username": "analyst_a", "password": PASSWORD})
    page = anon.get("/mfa/enroll").text
    assert 'id="totp-secret"' in page
    assert 'href="/account"' not in page
