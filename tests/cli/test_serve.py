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
