"""Shared fixtures: a migrated database, a per-test rolled-back session, a clock, a cast.

Backend
    ``DEFCHAIN_TEST_DB=sqlite`` (default) runs on a SQLite file in a temporary directory.
    ``DEFCHAIN_TEST_DB=postgres`` runs on ``DEFCHAIN_TEST_DATABASE_URL``, e.g.
    ``postgresql+psycopg://postgres@127.0.0.1:5432/test``; its schema ``public`` is
    dropped and recreated at the start of the run. When PostgreSQL is asked for but
    cannot be reached the run is skipped with the reason, or stopped when ``CI=true``.
    Both backends are built by the real Alembic history (``defchain.migrate.upgrade``),
    never by ``create_all``, so the tests see the same triggers and constraints as
    production.

Isolation
    ``db`` is a ``Session`` bound to one connection whose outer transaction is rolled
    back after the test. The session joins it with ``create_savepoint``, so code under
    test may ``commit()`` (that only releases a savepoint) and the test still leaves
    nothing behind. Tests that need a *separate* connection to see their data cannot
    have it: the data is never committed. On SQLite every transaction starts with
    ``BEGIN IMMEDIATE``, so the test's outer transaction holds the write lock until it
    ends and any other connection that begins a transaction (even to read) waits up to
    the 10 s busy timeout and then fails with "database is locked". Code under test
    must therefore use the ``db`` session (e.g. through a dependency override), never
    its own engine.

Cast
    ``cast`` is a named set of actors across three agencies (see ``Cast``); every user
    has the password ``CAST_PASSWORD`` and no authenticator.

Markers
    ``postgres_only`` tests are skipped on SQLite (the marker says why).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any, NoReturn

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

import defchain.access.service as access_service
from defchain.access import Actor, Agency, Jurisdiction, Team, User
from defchain.access.rules import AgencyKind, Role
from defchain.access.schemas import AgencyIn, JurisdictionIn, TeamIn, UserIn
from defchain.access.security import hash_password, totp_code
from defchain.clock import Clock, FrozenClock
from defchain.db import make_engine
from defchain.intake import Report
from defchain.intake import service as intake_service
from defchain.intake.schemas import parse_report
from defchain.migrate import upgrade

BACKENDS = ("sqlite", "postgres")

# Property tests check properties, not speed: no per-example deadline on a noisy 2-core
# machine (speed lives in bench/).
hypothesis_settings.register_profile("defchain", deadline=None)
hypothesis_settings.load_profile("defchain")

# Every cast member signs in with this. Hashed once per run: argon2 costs ~0.1 s a hash,
# and password hashing has its own tests.
CAST_PASSWORD = "correct horse battery staple 42"
_CAST_PASSWORD_HASH = hash_password(CAST_PASSWORD)

# Held for the whole run so that two runs against one PostgreSQL database queue up
# instead of dropping each other's schema.
_PG_RUN_LOCK_KEY = 7_406_118_233


def backend() -> str:
    """The backend this run uses: ``sqlite`` or ``postgres``."""
    return os.environ.get("DEFCHAIN_TEST_DB", "sqlite").strip().lower() or "sqlite"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def _unavailable(reason: str) -> NoReturn:
    """PostgreSQL was asked for but is not usable: stop in CI, skip elsewhere."""
    if _in_ci():
        pytest.exit(f"CI=true and {reason}", returncode=3)
    pytest.skip(reason)


def pytest_configure(config: pytest.Config) -> None:
    if backend() not in BACKENDS:
        raise pytest.UsageError(
            f"DEFCHAIN_TEST_DB={backend()!r}: use one of {', '.join(BACKENDS)}."
        )


def pytest_report_header(config: pytest.Config) -> str:
    return f"defchain test database: {backend()}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if backend() == "postgres":
        return
    skip = pytest.mark.skip(reason="postgres_only: run with DEFCHAIN_TEST_DB=postgres")
    for item in items:
        if item.get_closest_marker("postgres_only"):
            item.add_marker(skip)


# --- database ------------------------------------------------------------------------


def _postgres_engine() -> Iterator[Engine]:
    url = os.environ.get("DEFCHAIN_TEST_DATABASE_URL", "").strip()
    if not url:
        _unavailable("DEFCHAIN_TEST_DB=postgres but DEFCHAIN_TEST_DATABASE_URL is not set")
    engine = make_engine(url)
    try:
        lock_connection = engine.connect()
    except OperationalError as error:
        engine.dispose()
        first_line = str(error.orig or error).splitlines()[0]
        _unavailable(f"PostgreSQL at {engine.url.render_as_string()} unreachable: {first_line}")
    try:
        # Session-level advisory lock, autocommitted so it outlives transactions.
        lock_connection.execution_options(isolation_level="AUTOCOMMIT").execute(
            text("SELECT pg_advisory_lock(:k)"), {"k": _PG_RUN_LOCK_KEY}
        )
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA public CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA public")
        upgrade(engine)
        yield engine
    finally:
        lock_connection.close()
        engine.dispose()


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One engine per run on a freshly migrated, empty database."""
    if backend() == "postgres":
        yield from _postgres_engine()
        return
    path = tmp_path_factory.mktemp("db") / "defchain-test.db"
    sqlite_engine = make_engine(f"sqlite:///{path}")
    upgrade(sqlite_engine)
    yield sqlite_engine
    sqlite_engine.dispose()


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session whose every write is rolled back when the test ends."""
    connection = engine.connect()
    outer = connection.begin()
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield session
    finally:
        session.close()
        if outer.is_active:
            outer.rollback()
        connection.close()


@pytest.fixture
def clock() -> FrozenClock:
    """A clock at 2026-01-05 09:00 UTC that only moves when the test says so."""
    return FrozenClock()


def totp_now(secret: str, clock: Clock) -> str:
    """The code an authenticator app would show for ``secret`` at ``clock.now()``."""
    return totp_code(secret, clock.now())


# --- the cast --------------------------------------------------------------------------


@dataclass
class Cast:
    """Named actors across agencies, created through the access services.

    - ``agency_a`` police, ``agency_b`` school district, ``agency_c`` behavioral health,
      all in ``jurisdiction``.
    - ``team`` (T) has ``lead_a`` as lead and ``member_b`` as member.
    - ``analyst_a``: intake analyst at A, on no team.
    - ``lead_a``: team lead at A, leads T.
    - ``member_b``: team member at B, on T.
    - ``user_c``: team member at C, on no team, no grant.
    - ``oversight``, ``admin``, ``auditor``: one role each, at A.

    Nobody has clearances or an authenticator. ``actor(name)`` rebuilds the policy's view
    from the database, so call it again after changing roles, teams or grants.
    """

    session: Session
    jurisdiction: Jurisdiction
    agency_a: Agency
    agency_b: Agency
    agency_c: Agency
    team: Team
    analyst_a: User
    lead_a: User
    member_b: User
    user_c: User
    oversight: User
    admin: User
    auditor: User

    def user(self, name: str) -> User:
        """The user row of a cast member, e.g. ``cast.user("lead_a")``."""
        if name not in CAST_USERS:
            raise KeyError(f"no cast member {name!r}; choose from {CAST_USERS}")
        value: User = getattr(self, name)
        return value

    def actor(self, name: str) -> Actor:
        """The policy's view of a cast member, built by ``access.service.actor_for``."""
        return access_service.actor_for(self.session, self.user(name))


# (name, agency attribute, role) of every cast user.
_CAST_SPEC: tuple[tuple[str, str, Role], ...] = (
    ("analyst_a", "agency_a", Role.INTAKE_ANALYST),
    ("lead_a", "agency_a", Role.TEAM_LEAD),
    ("member_b", "agency_b", Role.TEAM_MEMBER),
    ("user_c", "agency_c", Role.TEAM_MEMBER),
    ("oversight", "agency_a", Role.OVERSIGHT),
    ("admin", "agency_a", Role.ADMIN),
    ("auditor", "agency_a", Role.AUDITOR),
)
CAST_USERS: tuple[str, ...] = tuple(name for name, _, _ in _CAST_SPEC)
assert set(CAST_USERS) <= {f.name for f in fields(Cast)}


def _cast_hash(password: str) -> str:
    return _CAST_PASSWORD_HASH if password == CAST_PASSWORD else hash_password(password)


@pytest.fixture
def cast(db: Session, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch) -> Cast:
    """The named cast, created by the command-line system actor inside ``db``.

    Creating it writes audit events (one per created record), so audit tests that count
    from seq 1 should not use it.
    """
    system = Actor.system("test")
    now = clock.now()
    svc = access_service
    jurisdiction = svc.create_jurisdiction(
        db,
        actor=system,
        now=now,
        data=JurisdictionIn(
            name="Test County", state="OH", county="Test", timezone="America/New_York"
        ),
    )
    agencies = {
        attr: svc.create_agency(
            db,
            actor=system,
            now=now,
            data=AgencyIn(name=name, kind=kind, jurisdiction_id=jurisdiction.id),
        )
        for attr, name, kind in (
            ("agency_a", "Agency A Police Department", AgencyKind.POLICE),
            ("agency_b", "Agency B School District", AgencyKind.SCHOOL_DISTRICT),
            ("agency_c", "Agency C Behavioral Health", AgencyKind.BEHAVIORAL_HEALTH),
        )
    }
    users: dict[str, User] = {}
    with monkeypatch.context() as patch:
        patch.setattr(svc, "hash_password", _cast_hash)
        for name, agency_attr, role in _CAST_SPEC:
            users[name] = svc.create_user(
                db,
                actor=system,
                password=CAST_PASSWORD,
                now=now,
                data=UserIn(
                    username=name,
                    full_name=name.replace("_", " ").title(),
                    email=f"{name}@example.gov",
                    agency_id=agencies[agency_attr].id,
                    roles=[role],
                ),
            )
    team = svc.create_team(
        db,
        actor=system,
        now=now,
        data=TeamIn(name="Team T", jurisdiction_id=jurisdiction.id),
    )
    svc.add_member(db, actor=system, team=team, user_id=users["lead_a"].id, is_lead=True, now=now)
    svc.add_member(
        db, actor=system, team=team, user_id=users["member_b"].id, is_lead=False, now=now
    )
    return Cast(session=db, jurisdiction=jurisdiction, team=team, **agencies, **users)


def receive_public_tip(db: Session, cast: Cast, clock: FrozenClock, **fields: Any) -> Report:
    """A tip sent anonymously on the public web form, received for agency A (made the
    cast jurisdiction's intake agency). ``fields`` add to or replace the tip's fields."""
    cast.jurisdiction.intake_agency_id = cast.agency_a.id
    payload = {"kind": "tip", "channel": "web", "jurisdiction_id": cast.jurisdiction.id, **fields}
    data = parse_report(payload, now=clock.now())
    return intake_service.receive(db, data=data, source=intake_service.PUBLIC, now=clock.now())
