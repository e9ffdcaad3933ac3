"""Browser tests: a real uvicorn server on its own committed database, driven by Chromium.

The server runs in a background thread for the whole session, on a fresh database
(SQLite file by default; a separate ``defchain_e2e`` PostgreSQL database when
``DEFCHAIN_TEST_DB=postgres``), migrated and seeded through the access services.
Its clock is a ``FrozenClock`` the tests move by hand (lockout, idle timeout, TOTP).

One Chromium per session, a new browser context (cookie jar) per test.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from defchain.access import Actor, Role, User, service
from defchain.access.schemas import AgencyIn, JurisdictionIn, TeamIn, UserIn
from defchain.access.security import new_totp_secret, totp_code
from defchain.clock import FrozenClock
from defchain.config import Settings
from defchain.db import make_engine, make_session_factory
from defchain.migrate import upgrade
from defchain.web.app import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
E2E_DATABASE = "defchain_e2e"
PASSWORD = "Correct-Horse-Battery-9"
SECRET_KEY = "x" * 8 + "a-strong-test-secret-key-0123456789"

JURISDICTION = "Riverton County"
AGENCY_A = "Riverton Police Department"
AGENCY_B = "Riverton Unified School District"
AGENCY_C = "Riverton Behavioral Health"
SEED_TEAM = "Riverton Seed Team"

# username -> (full name, agency key, roles, MFA pre-enrolled)
USERS: dict[str, tuple[str, str, list[Role], bool]] = {
    "admin": ("Ada Administrator", "A", [Role.ADMIN], True),
    "fresh": ("Finn Freshman", "A", [Role.INTAKE_ANALYST], False),
    "newbie": ("Nora Newcomer", "C", [Role.TEAM_MEMBER], False),
    "analyst": ("Anika Analyst", "A", [Role.INTAKE_ANALYST], True),
    "member": ("Miguel Member", "B", [Role.TEAM_MEMBER], True),
    "lead": ("Leah Lead", "A", [Role.TEAM_LEAD], True),
    "oversight": ("Omar Oversight", "C", [Role.OVERSIGHT], True),
    "auditor": ("Audra Auditor", "A", [Role.AUDITOR], True),
    "victim": ("Victor Victim", "B", [Role.TEAM_MEMBER], False),
}


# --- the server ----------------------------------------------------------------------


@dataclass
class Live:
    """The running server, its clock, its database and the seeded ids."""

    base_url: str
    clock: FrozenClock
    engine: Engine
    app: Any
    secrets: dict[str, str]
    ids: dict[str, int] = field(default_factory=dict)
    names: dict[str, str] = field(
        default_factory=lambda: {
            "jurisdiction": JURISDICTION,
            "A": AGENCY_A,
            "B": AGENCY_B,
            "C": AGENCY_C,
            "team": SEED_TEAM,
        }
    )

    def url(self, path: str) -> str:
        return self.base_url + path

    @contextmanager
    def db(self) -> Iterator[Session]:
        """A read session on the server's database (fresh snapshot each time)."""
        session = make_session_factory(self.engine)()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    def user(self, username: str) -> User:
        with self.db() as session:
            user = session.query(User).filter_by(username=username).one()
            session.expunge(user)
            return user

    def code(self, username: str) -> str:
        """What the user's authenticator app shows now, by the server's clock."""
        return totp_code(self.secrets[username], self.clock.now())

    def password_step(self, page: Any, username: str, password: str = PASSWORD) -> Any:
        """Type username and password on /signin and submit; returns the response."""
        page.goto("/signin")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        with page.expect_navigation() as nav:
            page.get_by_role("button", name="Sign in").click()
        return nav.value

    def mfa_step(self, page: Any, username: str) -> None:
        """On /signin/mfa: type the current code (after moving past the last used step)."""
        # Replay protection refuses a code for a step at or before the last accepted one.
        self.clock.advance(seconds=31)
        page.get_by_label("6-digit code").fill(self.code(username))
        with page.expect_navigation():
            page.get_by_role("button", name="Verify").click()

    def sign_in(self, page: Any, username: str) -> None:
        """The whole sign-in of an enrolled user, ending on /home."""
        self.password_step(page, username)
        assert page.url.endswith("/signin/mfa"), page.url
        self.mfa_step(page, username)
        assert page.url.endswith("/home"), page.url


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _database(tmp_dir: Path) -> Iterator[str]:
    """A URL of an empty database for this session, removed afterwards."""
    backend = os.environ.get("DEFCHAIN_TEST_DB", "sqlite").lower()
    if backend == "sqlite":
        yield f"sqlite:///{tmp_dir / 'e2e.db'}"
        return
    if backend != "postgres":
        pytest.fail(f"DEFCHAIN_TEST_DB must be 'sqlite' or 'postgres', not {backend!r}")
    server_url = os.environ.get("DEFCHAIN_TEST_DATABASE_URL")
    if not server_url:
        pytest.fail(
            "DEFCHAIN_TEST_DB=postgres needs DEFCHAIN_TEST_DATABASE_URL, e.g. "
            "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        )
    admin_engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    drop = text(f"DROP DATABASE IF EXISTS {E2E_DATABASE} WITH (FORCE)")
    try:
        try:
            conn = admin_engine.connect()
        except OperationalError as error:
            reason = f"PostgreSQL unreachable for the browser tests: {error.orig or error}"
            if _in_ci():
                pytest.fail(reason)
            pytest.skip(reason.splitlines()[0])
        with conn:
            conn.execute(drop)
            conn.execute(text(f"CREATE DATABASE {E2E_DATABASE}"))
        try:
            yield (
                make_url(server_url)
                .set(database=E2E_DATABASE)
                .render_as_string(hide_password=False)
            )
        finally:
            with admin_engine.connect() as conn:
                conn.execute(drop)
    finally:
        admin_engine.dispose()


def _seed(engine: Engine, now: datetime) -> tuple[dict[str, int], dict[str, str]]:
    """One jurisdiction, three agencies, one user per role, one team; all committed."""
    system = Actor.system("e2e")
    ids: dict[str, int] = {}
    secrets: dict[str, str] = {}
    session = make_session_factory(engine)()
    try:
        jurisdiction = service.create_jurisdiction(
            session,
            actor=system,
            now=now,
            data=JurisdictionIn(
                name=JURISDICTION, state="OH", county="Riverton", timezone="America/New_York"
            ),
        )
        ids["jurisdiction"] = jurisdiction.id
        for key, name, kind in (
            ("A", AGENCY_A, "police"),
            ("B", AGENCY_B, "school_district"),
            ("C", AGENCY_C, "behavioral_health"),
        ):
            agency = service.create_agency(
                session,
                actor=system,
                now=now,
                data=AgencyIn(
                    name=name,
                    kind=kind,
                    jurisdiction_id=jurisdiction.id,
                    phone="555-0100",
                    email=f"desk{key.lower()}@riverton.example.gov",
                ),
            )
            ids[f"agency_{key}"] = agency.id
        for username, (full_name, agency_key, roles, enrolled) in USERS.items():
            user = service.create_user(
                session,
                actor=system,
                now=now,
                password=PASSWORD,
                data=UserIn(
                    username=username,
                    full_name=full_name,
                    agency_id=ids[f"agency_{agency_key}"],
                    roles=roles,
                ),
            )
            if enrolled:
                secrets[username] = new_totp_secret()
                user.mfa_secret = secrets[username]
                user.mfa_enabled = True
            ids[f"user_{username}"] = user.id
        team = service.create_team(
            session,
            actor=system,
            now=now,
            data=TeamIn(
                name=SEED_TEAM,
                jurisdiction_id=jurisdiction.id,
                description="Seeded for the browser tests",
            ),
        )
        ids["team"] = team.id
        for username, lead in (("lead", True), ("member", False), ("analyst", False)):
            service.add_member(
                session,
                actor=system,
                team=team,
                user_id=ids[f"user_{username}"],
                is_lead=lead,
                now=now,
            )
        session.commit()
    finally:
        session.close()
    return ids, secrets


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """Debian's Chromium; skipped locally when absent, an error under CI."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is not installed (apt-get install chromium)"
        if _in_ci():
            pytest.fail(message + "; CI must run the browser tests")
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="session")
def live(chromium_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    now = datetime.now(UTC).replace(microsecond=0)
    clock = FrozenClock(start=now)
    with _database(tmp_path_factory.mktemp("e2e")) as url:
        engine = make_engine(url)
        try:
            upgrade(engine)
            ids, secrets = _seed(engine, now)
            settings = Settings(
                demo=False,
                secret_key=SECRET_KEY,
                database_url=url,
                cookie_secure=False,
                session_idle_minutes=30,
                session_max_hours=12,
                lockout_threshold=5,
                lockout_minutes=15,
                # Every browser test posts from 127.0.0.1 at a frozen minute.
                public_rate_limit_per_minute=10_000,
            )
            app = create_app(settings, engine=engine, clock=clock)
            port = _free_port()
            server = uvicorn.Server(
                uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
            )
            thread = threading.Thread(target=server.run, name="e2e-uvicorn", daemon=True)
            thread.start()
            base_url = f"http://127.0.0.1:{port}"
            _wait_healthy(base_url, thread)
            try:
                yield Live(
                    base_url=base_url, clock=clock, engine=engine, app=app, secrets=secrets, ids=ids
                )
            finally:
                server.should_exit = True
                thread.join(timeout=15)
        finally:
            engine.dispose()


def _wait_healthy(base_url: str, thread: threading.Thread) -> None:
    deadline = time.monotonic() + 20
    last: Exception | None = None
    while time.monotonic() < deadline:
        if not thread.is_alive():
            pytest.fail("the uvicorn thread died during start-up")
        try:
            with urllib.request.urlopen(base_url + "/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError as exc:
            last = exc
        time.sleep(0.05)
    pytest.fail(f"server at {base_url} did not answer /healthz: {last}")


# --- the browser ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser(chromium_path: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def context(browser: Any, live: Live) -> Iterator[Any]:
    ctx = browser.new_context(base_url=live.base_url, viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(10_000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: Any) -> Any:
    return context.new_page()


@pytest.fixture(scope="session")
def screenshot_dir(pytestconfig: pytest.Config) -> Path:
    """test-artifacts/screenshots/ at the repository root (gitignored)."""
    path = Path(pytestconfig.rootpath) / "test-artifacts" / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def public_intake(live: Live) -> Live:
    """The seeded jurisdiction sends public tips to agency A (committed; idempotent)."""
    from defchain.access import Jurisdiction

    session = make_session_factory(live.engine)()
    try:
        jurisdiction = session.get(Jurisdiction, live.ids["jurisdiction"])
        assert jurisdiction is not None
        jurisdiction.intake_agency_id = live.ids["agency_A"]
        session.commit()
    finally:
        session.close()
    return live
