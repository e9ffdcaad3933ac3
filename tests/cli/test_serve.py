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
