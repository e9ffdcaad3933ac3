"""Web tests: the real app on the test's rolled-back connection, signed in as the cast."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from defchain.access import UserSession
from defchain.access.security import new_session_token, token_digest
from defchain.clock import FrozenClock
from defchain.config import Settings
from defchain.web.app import create_app
from defchain.web.security import CSRF_COOKIE, SESSION_COOKIE, csrf_token

SECRET = "test-secret-key-with-enough-entropy-0123456789"
CSRF_SEED = "test-csrf-seed"
TOKEN = csrf_token(SECRET, CSRF_SEED)


@pytest.fixture
def settings() -> Settings:
    """Production settings (MFA required), with cookies allowed over the test's http."""
    # No background linking: it would share the test's connection from the writer thread.
    return Settings(
        demo=False,
        secret_key=SECRET,
        cookie_secure=False,
        database_url="sqlite://",
        pipeline=False,
        sweep_interval=0,
    )


@pytest.fixture
def app(db: Session, clock: FrozenClock, settings: Settings) -> FastAPI:
    """The app, its sessions joined to the test's outer transaction (rolled back after)."""
    application = create_app(settings, engine=db.get_bind().engine, clock=clock)  # type: ignore[union-attr]
    application.state.ctx.session_factory = sessionmaker(
        bind=db.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    return application


class Browser(TestClient):
    """A test client that carries the CSRF cookie and adds the token to every form."""

    def form(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        payload = {"csrf_token": TOKEN, **(data or {})}
        kwargs.setdefault("follow_redirects", False)
        return self.post(url, data=payload, **kwargs)


@pytest.fixture
def anon(app: FastAPI) -> Iterator[Browser]:
    """A browser that is not signed in."""
    with Browser(app, base_url="http://testserver") as client:
        client.cookies.set(CSRF_COOKIE, CSRF_SEED)
        yield client


def sign_in_as(db: Session, clock: FrozenClock, client: Browser, user_id: int) -> None:
    """Give ``client`` a fully verified session for ``user_id`` (the sign-in flow itself
    is tested separately, end to end)."""
    token = new_session_token()
    db.add(
        UserSession(
            token_hash=token_digest(token),
            user_id=user_id,
            created_at=clock.now(),
            last_seen_at=clock.now(),
            mfa_verified=True,
        )
    )
    db.flush()
    client.cookies.set(SESSION_COOKIE, token)


@pytest.fixture
def browser_for(app: FastAPI, db: Session, clock: FrozenClock) -> Iterator[Any]:
    """``browser_for(user)`` returns a client signed in as that user."""
    clients: list[Browser] = []

    def make(user_id: int | None) -> Browser:
        client = Browser(app, base_url="http://testserver")
        client.__enter__()
        client.cookies.set(CSRF_COOKIE, CSRF_SEED)
        if user_id is not None:
            sign_in_as(db, clock, client, user_id)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def field_errors(html: str) -> list[str]:
    """The per-field error messages a form shows."""
    return re.findall(r'class="usa-error-message"[^>]*>([^<]+)<', html)
