"""kill -9 under load loses no acknowledged tip and leaves no partial report.

The real server (``defchain serve --workers 2``) runs as a subprocess on its own
database: a temporary SQLite file, or with ``DEFCHAIN_TEST_DB=postgres`` a database
``defchain_crash_<pid>`` created next to ``DEFCHAIN_TEST_DATABASE_URL`` and dropped
afterwards. A client thread posts tips to ``POST /api/v1/reports`` and records every
201; the server's whole process group gets SIGKILL mid-stream; the server restarts on
the same database. Then every acknowledged tip must be stored as sent, and every stored
report must be whole: its audit event ``intake:report:received`` is there and the audit
chain verifies.

A kill -9 cannot tell SQLite's synchronous=FULL from NORMAL (committed pages are already
in the OS cache); only a power-loss test could (docs/architecture.md, "Durability").
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, make_url, select

from defchain.access import Actor, Jurisdiction
from defchain.access import service as access
from defchain.access.rules import AgencyKind
from defchain.access.schemas import AgencyIn, JurisdictionIn
from defchain.audit import AuditEvent, verify
from defchain.db import make_engine, make_session_factory, unit_of_work
from defchain.intake.models import Report
from defchain.intake.service import create_integration
from tests.conftest import backend

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("defchain.web.routes.api") is None,
    reason="POST /api/v1/reports (defchain.web.routes.api) does not exist yet",
)

BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
START_TIMEOUT_S = 30.0
LOAD_SECONDS = 3.0  # tips posted before the kill (the chain process shares the 2 cores)
MAX_TIPS = 5000  # the client stops at this count or after CLIENT_TIMEOUT_S, whichever first
CLIENT_TIMEOUT_S = 15.0
CLIENTS = 4


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    if backend() != "postgres":
        yield f"sqlite:///{tmp_path / 'crash.db'}"
        return
    base = os.environ.get("DEFCHAIN_TEST_DATABASE_URL", "").strip()
    if not base:
        pytest.skip("DEFCHAIN_TEST_DB=postgres but DEFCHAIN_TEST_DATABASE_URL is not set")
    name = f"defchain_crash_{os.getpid()}"
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


def _env(url: str, secret: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEFCHAIN_")}
    env.update(DEFCHAIN_DATABASE_URL=url, DEFCHAIN_SECRET_KEY=secret, PYTHONUNBUFFERED="1")
    return env


def _prepare(url: str, secret: str) -> str:
    """Migrate; add a jurisdiction, its intake agency and an integration; its token."""
    subprocess.run(
        [str(BIN / "defchain"), "init"], env=_env(url, secret), check=True, capture_output=True
    )
    engine = make_engine(url)
    try:
        now = datetime.now(UTC)
        system = Actor.system("crash test")
        with unit_of_work(make_session_factory(engine)) as session:
            jurisdiction = access.create_jurisdiction(
                session,
                actor=system,
                now=now,
                data=JurisdictionIn(name="Crash County", state="OH", timezone="America/New_York"),
            )
            agency = access.create_agency(
                session,
                actor=system,
                now=now,
                data=AgencyIn(
                    name="Crash County Sheriff",
                    kind=AgencyKind.POLICE,
                    jurisdiction_id=jurisdiction.id,
                ),
            )
            session.get_one(Jurisdiction, jurisdiction.id).intake_agency_id = agency.id
            _, token = create_integration(
                session, actor=system, name="crash", agency_id=agency.id, now=now
            )
        return token
    finally:
        engine.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def _server(url: str, secret: str, log: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``defchain serve --workers 2`` in its own process group, killed on the way out."""
    port = _free_port()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [str(BIN / "defchain"), "serve", "--workers", "2", "--port", str(port)],
            env=_env(url, secret),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert proc.poll() is None, f"server exited: {log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"server not up: {log.read_text()[-3000:]}"
            try:
                if httpx.get(f"http://{HOST}:{port}/signin", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield proc, port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _tip(external_id: str) -> dict[str, object]:
    return {
        "kind": "tip",
        "external_id": external_id,
        "narrative": f"Crash-test tip {external_id}: a student said he would bring a gun.",
        "subject": {"name": "Alex Example", "school": "Example High School"},
        "details": {"weapons": "yes", "date_or_target": "unknown", "how_known": "I heard it"},
    }


@dataclass
class Acks:
    """What the server acknowledged: external id -> report id."""

    by_external_id: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    errors: list[str] = field(default_factory=list)


def _client(port: int, token: str, acks: Acks, stop: threading.Event, budget: list[int]) -> None:
    deadline = time.monotonic() + CLIENT_TIMEOUT_S
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"http://{HOST}:{port}", headers=headers, timeout=5) as client:
        while not stop.is_set() and time.monotonic() < deadline:
            with acks.lock:
                if budget[0] <= 0:
                    return
                budget[0] -= 1
            external_id = uuid.uuid4().hex
            try:
                response = client.post("/api/v1/reports", json=_tip(external_id))
            except httpx.HTTPError:
                return  # the server is gone: this tip was never acknowledged
            if response.status_code == 201:
                with acks.lock:
                    acks.by_external_id[external_id] = int(response.json()["id"])
            else:
                with acks.lock:
                    acks.errors.append(f"{response.status_code} {response.text[:200]}")


def test_sigkill_under_load_loses_no_acknowledged_tip(database_url: str, tmp_path: Path) -> None:
    secret = secrets.token_urlsafe(48)
    token = _prepare(database_url, secret)
    log = tmp_path / "server.log"
    acks = Acks()
    stop = threading.Event()
    budget = [MAX_TIPS]

    with _server(database_url, secret, log) as (proc, port):
        threads = [
            threading.Thread(target=_client, args=(port, token, acks, stop, budget))
            for _ in range(CLIENTS)
        ]
        for thread in threads:
            thread.start()
        try:
            time.sleep(LOAD_SECONDS)
            os.killpg(proc.pid, signal.SIGKILL)  # master and workers, mid-stream
            proc.wait(timeout=10)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=CLIENT_TIMEOUT_S + 5)
        assert not any(t.is_alive() for t in threads)

    assert acks.errors == [], acks.errors[:5]
    assert len(acks.by_external_id) >= 20, "too few tips acknowledged before the kill"

    # The server comes back on the same database and takes tips again.
    with _server(database_url, secret, log) as (_, port):
        after = uuid.uuid4().hex
        response = httpx.post(
            f"http://{HOST}:{port}/api/v1/reports",
            json=_tip(after),
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        acks.by_external_id[after] = int(response.json()["id"])

    engine = make_engine(database_url)
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            reports = {r.id: r for r in session.scalars(select(Report))}
            stored = {r.external_id: r.id for r in reports.values()}
            lost = {e: i for e, i in acks.by_external_id.items() if stored.get(e) != i}
            assert lost == {}, f"{len(lost)} acknowledged tips lost or changed"
            for report in reports.values():
                assert report.external_id is not None
                assert report.narrative == _tip(report.external_id)["narrative"]
                assert report.subject["name"] == "Alex Example"
                assert report.details["weapons"] == "yes"
            received = set(
                session.scalars(
                    select(AuditEvent.subject_id).where(AuditEvent.tag == "intake:report:received")
                )
            )
            without_event = sorted(i for i in reports if str(i) not in received)
            assert without_event == [], f"reports without their audit event: {without_event}"
            assert session.scalar(select(func.count()).select_from(Report)) == len(reports)
            result = verify(session)
            assert result.problems == [], result.problems[:3]
    finally:
        engine.dispose()
