"""Headers, cookies, CSRF, body limits and content types, on the real app."""

from __future__ import annotations

from typing import Any

from defchain.web.security import CSRF_COOKIE, SESSION_COOKIE

from .conftest import Browser


def test_security_headers_on_every_kind_of_response(anon: Browser) -> None:
    for path in ("/signin", "/healthz", "/no-such-page"):
        response = anon.get(path)
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, path
        assert "frame-ancestors 'none'" in csp, path
        assert response.headers["x-content-type-options"] == "nosniff", path


def test_pages_have_no_inline_script(anon: Browser) -> None:
    html = anon.get("/signin").text
    assert "<script>" not in html and "onclick=" not in html and "style=" not in html


def test_cookies_are_httponly_lax_and_secure_outside_demo(cast: Any, db: Any, clock: Any) -> None:
    from sqlalchemy.orm import sessionmaker

    from defchain.config import Settings
    from defchain.web.app import create_app

    from .conftest import SECRET

    secure_app = create_app(
        Settings(demo=False, secret_key=SECRET), engine=db.get_bind().engine, clock=clock
    )
    secure_app.state.ctx.session_factory = sessionmaker(
        bind=db.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    with Browser(secure_app, base_url="https://testserver") as client:
        first = client.get("/signin")
        cookie = first.headers["set-cookie"]
        assert cookie.startswith(f"{CSRF_COOKIE}=")
        for flag in ("HttpOnly", "Secure", "SameSite=lax"):
            assert flag.lower() in cookie.lower(), flag
        from .conftest import CSRF_SEED, TOKEN

        client.cookies.set(CSRF_COOKIE, CSRF_SEED)
        response = client.post(
            "/signin",
            follow_redirects=False,
            data={
                "csrf_token": TOKEN,
                "username": "admin",
                "password": "correct horse battery staple 42",
            },
        )
    assert response.status_code == 303
    session_cookie = response.headers["set-cookie"]
    assert session_cookie.startswith(f"{SESSION_COOKIE}=")
    for flag in ("HttpOnly", "Secure", "SameSite=lax"):
        assert flag.lower() in session_cookie.lower(), flag


def test_form_without_csrf_token_is_refused_and_writes_nothing(
    cast: Any, browser_for: Any, db: Any
) -> None:
    from defchain.access import Agency

    client = browser_for(cast.admin.id)
    response = client.post(
        "/admin/agencies/new",
        follow_redirects=False,
        data={
            "name": "Forged Agency",
            "kind": "police",
            "jurisdiction_id": str(cast.jurisdiction.id),
        },
    )
    assert response.status_code == 403
    assert "csrf_token" in response.text
    assert db.query(Agency).filter_by(name="Forged Agency").count() == 0


def test_csrf_token_from_another_browser_is_refused(cast: Any, browser_for: Any) -> None:
    client = browser_for(cast.admin.id)
    client.cookies.set(CSRF_COOKIE, "a-different-seed")
    response = client.form("/admin/agencies/new", {"name": "X"})
    assert response.status_code == 403


def test_wrong_content_type_gets_415_naming_the_expected_type(cast: Any, browser_for: Any) -> None:
    client = browser_for(cast.admin.id)
    response = client.post(
        "/admin/agencies/new", json={"name": "JSON Agency"}, follow_redirects=False
    )
    assert response.status_code == 415
    assert "application/x-www-form-urlencoded" in response.text


def test_oversized_body_gets_413(cast: Any, browser_for: Any, settings: Any) -> None:
    client = browser_for(cast.admin.id)
    body = b"name=" + b"x" * (settings.max_body_bytes + 10)
    response = client.post(
        "/admin/agencies/new",
        content=body,
        follow_redirects=False,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413
    assert "too large" in response.text


def test_malformed_path_parameter_names_the_field(cast: Any, browser_for: Any) -> None:
    response = browser_for(cast.admin.id).get("/teams/not-a-number")
    assert response.status_code == 422
    assert "team_id" in response.text


def test_open_redirect_after_sign_in_is_refused(anon: Browser, cast: Any) -> None:
    response = anon.form(
        "/signin",
        {
            "username": "admin",
            "password": "correct horse battery staple 42",
            "next": "//evil.example/",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] in ("/home", "/mfa/enroll")
