"""Intake benchmark (not a test): the real app under load, next to its ceiling.

For each backend (SQLite in a temporary directory, PostgreSQL on a fresh database
``defchain_bench`` that it creates and drops) it:

1. migrates the database (``defchain init``), adds a jurisdiction whose intake agency
   takes public tips, and an integration with its API token;
2. starts the real app exactly as ``defchain serve --workers 2 --port P`` does, and the
   ceiling app (``bench/ceiling_app.py``: one durable insert of the same payload, same
   engine settings, uvicorn with the same worker count);
3. posts fictitious tips (Faker, generated before the clock starts) with N concurrent
   keep-alive clients for a bounded time after a warm-up, through
   ``POST /api/v1/reports`` (Bearer token), through the public form ``POST /report``
   (one GET per client for the CSRF cookie and token, then POSTs), to the ceiling, and
   to ``POST /null`` (no database: the framework plus this load generator);
4. checks that the database holds at least as many reports as were acknowledged;
5. prints one table: the median of ``--runs`` runs, the ratio to the same run's ceiling,
   the machine and the exact command.

The load generator is a small HTTP/1.1 client on asyncio streams (httpx costs too much
CPU on 2 shared cores); each client connects from its own loopback address
(127.0.0.2, 127.0.0.3, ...) so the public page's per-client rate limit sees separate
clients. Traffic goes to 127.0.0.1 only; every loop stops by time and by count.

    .venv/bin/python bench/intake.py                       # both backends, 3 runs
    .venv/bin/python bench/intake.py --backends sqlite --runs 1 --duration 5
    .venv/bin/python bench/intake.py --shutdown-check      # SIGTERM under load
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import secrets
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
TARGET_TRIAGE_P95_S = 2.0  # acknowledgement to triage suggestion, under this load
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
PG_BENCH_DB = "defchain_bench"
DEFAULT_PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# Hard bounds on top of --duration: no run sends more than this, no server start waits longer.
MAX_REQUESTS_PER_RUN = 500_000
START_TIMEOUT_S = 60.0
REQUEST_TIMEOUT_S = 15.0  # an answer slower than this counts as "timeout" (deadlocks end too)
TARGET_RATIO = 0.5
TARGET_P99_MS = 150.0
TARGET_TIPS = {"sqlite": 500.0, "postgres": 400.0}

sys.path.insert(0, str(ROOT / "bench"))


# --- tiny HTTP/1.1 client ------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header_values(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name]


class Connection:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1 from a chosen loopback address."""

    def __init__(self, port: int, source: str) -> None:
        self.port = port
        self.source = source
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(
            HOST, self.port, local_addr=(self.source, 0)
        )

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> Response:
        if self.writer is None:
            await self._connect()
        assert self.reader is not None and self.writer is not None
        lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            await self.close()
            raise ConnectionError("connection closed before a response") from None
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        parsed = []
        for line in header_lines:
            if ":" in line:
                k, v = line.split(":", 1)
                parsed.append((k.strip().lower(), v.strip()))
        values = dict(parsed)
        if "content-length" in values:
            data = await self.reader.readexactly(int(values["content-length"]))
        elif values.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                chunks.append(chunk[:-2])
            data = b"".join(chunks)
        else:
            data = b""
        if values.get("connection", "").lower() == "close":
            await self.close()
        return Response(status, parsed, data)


# --- payloads -------------------------------------------------------------------------


def make_tips(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """Realistic, entirely fictitious tips (Faker, seeded)."""
    from faker import Faker

    fake = Faker("en_US")
    Faker.seed(seed)
    rng = random.Random(seed)  # noqa: S311 - fake data, not secrets
    places = ["the school parking lot", "the cafeteria", "a group chat", "the gym", "a game"]
    tips = []
    for _ in range(count):
        first = fake.first_name()
        narrative = (
            f"{first} said in {rng.choice(places)} that {fake.sentence(nb_words=10)} "
            f"They mentioned {fake.sentence(nb_words=8)} {fake.paragraph(nb_sentences=3)}"
        )
        tips.append(
            {
                "kind": "tip",
                "channel": "api",
                "narrative": narrative,
                "location": f"{fake.street_address()}, {fake.city()}",
                "occurred_at_text": rng.choice(["yesterday", "last Friday", "this morning"]),
                "danger_now": False,
                "subject": {
                    "name": f"{first} {fake.last_name()}",
                    "nickname": fake.user_name()[:20],
                    "school": f"{fake.last_name()} High School",
                    "online_handle": "@" + fake.user_name(),
                    "approximate_age": rng.randint(14, 40),
                },
                "details": {
                    "weapons": rng.choice(["yes", "no", "unknown"]),
                    "weapons_text": fake.sentence(nb_words=6),
                    "date_or_target": rng.choice(["yes", "no", "unknown"]),
                    "date_or_target_text": fake.sentence(nb_words=5),
                    "how_known": rng.choice(["I saw it", "A friend told me", "Social media"]),
                },
            }
        )
    return tips


class _FormFields(HTMLParser):
    """The fields of the public report form (the first POST form with a csrf_token)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self._form: dict[str, Any] | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "get").lower() == "post":
            self._form = {"action": a.get("action", ""), "fields": []}
            self.forms.append(self._form)
        elif self._form is not None and tag in ("input", "select", "textarea") and "name" in a:
            self._form["fields"].append({"tag": tag, **a})

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None


HONEYPOT_HINTS = ("website", "homepage", "url", "company", "fax", "honeypot", "hp_")


def form_fields(html: str) -> list[dict[str, str]] | None:
    """The fields of the page's form that carries a csrf_token (parsed once per client)."""
    parser = _FormFields()
    parser.feed(html)
    form = next(
        (f for f in parser.forms if any(x.get("name") == "csrf_token" for x in f["fields"])), None
    )
    return None if form is None else list(form["fields"])


def form_body(fields: list[dict[str, str]], tip: dict[str, Any]) -> dict[str, str]:
    """Fill the public form like a person would, leaving the honeypot empty."""
    flat = {
        "narrative": tip["narrative"],
        "location": tip["location"],
        "occurred_at_text": tip["occurred_at_text"],
        **{f"subject_{k}": str(v) for k, v in tip["subject"].items()},
        **{f"subject.{k}": str(v) for k, v in tip["subject"].items()},
        **{k: str(v) for k, v in tip["details"].items()},
        **{f"details.{k}": str(v) for k, v in tip["details"].items()},
    }
    values: dict[str, str] = {}
    for f in fields:
        name, kind = f["name"], f.get("type", "text").lower()
        if f["tag"] == "input" and kind == "hidden":
            values[name] = f.get("value", "")
        elif any(h in name.lower() for h in HONEYPOT_HINTS) or f.get("tabindex") == "-1":
            values.setdefault(name, "")
        elif name in flat and kind not in ("radio", "checkbox"):
            values[name] = flat[name]
        elif kind == "radio":
            if name in flat and f.get("value") == flat[name]:
                values[name] = flat[name]
            elif name not in values and (f.get("value") in ("no", "unknown", "0", "false")):
                values[name] = f.get("value", "")
    return values


# --- servers --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """A server subprocess in its own process group; stopped (and reaped) on exit."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], port: int) -> None:
        self.name, self.argv, self.env, self.port = name, argv, env, port
        self.log = tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".log")  # noqa: SIM115
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(self, ready_path: str) -> None:
        self.proc = subprocess.Popen(  # noqa: S603 - our own argv
            self.argv,
            env=self.env,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.output()}")
            try:
                with socket.create_connection((HOST, self.port), timeout=1) as s:
                    s.sendall(f"GET {ready_path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                    if s.recv(64).startswith(b"HTTP/1.1"):
                        time.sleep(1.0)  # let the second worker finish booting too
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not start in {START_TIMEOUT_S:g} s:\n{self.output()}")

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-4000:]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        # Workers of a group whose master died: make sure none is left.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)


# --- backends -------------------------------------------------------------------------


@dataclass
class Prepared:
    url: str
    token: str
    jurisdiction_id: int


def _env(url: str, secret: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEFCHAIN_")}
    env.update(
        DEFCHAIN_DATABASE_URL=url,
        DEFCHAIN_SECRET_KEY=secret,
        DEFCHAIN_COOKIE_SECURE="false",  # plain http on 127.0.0.1
        DEFCHAIN_PUBLIC_RATE_LIMIT_PER_MINUTE="10000",
        # --no-pipeline: intake alone, without triage after each commit (a diagnosis aid).
        DEFCHAIN_PIPELINE=os.environ.get("BENCH_PIPELINE", "true"),
        PYTHONUNBUFFERED="1",
    )
    return env


def prepare(url: str, secret: str) -> Prepared:
    """Migrate, add a jurisdiction with an intake agency and an integration token."""
    init = [str(BIN / "defchain"), "init"]
    subprocess.run(init, env=_env(url, secret), cwd=ROOT, check=True)  # noqa: S603
    from ceiling_app import metadata as ceiling_metadata

    from defchain.access import Actor, Jurisdiction
    from defchain.access import service as access
    from defchain.access.rules import AgencyKind
    from defchain.access.schemas import AgencyIn, JurisdictionIn
    from defchain.db import make_engine, make_session_factory, unit_of_work
    from defchain.intake.service import create_integration

    engine = make_engine(url)
    try:
        ceiling_metadata.create_all(engine)
        now = datetime.now(UTC)
        system = Actor.system("bench")
        with unit_of_work(make_session_factory(engine)) as session:
            jurisdiction = access.create_jurisdiction(
                session,
                actor=system,
                now=now,
                data=JurisdictionIn(
                    name="Bench County", state="OH", county="Bench", timezone="America/New_York"
                ),
            )
            agency = access.create_agency(
                session,
                actor=system,
                now=now,
                data=AgencyIn(
                    name="Bench County Sheriff",
                    kind=AgencyKind.POLICE,
                    jurisdiction_id=jurisdiction.id,
                ),
            )
            session.get_one(Jurisdiction, jurisdiction.id).intake_agency_id = agency.id
            _, token = create_integration(
                session, actor=system, name="bench", agency_id=agency.id, now=now
            )
            return Prepared(url, token, jurisdiction.id)
    finally:
        engine.dispose()


@contextlib.contextmanager
def sqlite_backend() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="defchain-bench-", dir="/tmp") as tmp:
        yield f"sqlite:///{tmp}/bench.db"


@contextlib.contextmanager
def postgres_backend(admin_url: str) -> Iterator[str]:
    from sqlalchemy import create_engine, make_url

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.exec_driver_sql(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)")
            c.exec_driver_sql(f"CREATE DATABASE {PG_BENCH_DB}")
            sync = c.exec_driver_sql("SHOW synchronous_commit").scalar()
            if sync != "on":
                raise RuntimeError(f"synchronous_commit is {sync!r}; the bench needs 'on'")
        yield make_url(admin_url).set(database=PG_BENCH_DB).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.exec_driver_sql(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)")
        admin.dispose()


def count_rows(url: str) -> dict[str, int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as c:
            rows = c.execute(text("SELECT channel, count(*) FROM reports GROUP BY channel"))
            counts = {str(k): int(v) for k, v in rows}
            counts["ceiling"] = int(c.execute(text("SELECT count(*) FROM bench_tips")).scalar_one())
            return counts
    finally:
        engine.dispose()


def triage_latency(url: str, sample: Sample, *, timeout: float = 120.0) -> None:
    """Wait until the pipeline has processed every report, then measure, for each report
    acknowledged in the window, the time from its acknowledgement to its triage
    suggestion (the suggestion's ``created_at``, written by the server's clock)."""
    from sqlalchemy import bindparam, create_engine, text

    if not sample.acks:
        return
    engine = create_engine(url)
    try:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            with engine.connect() as c:
                waiting = c.execute(
                    text("SELECT count(*) FROM reports WHERE processed_at IS NULL")
                ).scalar_one()
            if not waiting:
                break
            time.sleep(0.2)
        sample.triage_drain_s = time.monotonic() - started
        acked = dict(sample.acks)
        created: dict[int, float] = {}
        ids = list(acked)
        with engine.connect() as c:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                query = text(
                    "SELECT report_id, min(created_at) FROM triage_suggestions "
                    "WHERE report_id IN :ids GROUP BY report_id"
                ).bindparams(bindparam("ids", expanding=True))
                rows = c.execute(query, {"ids": chunk})
                for report_id, at in rows:
                    if isinstance(at, str):  # SQLite keeps ISO text
                        at = datetime.fromisoformat(at)
                    if at.tzinfo is None:
                        at = at.replace(tzinfo=UTC)
                    created[int(report_id)] = at.timestamp()
        delays = [created[i] - acked[i] for i in ids if i in created]
        missing = len(ids) - len(delays)
        if missing:
            print(f"  WARNING: {missing} acknowledged report(s) have no triage suggestion")
        if delays:
            sample.triage_p50_s = _percentile(delays, 0.50)
            sample.triage_p95_s = _percentile(delays, 0.95)
            sample.triage_max_s = max(delays)
    finally:
        engine.dispose()


# --- load -----------------------------------------------------------------------------


@dataclass
class Sample:
    path: str
    backend: str
    clients: int
    ok: int = 0
    tips_per_s: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)
    acked: int = 0  # acknowledged over the whole run, warm-up included
    app_cpu_ms: float = float("nan")  # server CPU (all its processes) per acknowledged tip
    gen_cpu_ms: float = float("nan")  # this load generator's CPU per acknowledged tip
    # API path: (report id, wall-clock time of the acknowledgement) within the window,
    # to measure how long after its acknowledgement each report got its triage suggestion.
    acks: list[tuple[int, float]] = field(default_factory=list)
    triage_p50_s: float = float("nan")
    triage_p95_s: float = float("nan")
    triage_max_s: float = float("nan")
    triage_drain_s: float = float("nan")  # after the load stopped, until nothing waited


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU of every live process in process group ``pgid``."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:
                ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def load_average() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "?"


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def load(
    *,
    path: str,
    backend: str,
    port: int,
    clients: int,
    warmup: float,
    duration: float,
    tips: list[dict[str, Any]],
    token: str,
    jurisdiction_id: int,
    stop_at_count: int = MAX_REQUESTS_PER_RUN,
    on_start: Any = None,
    server_pgid: int | None = None,
) -> Sample:
    """``clients`` keep-alive clients post as fast as answers come back, for a bounded time."""
    sample = Sample(path, backend, clients)
    latencies: list[float] = []
    started = time.monotonic()
    window_start, window_end = started + warmup, started + warmup + duration
    sent = 0
    counter = iter(range(10**12))

    async def client(index: int) -> None:
        nonlocal sent
        conn = Connection(port, f"127.0.0.{2 + index}")
        rng = random.Random(index)  # noqa: S311 - fake data, not secrets
        csrf_cookie = ""
        fields: list[dict[str, str]] | None = None

        async def get_form() -> None:
            nonlocal csrf_cookie, fields
            page = await conn.request(
                "GET", "/report", headers={"Accept": "text/html", "Cookie": csrf_cookie}
            )
            html = page.body.decode(errors="replace") if page.status == 200 else ""
            fields = form_fields(html)
            for value in page.header_values("set-cookie"):
                if value.startswith("dc_csrf="):
                    csrf_cookie = value.split(";", 1)[0]

        try:
            while time.monotonic() < window_end and sent < stop_at_count:
                sent += 1
                if path == "form" and fields is None:
                    # Once per client; again only if the page failed (e.g. a 500).
                    try:
                        await asyncio.wait_for(get_form(), REQUEST_TIMEOUT_S)
                    except (TimeoutError, ConnectionError, OSError):
                        await conn.close()
                        await asyncio.sleep(0.01)
                    continue
                tip = dict(rng.choice(tips))
                headers: dict[str, str]
                if path != "form":
                    tip["external_id"] = f"bench-{uuid.uuid4().hex}"
                    body = json.dumps(tip).encode()
                    headers = {"Content-Type": "application/json", "Accept": "application/json"}
                    if path.startswith("api"):
                        headers["Authorization"] = f"Bearer {token}"
                    target = {
                        "api": "/api/v1/reports",
                        "api-onehop": "/api/bench/reports-onehop",
                        "null": "/null",
                    }.get(path, "/tips")
                else:
                    filled = form_body(fields or [], tip)
                    filled.setdefault("jurisdiction_id", str(jurisdiction_id))
                    body = urlencode(filled).encode()
                    headers = {
                        "Content-Type": "application/x-www-form-urlencoded",
                        "Accept": "text/html",
                        "Cookie": csrf_cookie,
                    }
                    target = "/report"
                t0 = time.monotonic()
                try:
                    response = await asyncio.wait_for(
                        conn.request("POST", target, body, headers), REQUEST_TIMEOUT_S
                    )
                    status = str(response.status)
                except TimeoutError:
                    status = "timeout"
                    await conn.close()
                except (ConnectionError, OSError) as error:
                    status = f"conn:{type(error).__name__}"
                    await asyncio.sleep(0.01)
                t1 = time.monotonic()
                good = status in ("200", "201", "303", "302")
                if good:
                    sample.acked += 1
                if window_start <= t1 <= window_end:
                    sample.statuses[status] += 1
                    if good:
                        latencies.append(t1 - t0)
                        if path == "api":
                            with contextlib.suppress(ValueError, KeyError, TypeError):
                                sample.acks.append(
                                    (int(json.loads(response.body)["id"]), time.time())
                                )
                next(counter)
        finally:
            await conn.close()

    tasks = [asyncio.create_task(client(i)) for i in range(clients)]
    if on_start is not None:
        await on_start()
    await asyncio.sleep(max(window_start - time.monotonic(), 0))
    app_cpu0 = group_cpu_seconds(server_pgid) if server_pgid else 0.0
    gen_cpu0, ok0 = time.process_time(), sample.acked
    await asyncio.sleep(max(window_end - time.monotonic(), 0))
    acked_in_window = max(sample.acked - ok0, 1)
    if server_pgid:
        sample.app_cpu_ms = (group_cpu_seconds(server_pgid) - app_cpu0) * 1000 / acked_in_window
    sample.gen_cpu_ms = (time.process_time() - gen_cpu0) * 1000 / acked_in_window
    await asyncio.gather(*tasks)
    sample.ok = len(latencies)
    sample.tips_per_s = sample.ok / duration
    sample.p50_ms = _percentile(latencies, 0.50) * 1000
    sample.p99_ms = _percentile(latencies, 0.99) * 1000
    return sample


# --- orchestration --------------------------------------------------------------------


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores (nproc), {model}, {platform.system()} {platform.release()}"


def _bench_app_command(module: str, port: int, workers: int) -> list[str]:
    """uvicorn serving ``bench/<module>.py``'s ``create_app`` factory on ``port``."""
    return [
        str(BIN / "python"),
        "-m",
        "uvicorn",
        "--factory",
        "--app-dir",
        str(ROOT / "bench"),
        f"{module}:create_app",
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-server-header",
    ]


def start_servers(
    url: str, secret: str, workers: int, *, nolock: bool, onehop: bool = False
) -> tuple[dict[str, Server], dict[str, int]]:
    servers: dict[str, Server] = {}
    ports: dict[str, int] = {}
    env = _env(url, secret)
    app_port = free_port()
    servers["app"] = Server(
        "app",
        [str(BIN / "defchain"), "serve", "--workers", str(workers), "--port", str(app_port)],
        env,
        app_port,
    )
    if onehop:
        port = free_port()
        servers["api-onehop"] = Server(
            "api-onehop", _bench_app_command("onehop_app", port, workers), env, port
        )
    variants = [("ceiling", "1")] + ([("ceiling-nolock", "0")] if nolock else [])
    for name, lock in variants:
        port = free_port()
        ceiling_env = dict(env, BENCH_CEILING_DATABASE_URL=url, BENCH_CEILING_WRITE_LOCK=lock)
        servers[name] = Server(
            name,
            [*_bench_app_command("ceiling_app", port, workers), "--no-access-log"],
            ceiling_env,
            port,
        )
    for name, server in servers.items():
        server.start("/null" if name.startswith("ceiling") else "/signin")
        ports[name] = server.port
    return servers, ports


def route_exists(port: int, method: str, target: str) -> bool:
    with socket.create_connection((HOST, port), timeout=5) as s:
        s.sendall(f"{method} {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode())
        status = int(s.recv(64).split(b" ", 2)[1])
    return status not in (404, 405)


def server_of(path: str) -> str:
    return {"api": "app", "form": "app", "null": "ceiling"}.get(path, path)


def bench_backend(
    backend: str, url: str, args: argparse.Namespace, tips: list[dict[str, Any]]
) -> list[list[Sample]]:
    secret = secrets.token_urlsafe(48)
    prepared = prepare(url, secret)
    servers, ports = start_servers(
        url, secret, args.workers, nolock=args.compare_nolock, onehop="api-onehop" in args.paths
    )
    runs: list[list[Sample]] = []
    try:
        paths = [p for p in args.paths if p != "ceiling-nolock" or "ceiling-nolock" in ports]
        if backend != "sqlite":
            paths = [p for p in paths if p != "ceiling-nolock"]
        available = []
        for p in paths:
            port = ports.get(p, ports["app"]) if p != "null" else ports["ceiling"]
            if p == "api" and not route_exists(port, "POST", "/api/v1/reports"):
                print(f"  {backend}: POST /api/v1/reports does not exist yet: skipped")
                continue
            if p == "form" and not route_exists(port, "GET", "/report"):
                print(f"  {backend}: GET /report does not exist yet: skipped")
                continue
            available.append(p)
        for run in range(args.runs):
            samples = []
            for p in available:
                port = {"api": ports["app"], "form": ports["app"], "null": ports["ceiling"]}.get(
                    p, ports.get(p, 0)
                )
                sample = asyncio.run(
                    load(
                        path=p,
                        backend=backend,
                        port=port,
                        clients=args.clients,
                        warmup=args.warmup,
                        duration=args.duration,
                        tips=tips,
                        token=prepared.token,
                        jurisdiction_id=prepared.jurisdiction_id,
                        server_pgid=servers[server_of(p)].pid,
                    )
                )
                if p == "api" and os.environ.get("BENCH_PIPELINE", "true") != "false":
                    triage_latency(url, sample)
                    print(
                        f"  run {run + 1} {backend:8} triage after ack: p50 "
                        f"{sample.triage_p50_s:.2f} s p95 {sample.triage_p95_s:.2f} s max "
                        f"{sample.triage_max_s:.2f} s (backlog drained "
                        f"{sample.triage_drain_s:.1f} s after the load stopped)",
                        flush=True,
                    )
                print(
                    f"  run {run + 1} {backend:8} {p:15} {sample.tips_per_s:8.0f}/s "
                    f"p50 {sample.p50_ms:6.1f} ms p99 {sample.p99_ms:7.1f} ms "
                    f"cpu/tip app {sample.app_cpu_ms:4.1f} ms gen {sample.gen_cpu_ms:4.1f} ms "
                    f"load {load_average()} {dict(sample.statuses)}",
                    flush=True,
                )
                samples.append(sample)
            runs.append(samples)
    finally:
        for server in servers.values():
            server.stop()
    stored = count_rows(url)
    acked = Counter[str]()
    for samples in runs:
        for s in samples:
            acked[s.path] += s.acked
    print(f"  {backend}: acknowledged {dict(acked)}; stored {stored}")
    channel = {"api": "api", "api-onehop": "api", "form": "web"}
    for p, n in acked.items():
        have = stored.get(channel.get(p, p), stored.get("ceiling", 0) if "ceiling" in p else n)
        if p.startswith("ceiling"):
            have = stored["ceiling"]
            n = sum(acked[q] for q in acked if q.startswith("ceiling"))
        if have < n:
            print(f"  WARNING: {backend} {p}: {n} acknowledged but only {have} stored")
    return runs


def summarize(all_runs: dict[str, list[list[Sample]]], args: argparse.Namespace) -> int:
    print()
    print(f"machine: {machine()}")
    print(f"command: {shlex.join([Path(sys.executable).name, *sys.argv])}")
    print(
        f"clients {args.clients}, workers {args.workers}, warm-up {args.warmup:g} s, "
        f"measured {args.duration:g} s, median of {args.runs} run(s)"
    )
    print()
    header = f"{'path':16} {'backend':9} {'clients':>7} {'tips/s':>8} {'p50 ms':>8} "
    header += f"{'p99 ms':>8} {'ceiling':>8} {'app cpu ms/tip':>15}"
    print(header)
    print("-" * len(header))
    failures = []
    for backend, runs in all_runs.items():
        if not runs:
            continue
        paths = [s.path for s in runs[0]]
        medians: dict[str, tuple[float, float, float, float]] = {}
        for p in paths:
            samples = [s for run in runs for s in run if s.path == p]
            medians[p] = (
                statistics.median(s.tips_per_s for s in samples),
                statistics.median(s.p50_ms for s in samples),
                statistics.median(s.p99_ms for s in samples),
                statistics.median(s.app_cpu_ms for s in samples),
            )
        ceiling = medians.get("ceiling", (float("nan"), 0.0, 0.0, 0.0))[0]
        for p in paths:
            rate, p50, p99, cpu = medians[p]
            ratio = rate / ceiling if ceiling else float("nan")
            print(
                f"{p:16} {backend:9} {args.clients:7d} {rate:8.0f} {p50:8.1f} {p99:8.1f} "
                f"{ratio:8.2f} {cpu:15.1f}"
            )
            if p in ("api", "form"):
                if ratio < TARGET_RATIO:
                    failures.append(f"{p}/{backend}: {ratio:.2f} of the ceiling < {TARGET_RATIO}")
                if p99 > TARGET_P99_MS:
                    failures.append(f"{p}/{backend}: p99 {p99:.0f} ms > {TARGET_P99_MS:g}")
                if rate < TARGET_TIPS[backend]:
                    failures.append(f"{p}/{backend}: {rate:.0f}/s < {TARGET_TIPS[backend]:g}")
    print()
    for backend, runs in all_runs.items():
        api = [
            s for run in runs for s in run if s.path == "api" and s.triage_p95_s == s.triage_p95_s
        ]
        if api:
            p95 = statistics.median(s.triage_p95_s for s in api)
            p50 = statistics.median(s.triage_p50_s for s in api)
            worst = max(s.triage_max_s for s in api)
            print(
                f"triage suggestion after acknowledgement ({backend}, api path): "
                f"p50 {p50:.2f} s, p95 {p95:.2f} s (target <= {TARGET_TRIAGE_P95_S:g} s), "
                f"max {worst:.2f} s"
            )
            if p95 > TARGET_TRIAGE_P95_S:
                failures.append(f"triage/{backend}: p95 {p95:.2f} s > {TARGET_TRIAGE_P95_S:g} s")
    print()
    measured = any(s.path in ("api", "form") for runs in all_runs.values() for r in runs for s in r)
    if not measured:
        print("targets not checked: neither /api/v1/reports nor /report exists yet")
    elif failures:
        print("targets missed:\n  " + "\n  ".join(failures))
    else:
        print(
            "targets met (>= 50% of ceiling, p99 <= 150 ms, >= 500/s SQLite, >= 400/s PostgreSQL)"
        )
    return 1 if failures and args.strict else 0


# --- shutdown check -------------------------------------------------------------------


def shutdown_check(backend: str, url: str, args: argparse.Namespace, tips: list[Any]) -> bool:
    """SIGTERM the server under load: no 5xx, and every acknowledged tip is stored."""
    secret = secrets.token_urlsafe(48)
    prepared = prepare(url, secret)
    servers, ports = start_servers(url, secret, args.workers, nolock=False)
    server = servers["app"]
    try:

        async def sigterm_later() -> None:
            async def fire() -> None:
                await asyncio.sleep(args.warmup + 1.0)
                assert server.proc is not None
                os.kill(server.proc.pid, signal.SIGTERM)  # the master; it stops its workers

            asyncio.get_running_loop().create_task(fire())

        sample = asyncio.run(
            load(
                path="api",
                backend=backend,
                port=ports["app"],
                clients=args.clients,
                warmup=0.0,
                duration=args.warmup + 4.0,
                tips=tips,
                token=prepared.token,
                jurisdiction_id=prepared.jurisdiction_id,
                on_start=sigterm_later,
            )
        )
        assert server.proc is not None
        code = server.proc.wait(timeout=30)
    finally:
        for s in servers.values():
            s.stop()
    stored = count_rows(url).get("api", 0)
    five_xx = {k: v for k, v in sample.statuses.items() if k.startswith("5")}
    print(
        f"shutdown {backend}: exit {code}; statuses {dict(sample.statuses)}; "
        f"acknowledged {sample.acked}, stored {stored}"
    )
    ok = not five_xx and stored >= sample.acked
    print(f"shutdown {backend}: {'OK' if ok else 'FAILED'}")
    if not ok:
        print(server.output())
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--paths", default="ceiling,api,form,null")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tips", type=int, default=2000, help="distinct fake tips to cycle")
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN_URL)
    parser.add_argument(
        "--compare-nolock",
        action="store_true",
        help="also run the SQLite ceiling without the write lock (busy timeout only)",
    )
    parser.add_argument("--shutdown-check", action="store_true")
    parser.add_argument(
        "--no-pipeline",
        action="store_true",
        help="serve without triage after each commit (to see what the pipeline costs)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    if args.no_pipeline:
        os.environ["BENCH_PIPELINE"] = "false"
    args.paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    if args.compare_nolock and "ceiling-nolock" not in args.paths:
        args.paths.insert(1, "ceiling-nolock")
    if not 1 <= args.clients <= 200 or not 0 < args.duration <= 120:
        parser.error("--clients must be 1..200 and --duration 0..120 s")
    tips = make_tips(args.tips)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if args.shutdown_check:
        ok = True
        for backend in backends:
            ctx = sqlite_backend() if backend == "sqlite" else postgres_backend(args.pg_admin_url)
            with ctx as url:
                ok = shutdown_check(backend, url, args, tips) and ok
        return 0 if ok else 1
    all_runs: dict[str, list[list[Sample]]] = {}
    for backend in backends:
        print(f"{backend}: preparing", flush=True)
        ctx = sqlite_backend() if backend == "sqlite" else postgres_backend(args.pg_admin_url)
        with ctx as url:
            all_runs[backend] = bench_backend(backend, url, args, tips)
    return summarize(all_runs, args)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
