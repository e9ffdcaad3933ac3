"""Helpers for the command-line tests: a private SQLite file per test and a runner.

The commands open their own engine from ``DEFCHAIN_DATABASE_URL`` and commit, so these
tests cannot use the rolled-back ``db`` session of ``tests/conftest.py``; each test gets
its own database file in ``tmp_path`` instead (on every backend run: the commands'
PostgreSQL behaviour is the services', tested elsewhere).
"""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from defchain.cli.main import app
from defchain.db import make_engine

# Every variable the commands read; the tests set what they need and nothing leaks in.
DEFCHAIN_VARS = (
    "DEFCHAIN_DATABASE_URL",
    "DEFCHAIN_DEMO",
    "DEFCHAIN_SECRET_KEY",
    "DEFCHAIN_HOST",
    "DEFCHAIN_PORT",
)


@dataclass
class Cli:
    """One test's database and a way to run ``defchain`` against it."""

    url: str
    path: Path
    engine: Engine

    def run(self, *args: str, input: str | None = None) -> Result:
        """Run ``defchain ARGS`` in-process, as a person at a terminal would."""
        return CliRunner().invoke(app, list(args), input=input)

    def sh(self, command: str, input: str | None = None) -> Result:
        """Run a command line written as one string, e.g. ``"user disable 'a b'"``."""
        return self.run(*shlex.split(command), input=input)

    def session(self) -> Session:
        """A session for reading what the commands wrote (use it in a ``with``)."""
        return Session(self.engine)

    def count(self, model: Any) -> int:
        with self.session() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _isolate_environment(monkeypatch: pytest.MonkeyPatch, path: Path) -> str:
    for name in DEFCHAIN_VARS:
        # setenv first so that teardown restores the variable to "absent" even if a
        # command under test sets it (``serve`` shares a demo key through os.environ).
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("DEFCHAIN_DATABASE_URL", url)
    monkeypatch.setenv("COLUMNS", "200")  # keep Rich tables on one line per row
    return url


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    """A not-yet-created SQLite database under ``tmp_path/var`` and wide console output."""
    path = tmp_path / "var" / "cli.db"
    url = _isolate_environment(monkeypatch, path)
    engine = make_engine(url)
    try:
        yield Cli(url=url, path=path, engine=engine)
    finally:
        engine.dispose()


def demo_passwords(output: str) -> dict[str, str]:
    """``{username: password}`` from the table ``defchain demo`` prints."""
    passwords = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.split("│")]
        if len(cells) == 6 and cells[1].startswith("demo."):
            passwords[cells[1]] = cells[4]
    return passwords


@dataclass
class Seeded:
    """A database after ``defchain init`` and ``defchain demo``."""

    cli: Cli
    output: str
    passwords: dict[str, str]


@dataclass(frozen=True)
class _Template:
    path: Path
    output: str


@pytest.fixture(scope="session")
def _demo_template(tmp_path_factory: pytest.TempPathFactory) -> _Template:
    # Seeding hashes seven passwords with argon2; do it once per run and copy the file.
    path = tmp_path_factory.mktemp("cli-demo") / "var" / "demo.db"
    with pytest.MonkeyPatch.context() as monkeypatch:
        _isolate_environment(monkeypatch, path)
        runner = CliRunner()
        init = runner.invoke(app, ["init"])
        assert init.exit_code == 0, init.output
        result = runner.invoke(app, ["demo"])
        assert result.exit_code == 0, result.output
    # The commands disposed of their engines, so SQLite has folded the WAL into the file.
    assert not Path(f"{path}-wal").exists()
    return _Template(path=path, output=result.output)


@pytest.fixture
def seeded(cli: Cli, _demo_template: _Template) -> Seeded:
    """A private copy of the demo seed, as ``defchain init && defchain demo`` made it."""
    cli.path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_demo_template.path, cli.path)
    output = _demo_template.output
    return Seeded(cli=cli, output=output, passwords=demo_passwords(output))
