"""``defchain init`` and ``defchain db upgrade``."""

from __future__ import annotations

from sqlalchemy import inspect

from defchain import migrate
from tests.cli.conftest import Cli


def test_init_creates_the_folder_and_every_table(cli: Cli) -> None:
    assert not cli.path.parent.exists()

    result = cli.run("init")

    assert result.exit_code == 0, result.output
    assert cli.path.is_file()
    tables = set(inspect(cli.engine).get_table_names())
    assert {
        "alembic_version",
        "jurisdictions",
        "agencies",
        "users",
        "teams",
        "team_memberships",
        "audit_events",
    } <= tables
    head = migrate.head_revision()
    assert migrate.current_revision(cli.engine) == head
    assert f"revision {head}" in result.output


def test_init_twice_says_the_database_is_already_current(cli: Cli) -> None:
    cli.run("init")

    result = cli.run("init")

    assert result.exit_code == 0, result.output
    assert "already at revision" in result.output


def test_db_upgrade_to_an_unknown_revision_is_refused(cli: Cli) -> None:
    result = cli.run("db", "upgrade", "no-such-revision")

    assert result.exit_code == 2
    assert "revision" in result.output
    assert "no-such-revision" in result.output


def test_commands_refuse_a_database_that_was_never_created(cli: Cli) -> None:
    result = cli.run("audit", "verify")

    assert result.exit_code == 2
    assert "defchain init" in result.output
    assert not cli.path.exists()


def test_an_unreachable_database_is_one_line_and_exit_1(cli: Cli, monkeypatch) -> None:
    monkeypatch.setenv("DEFCHAIN_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")

    result = cli.run("init")

    assert result.exit_code == 1
    assert result.output.startswith("Error: database postgresql+psycopg://nobody@127.0.0.1:1/")
    assert "Traceback" not in result.output
