"""``defchain demo``: seed a fictitious jurisdiction to try the application with.

Names and places come from Faker with a fixed seed (the same demo county every time,
obviously marked "demo" / "fictitious"); passwords come from ``secrets`` and are new on
every run. Everything is written through ``access.service`` as the operator
``cli:demo``, so the seed itself is in the audit log, and committed once at the end.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from faker import Faker
from faker.providers.lorem.en_US import Provider as EnglishWords
from rich.markup import escape
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from defchain import migrate
from defchain.access import (
    ROLE_LABELS,
    Actor,
    Agency,
    AgencyKind,
    Label,
    Role,
    Team,
    User,
    service,
)
from defchain.access.rules import password_problem
from defchain.access.schemas import AgencyIn, JurisdictionIn, TeamIn, UserIn
from defchain.cli.common import (
    console,
    database_url,
    display_url,
    fail,
    open_database,
    prepare_sqlite_dir,
    refusing_bad_input,
    sqlite_path,
    transaction,
)
from defchain.cli.db import seed_reference_data
from defchain.cli.demo_cases import seed_case
from defchain.cli.demo_reports import seed_reports
from defchain.clock import SystemClock
from defchain.triage import routing_service
from defchain.triage.schemas import RoutingRuleIn

FAKER_SEED = 20260105
DEMO_ACTOR = "cli:demo"
DEMO_URL = "http://127.0.0.1:8000"
# States on Central time, so the jurisdiction's time zone is plausible.
# Central-time states with an ERPO law (DOMAIN-FACTS §4), so the demo county's firearm-law
# options and its ERPO tracker show something real.
CENTRAL_STATES = ("IL", "MN")
# About 560 short common words: four of them and two digits make about 43 bits, with
# argon2 hashing and sign-in lockout in front of them.
PASSPHRASE_WORDS = tuple(
    sorted({w for w in EnglishWords.word_list if w.isalpha() and 4 <= len(w) <= 6})
)


@dataclass(frozen=True)
class DemoUser:
    """Who to create: one account per role."""

    username: str
    role: Role
    agency_kind: AgencyKind
    clearances: tuple[Label, ...]
    on_team: bool = False
    is_lead: bool = False


DEMO_USERS = (
    DemoUser("demo.analyst", Role.INTAKE_ANALYST, AgencyKind.POLICE, (Label.CJI,), on_team=True),
    DemoUser(
        "demo.member",
        Role.TEAM_MEMBER,
        AgencyKind.SCHOOL_DISTRICT,
        (Label.EDUCATION,),
        on_team=True,
    ),
    DemoUser(
        "demo.lead",
        Role.TEAM_LEAD,
        AgencyKind.BEHAVIORAL_HEALTH,
        tuple(Label),
        on_team=True,
        is_lead=True,
    ),
    DemoUser("demo.fusion", Role.FUSION_ANALYST, AgencyKind.POLICE, (Label.CJI, Label.INTEL)),
    DemoUser("demo.oversight", Role.OVERSIGHT, AgencyKind.BEHAVIORAL_HEALTH, ()),
    DemoUser("demo.admin", Role.ADMIN, AgencyKind.POLICE, ()),
    DemoUser("demo.auditor", Role.AUDITOR, AgencyKind.POLICE, ()),
)


@dataclass(frozen=True)
class DemoAccount:
    """A created account and its one-time password, for the table printed at the end."""

    username: str
    role: Role
    agency: str
    password: str


def new_passphrase(username: str) -> str:
    """Four random common words and two digits, e.g. ``river-plant-cover-shape-42``."""
    while True:
        words = [secrets.choice(PASSPHRASE_WORDS) for _ in range(4)]
        candidate = "-".join([*words, f"{secrets.randbelow(100):02d}"])
        if password_problem(candidate, username=username) is None:
            return candidate


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def _phone(fake: Faker, line: int) -> str:
    # 555-0100 to 555-0199 are reserved for fiction.
    return f"({fake.random_int(201, 989)}) 555-01{line:02d}"


def seed_places(
    session: Session, *, actor: Actor, fake: Faker, now: datetime
) -> tuple[int, dict[AgencyKind, Agency]]:
    """The jurisdiction and its three agencies; returns the jurisdiction id and agencies."""
    city = fake.city()
    jurisdiction = service.create_jurisdiction(
        session,
        actor=actor,
        data=JurisdictionIn(
            name=f"{city} County (fictitious demo)",
            state=fake.random_element(CENTRAL_STATES),
            county=f"{city} County",
            city=city,
            timezone="America/Chicago",
        ),
        now=now,
    )
    domain = f"{_slug(city)}.example.org"
    names = {
        AgencyKind.POLICE: (f"{city} Police Department (demo)", f"records@pd.{domain}"),
        AgencyKind.SCHOOL_DISTRICT: (
            f"{city} Unified School District (demo)",
            f"safety@schools.{domain}",
        ),
        AgencyKind.BEHAVIORAL_HEALTH: (
            f"{city} County Behavioral Health (demo)",
            f"crisis@health.{domain}",
        ),
    }
    agencies = {}
    for line, (kind, (name, email)) in enumerate(names.items(), start=10):
        data = AgencyIn(
            name=name,
            kind=kind,
            jurisdiction_id=jurisdiction.id,
            phone=_phone(fake, line),
            email=email,
        )
        agencies[kind] = service.create_agency(session, actor=actor, data=data, now=now)
    return jurisdiction.id, agencies


def seed_users(
    session: Session,
    *,
    actor: Actor,
    fake: Faker,
    agencies: dict[AgencyKind, Agency],
    now: datetime,
) -> dict[str, tuple[User, DemoAccount]]:
    """One account per role, each with a fresh random passphrase."""
    created = {}
    for spec in DEMO_USERS:
        agency = agencies[spec.agency_kind]
        first, last = fake.first_name(), fake.last_name()
        email_domain = agency.email.split("@", 1)[1]
        data = UserIn(
            username=spec.username,
            full_name=f"{first} {last}",
            email=f"{_slug(first)}.{_slug(last)}@{email_domain}",
            agency_id=agency.id,
            roles=[spec.role],
            clearances=list(spec.clearances),
        )
        password = new_passphrase(spec.username)
        user = service.create_user(session, actor=actor, data=data, password=password, now=now)
        created[spec.username] = (
            user,
            DemoAccount(user.username, spec.role, agency.name, password),
        )
    return created


def seed_team(
    session: Session,
    *,
    actor: Actor,
    jurisdiction_id: int,
    users: dict[str, User],
    county: str,
    now: datetime,
) -> str:
    """The multi-agency threat assessment team, led from behavioral health."""
    team = service.create_team(
        session,
        actor=actor,
        data=TeamIn(
            name=f"{county} Threat Assessment Team (demo)",
            jurisdiction_id=jurisdiction_id,
            description=(
                "Multi-agency behavioral threat assessment and management team: "
                "law enforcement, schools and behavioral health (fictitious demo)."
            ),
        ),
        now=now,
    )
    for spec in DEMO_USERS:
        if spec.on_team:
            service.add_member(
                session,
                actor=actor,
                team=team,
                user_id=users[spec.username].id,
                is_lead=spec.is_lead,
                now=now,
            )
    return team.name


@dataclass(frozen=True)
class DemoSeed:
    """What the demo created, for printing once."""

    jurisdiction: str
    team: str
    accounts: list[DemoAccount]
    reports: int = 0


def seed(session: Session, *, now: datetime) -> DemoSeed:
    """Write the whole demo (flushes, never commits)."""
    actor = Actor.system(DEMO_ACTOR)
    fake = Faker("en_US")
    fake.seed_instance(FAKER_SEED)
    jurisdiction_id, agencies = seed_places(session, actor=actor, fake=fake, now=now)
    created = seed_users(session, actor=actor, fake=fake, agencies=agencies, now=now)
    jurisdiction = agencies[AgencyKind.POLICE].jurisdiction
    team = seed_team(
        session,
        actor=actor,
        jurisdiction_id=jurisdiction_id,
        users={name: user for name, (user, _) in created.items()},
        county=jurisdiction.county,
        now=now,
    )
    seed_triage(session, actor=actor, agencies=agencies, users=created, team=team, now=now)
    reports = seed_reports(
        session,
        actor=actor,
        fake=fake,
        jurisdiction_id=jurisdiction_id,
        agencies=agencies,
        users={name: user for name, (user, _) in created.items()},
        now=now,
    )
    seed_case(session, lead_username="demo.lead", now=now)
    accounts = [account for _, account in created.values()]
    return DemoSeed(jurisdiction=jurisdiction.name, team=team, accounts=accounts, reports=reports)


def seed_triage(
    session: Session,
    *,
    actor: Actor,
    agencies: dict[AgencyKind, Agency],
    users: dict[str, tuple[User, DemoAccount]],
    team: str,
    now: datetime,
) -> None:
    """Escalation contacts, an analyst on duty, and routing rules that send students to
    the school district and wellness checks to behavioral health, with the team."""
    police = agencies[AgencyKind.POLICE]
    school = agencies[AgencyKind.SCHOOL_DISTRICT]
    health = agencies[AgencyKind.BEHAVIORAL_HEALTH]
    user = {name: row for name, (row, _) in users.items()}
    police.primary_contact_id = user["demo.analyst"].id
    police.secondary_contact_id = user["demo.fusion"].id
    police.head_user_id = user["demo.admin"].id
    school.primary_contact_id = user["demo.member"].id
    health.primary_contact_id = user["demo.lead"].id
    user["demo.analyst"].on_duty = True
    session.flush()
    team_id = session.scalar(select(Team.id).where(Team.name == team))
    school_name = school.name.replace(" Unified School District (demo)", " High School")
    rules = (
        RoutingRuleIn(
            name="Students of the district's high school go to the school district",
            school_contains=school_name,
            agency_id=school.id,
            team_id=team_id,
            info_agency_ids=[police.id],
        ),
        RoutingRuleIn(
            name="Wellness checks go to behavioral health",
            kinds=["wellness_check"],
            agency_id=health.id,
            team_id=team_id,
            info_agency_ids=[police.id],
        ),
        RoutingRuleIn(
            name="Everything else: the police department, with the team",
            agency_id=police.id,
            team_id=team_id,
        ),
    )
    for rule in rules:
        routing_service.create_rule(session, actor=actor, data=rule, now=now)


def recreate_database(url: str) -> None:
    """Delete a SQLite demo file (with its WAL) and migrate a new one; refuse elsewhere."""
    path = sqlite_path(url)
    if path is None:
        fail(
            f"--fresh deletes the database file, so it works only on a SQLite file; "
            f"{display_url(url)} is not one. Drop and recreate that database yourself."
        )
    for leftover in (path, *(Path(f"{path}{suffix}") for suffix in ("-wal", "-shm", "-journal"))):
        leftover.unlink(missing_ok=True)
    prepare_sqlite_dir(url)
    with open_database(require_head=False) as engine:
        migrate.upgrade(engine)
    console.print(f"Created a new demo database at {path}.")


def print_seed(result: DemoSeed) -> None:
    """The one and only time the passwords are shown."""
    console.print(f"Demo jurisdiction: [bold]{escape(result.jurisdiction)}[/bold]")
    console.print(f"Team: [bold]{escape(result.team)}[/bold] (lead: demo.lead)")
    console.print(f"Reports: {result.reports} fictitious reports of every kind (last 30 days)")
    table = Table(title="Demo accounts", title_justify="left")
    table.add_column("username", no_wrap=True)
    table.add_column("role")
    table.add_column("agency")
    table.add_column("password", no_wrap=True, style="bold")
    for account in result.accounts:
        table.add_row(
            account.username, ROLE_LABELS[account.role], escape(account.agency), account.password
        )
    console.print(table)
    console.print("These passwords are shown once. Reset with `defchain user passwd USERNAME`.")
    console.print(f"Sign in at {DEMO_URL}")


def demo(
    fresh: Annotated[
        bool, typer.Option(help="Delete and recreate the SQLite database file first.")
    ] = False,
) -> None:
    """Seed a fictitious jurisdiction, three agencies, a team and one user per role."""
    url = database_url()
    if fresh:
        recreate_database(url)
    now = SystemClock().now()
    with refusing_bad_input(), transaction() as session:
        existing = session.scalar(select(func.count(User.id))) or 0
        if existing:
            fail(
                f"The database already has {existing} user(s); the demo seeds only an empty "
                "database. Use `defchain demo --fresh` to start over (SQLite only)."
            )
        result = seed(session, now=now)
    seed_reference_data()
    print_seed(result)
