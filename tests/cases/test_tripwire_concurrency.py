"""The tripwire under concurrency, on a committed database of its own.

The per-test ``db`` session never commits, so two connections could not see its data;
these tests build their own database (a SQLite file, or on PostgreSQL a database
``defchain_tripwire_<pid>`` next to ``DEFCHAIN_TEST_DATABASE_URL``, dropped afterwards)
and run two real transactions in two threads. The first one does its work and holds
its transaction open until the second one has started, so they truly overlap.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, make_url, select
from sqlalchemy.orm import Session, sessionmaker

from defchain import cases
from defchain.access import Actor, User
from defchain.access import service as access
from defchain.access.rules import AgencyKind, Role
from defchain.access.schemas import AgencyIn, JurisdictionIn, TeamIn, UserIn
from defchain.cases import Case, CaseReport
from defchain.cases.models import CaseChange
from defchain.db import make_engine, make_session_factory, unit_of_work
from defchain.intake import Report
from defchain.intake import service as intake
from defchain.intake.schemas import parse_report
from defchain.migrate import upgrade
from defchain.people import Person, ReportLink
from defchain.triage import service as triage

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SYSTEM = Actor.system("tripwire test")


def _postgres_database() -> Iterator[str]:
    base = os.environ.get("DEFCHAIN_TEST_DATABASE_URL", "").strip()
    if not base:
        pytest.skip("DEFCHAIN_TEST_DB=postgres but DEFCHAIN_TEST_DATABASE_URL is not set")
    name = f"defchain_tripwire_{os.getpid()}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres_only),
    ]
)
def committed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty database whose commits other connections see."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'tripwire.db'}"
        engine = make_engine(url)
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    for url in _postgres_database():
        engine = make_engine(url)
        try:
            upgrade(engine)
            yield engine
        finally:
            engine.dispose()


@dataclass
class World:
    case_id: int
    person_id: int
    lead_id: int
    reports: list[int]


def _tip(session: Session, jurisdiction_id: int, text: str) -> Report:
    payload = {
        "kind": "tip",
        "channel": "web",
        "jurisdiction_id": jurisdiction_id,
        "narrative": text,
        "subject": {"name": "Robin Sample"},
    }
    data = parse_report(payload, now=NOW)
    return intake.receive(session, data=data, source=intake.PUBLIC, now=NOW)


def _seed(factory: sessionmaker[Session], *, new_reports: int) -> World:
    """A closed case about Robin (from one linked report) and new reports, committed."""
    with unit_of_work(factory) as session:
        jurisdiction = access.create_jurisdiction(
            session, actor=SYSTEM, now=NOW,
            data=JurisdictionIn(name="Wire County", state="OH", timezone="America/New_York"),
        )  # fmt: skip
        agency = access.create_agency(
            session, actor=SYSTEM, now=NOW,
            data=AgencyIn(name="Wire PD", kind=AgencyKind.POLICE, jurisdiction_id=jurisdiction.id),
        )  # fmt: skip
        jurisdiction.intake_agency_id = agency.id
        lead = access.create_user(
            session, actor=SYSTEM, password="correct horse battery staple 42", now=NOW,
            data=UserIn(
                username="wire_lead", full_name="Wire Lead", email="wire_lead@example.gov",
                agency_id=agency.id, roles=[Role.TEAM_LEAD],
            ),
        )  # fmt: skip
        team = access.create_team(
            session, actor=SYSTEM, now=NOW,
            data=TeamIn(name="Wire Team", jurisdiction_id=jurisdiction.id),
        )  # fmt: skip
        access.add_member(session, actor=SYSTEM, team=team, user_id=lead.id, is_lead=True, now=NOW)
        robin = Person(display_name="Robin Sample", created_at=NOW)
        session.add(robin)
        first = _tip(session, jurisdiction.id, "He said he would hurt people at the mall.")
        session.flush()
        session.add(
            ReportLink(report_id=first.id, person_id=robin.id, decided_by="person", created_at=NOW)
        )
        session.flush()
        case = cases.open_case(
            session, access.actor_for(session, lead), title="An earlier matter",
            team_id=team.id, report_ids=[first.id], now=NOW,
        )  # fmt: skip
        case.status, case.closed_at = "closed", NOW
        reports = [
            _tip(session, jurisdiction.id, f"New report {n} about the same man.")
            for n in range(new_reports)
        ]
        triage.process_pending(session, now=NOW, link=False)
        return World(case.id, robin.id, lead.id, [r.id for r in reports])


Hold = Callable[[], None]


def _overlap(first: Callable[[Hold], None], second: Callable[[Hold], None]) -> list[BaseException]:
    """Run ``first`` and ``second`` in two threads, each in its own transaction: ``first``
    calls the hold it is given before committing, which waits until ``second`` has
    begun (and a little more, so that it is waiting for ``first``). Returns what either
    raised."""
    first_done, second_started = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def hold() -> None:
        first_done.set()
        assert second_started.wait(20)
        time.sleep(0.3)

    def run_first() -> None:
        try:
            first(hold)
        except BaseException as exc:
            errors.append(exc)
        finally:
            first_done.set()

    def run_second() -> None:
        assert first_done.wait(20)
        second_started.set()
        try:
            second(lambda: None)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run_first), threading.Thread(target=run_second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)
    return errors


def _link(factory: sessionmaker[Session], report_id: int, person_id: int) -> Callable[[Hold], None]:
    """Link the report to the person and follow the link, in a transaction of its own."""

    def run(hold: Hold) -> None:
        with unit_of_work(factory) as session:
            report = session.get_one(Report, report_id)
            session.add(
                ReportLink(
                    report_id=report.id, person_id=person_id, decided_by="model", created_at=NOW
                )
            )
            session.flush()
            triage.after_person_linked(session, report=report, now=NOW)
            hold()

    return run


def test_two_reports_linked_at_once_reopen_the_case_once_and_both_join_it(
    committed: Engine,
) -> None:
    factory = make_session_factory(committed)
    world = _seed(factory, new_reports=2)
    first, second = world.reports
    errors = _overlap(
        _link(factory, first, world.person_id), _link(factory, second, world.person_id)
    )
    assert errors == []
    with Session(committed) as session:
        case = session.get_one(Case, world.case_id)
        assert (case.status, case.cycle) == ("open", 2)
        assert session.scalar(select(func.count(Case.id))) == 1
        on_case = set(
            session.scalars(select(CaseReport.report_id).where(CaseReport.case_id == case.id))
        )
        assert {first, second} <= on_case
        kinds = session.execute(
            select(CaseChange.kind, CaseChange.new, CaseChange.report_id).where(
                CaseChange.case_id == case.id
            )
        ).all()
        assert kinds == [("status", "open", first)]  # one re-opening, by the first


def test_two_people_opening_a_case_from_one_report_at_once_get_one_case(
    committed: Engine,
) -> None:
    factory = make_session_factory(committed)
    world = _seed(factory, new_reports=1)
    [report_id] = world.reports

    def open_one(hold: Hold) -> None:
        with unit_of_work(factory) as session:
            lead = access.actor_for(session, session.get_one(User, world.lead_id))
            cases.open_case(session, lead, title="The new report", report_ids=[report_id], now=NOW)
            hold()

    errors = _overlap(open_one, open_one)
    assert len(errors) == 1, errors  # the second insert of the report hits the unique index
    with Session(committed) as session:
        holders = session.scalars(
            select(CaseReport.case_id).where(CaseReport.report_id == report_id)
        ).all()
        assert len(holders) == 1
        assert session.scalar(select(func.count(Case.id))) == 2  # the closed one and this
