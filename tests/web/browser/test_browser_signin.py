"""Sign-in in a real browser: password + TOTP, enrolment, lockout, idle timeout."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from defchain.access import UserSession

pytestmark = pytest.mark.browser


def test_sign_in_with_password_and_totp(page, live):
    response = live.password_step(page, "admin")
    assert response is not None and response.ok
    assert page.url == live.url("/signin/mfa")
    assert page.get_by_role("heading", level=1).inner_text() == "Enter your verification code"

    # A wrong code: the page stays on the second step and names the code field.
    live.clock.advance(seconds=31)
    right = live.code("admin")
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    page.get_by_label("6-digit code").fill(wrong)
    page.get_by_role("button", name="Verify").click()
    page.wait_for_load_state()
    assert page.url == live.url("/signin/mfa")
    summary = page.locator("#error-summary")
    assert "6-digit code: That code is not correct." in summary.inner_text()
    field_error = page.locator("#code-error")
    assert field_error.inner_text() == "6-digit code: That code is not correct."
    assert "code-error" in (page.locator("#code").get_attribute("aria-describedby") or "")
    assert live.user("admin").failed_signins == 1

    # The right code finishes sign-in.
    live.mfa_step(page, "admin")
    assert page.url == live.url("/home")
    assert page.get_by_role("heading", level=1).inner_text() == "Welcome, Ada Administrator"
    assert "Signed in as Ada Administrator (admin)" in page.locator(".usa-nav").inner_text()
    admin = live.user("admin")
    assert admin.failed_signins == 0
    assert admin.last_signin_at == live.clock.now()


def test_first_sign_in_enrols_an_authenticator(page, live):
    live.password_step(page, "fresh")
    assert page.url == live.url("/mfa/enroll")
    assert page.get_by_role("heading", level=1).inner_text() == "Set up two-step verification"
    qr = page.locator("img.dc-qr")
    assert (qr.get_attribute("src") or "").startswith("data:image/svg+xml")
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0"), "QR image did not render"

    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret), secret
    assert live.user("fresh").mfa_secret == secret
    assert live.user("fresh").mfa_enabled is False

    from defchain.access.security import totp_code

    page.get_by_label("6-digit code").fill(totp_code(secret, live.clock.now()))
    page.get_by_role("button", name="Turn on two-step verification").click()
    page.wait_for_url("**/home?enrolled=1")
    assert page.get_by_role("heading", level=1).inner_text() == "Welcome, Finn Freshman"
    assert "Two-step verification is on for your account." in page.locator("main").inner_text()
    assert live.user("fresh").mfa_enabled is True


def test_five_wrong_passwords_lock_the_account_for_15_minutes(page, live):
    for attempt in range(1, 6):
        response = live.password_step(page, "victim", password=f"Wrong-password-{attempt}")
        assert response is not None and response.status == 401
        assert page.url == live.url("/signin")
        alert = page.get_by_role("alert").first.inner_text()
        if attempt < 5:
            assert alert == "The username or password is not correct."
        else:
            assert "This account is locked for 15 minutes after 5 failed attempts." in alert
        # What was typed as the username is kept, the password is not.
        assert page.get_by_label("Username").input_value() == "victim"
        assert page.get_by_label("Password").input_value() == ""
    locked_until = live.user("victim").locked_until
    assert locked_until is not None and locked_until > live.clock.now()

    # The right password does not help while the lock holds.
    response = live.password_step(page, "victim")
    assert response is not None and response.status == 401
    assert "locked for 15 minutes" in page.get_by_role("alert").first.inner_text()
    assert not any(c["name"] == "dc_session" for c in page.context.cookies())

    live.clock.advance(minutes=15, seconds=1)
    live.password_step(page, "victim")
    # The victim has no authenticator yet, so the next step is enrolment.
    assert page.url == live.url("/mfa/enroll")
    assert any(c["name"] == "dc_session" for c in page.context.cookies())


def test_idle_session_ends_after_30_minutes(page, live):
    live.sign_in(page, "admin")
    live.clock.advance(minutes=31)
    page.goto("/home")
    assert page.url == live.url("/signin?next=%2Fhome&expired=idle")
    assert page.get_by_role("heading", level=1).inner_text() == "Sign in"
    assert (
        "You were signed out after 30 minutes without activity."
        in page.locator(".usa-alert--info").inner_text()
    )
    with live.db() as db:
        sessions = db.scalars(
            select(UserSession)
            .where(UserSession.user_id == live.ids["user_admin"])
            .order_by(UserSession.id.desc())
        ).all()
        assert sessions[0].ended_at == live.clock.now()
