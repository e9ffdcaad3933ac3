"""``defchain serve`` refuses unsafe configuration and unmigrated databases."""

from __future__ import annotations

import os
from typing import Any

import pytest

from defchain.cli import serve as serve_module
from tests.cli.conftest import Cli


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record what would have been served instead of serving it."""
    calls: list[dict[str, Any]] = []

    def fake_run(app: str, **kwargs: Any) -> None:
        calls.append({"app": app, **kwargs})

    monkeypatch.setattr(serve_module.uvicorn, "run", fake_run)
    return calls


def test_serve_refuses_without_a_secret_key_outside_demo_mode(
    cli: Cli, uvicorn_calls: list[dict[str, Any]]
) -> None:
    cli.run("init")

    result = cli.run("serve")

    assert result.exit_code == 2
    assert "DEFCHAIN_SECRET_KEY is not set" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert uvicorn_calls == []


def test_serve_refuses_a_weak_secret_key(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, uvicorn_calls: list[dict[str, Any]]
) -> None:
    cli.run("init")
    monkeypatch.setenv("DEFCHAIN_SECRET_KEY", "changeme")

    result = cli.run("serve")

    assert result.exit_code == 2
    assert "too weak" in result.output
    assert uvicorn_calls == []


def test_serve_refuses_a_database_that_is_not_initialised(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, uvicorn_calls: list[dict[str, Any]]
) -> None:
    monkeypatch.setenv("DEFCHAIN_DEMO", "1")

    result = cli.run("serve")

    assert result.exit_code == 2
    assert "defchain init" in result.output
    assert uvicorn_calls == []


def test_serve_runs_the_app_factory_in_demo_mode_with_one_shared_key(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, uvicorn_calls: list[dict[str, Any]]
) -> None:
    cli.run("init")
    monkeypatch.setenv("DEFCHAIN_DEMO", "1")

    result = cli.run("serve", "--port", "8123", "--workers", "2")

    assert result.exit_code == 0, result.output
    assert "SQLite" in result.output  # the one-writer warning
    [call] = uvicorn_calls
    assert call["app"] == "defchain.web.app:create_app"
    assert (call["factory"], call["port"], call["workers"]) == (True, 8123, 2)
    assert len(os.environ["DEFCHAIN_SECRET_KEY"]) >= 32


def test_serve_keeps_no_access_log_by_default(cli: Cli, tmp_path: Any) -> None:
    # The public tip page promises that no IP address is kept; uvicorn's access log
    # would print one for every request. Run the real server and look at its output.
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    cli.run("init")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path / "serve.log"
    env = {**os.environ, "DEFCHAIN_DEMO": "1", "DEFCHAIN_DATABASE_URL": cli.url}
    command = [sys.executable, "-m", "defchain.cli.main", "serve", "--port", str(port)]
    with log.open("w") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as answer:
                        assert answer.status == 200
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
        finally:
            server.terminate()
            server.wait(timeout=30)
    output = log.read_text()
    assert "Uvicorn running" in output or "Application startup complete" in output
    assert "/healthz" not in output and "127.0.0.1:" not in output.replace(
        f"http://127.0.0.1:{port}", ""
    )


def test_serve_triages_new_reports_in_its_chain_process(cli: Cli, tmp_path: Any) -> None:
    # A report stored while nothing ran (a bulk import, say) is triaged by the chain
    # process that `defchain serve` starts beside the web workers.
    import socket
    import subprocess
    import sys
    import time

    from sqlalchemy import select

    from defchain.access import Actor, Jurisdiction
    from defchain.clock import SystemClock
    from defchain.intake import Report
    from defchain.intake import service as intake_service
    from defchain.intake.schemas import parse_report

    cli.run("init")
    assert cli.run("demo").exit_code == 0
    now = SystemClock().now()
    with cli.session() as session:
        jurisdiction = session.scalars(select(Jurisdiction)).one()
        data = parse_report(
            {
                "kind": "tip",
                "channel": "phone",
                "jurisdiction_id": jurisdiction.id,
                "danger_now": True,
                "narrative": "Caller says a man with a gun is walking toward the school now.",
            },
            now=now,
        )
        report = intake_service.receive(
            session, data=data, source=intake_service.Source(actor=Actor.system("test")), now=now
        )
        session.commit()
        report_id = report.id
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DEFCHAIN_DEMO": "1", "DEFCHAIN_DATABASE_URL": cli.url}
    command = [sys.executable, "-m", "defchain.cli.main", "serve", "--port", str(port)]
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            priority = None
            while time.monotonic() < deadline:
                with cli.session() as session:
                    stored = session.get(Report, report_id)
                    assert stored is not None
                    if stored.processed_at is not None:
                        priority = stored.priority
                        break
                time.sleep(0.3)
        finally:
            server.terminate()
            server.wait(timeout=30)
    assert priority == "P1", log.read_text()[-2000:]
    # Stopping serve stops its chain process too.
    deadline = time.monotonic() + 10
    while _chain_processes(cli.url) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _chain_processes(cli.url) == []


def _chain_processes(database_url: str) -> list[int]:
    """Live ``defchain.chain.runner`` processes serving this database."""
    from pathlib import Path

    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if b"defchain.chain.runner" in cmdline and database_url.encode() in environ:
            found.append(int(proc.name))
    return found
