"""A new installation is set up from the command line alone, before anyone can sign in."""

from __future__ import annotations

from sqlalchemy import select

from defchain.access import Jurisdiction, User
from defchain.access.security import verify_password
from tests.cli.conftest import Cli

PASSWORD = "first admin passphrase 2026"


def test_fresh_install_bootstraps_its_first_administrator(cli: Cli) -> None:
    assert cli.run("init").exit_code == 0
    steps = [
        "jurisdiction add 'Example County (fictitious)' --state oh --timezone America/New_York"
        " --county Example",
        "agency add 'Example Police Department (fictitious)' --kind police"
        " --jurisdiction 'Example County (fictitious)'",
        "user add first.admin --name 'First Admin' --agency 1 --role admin --password-stdin",
    ]
    for step in steps:
        result = cli.sh(step, input=PASSWORD + "\n")
        assert result.exit_code == 0, f"{step}: {result.output}"
    with cli.session() as session:
        place = session.scalars(select(Jurisdiction)).one()
        admin = session.scalars(select(User)).one()
        assert (place.state, place.county) == ("OH", "Example")
        assert admin.roles == ["admin"]
        assert verify_password(PASSWORD, admin.password_hash)
    assert cli.run("audit", "verify").exit_code == 0


def test_jurisdiction_add_refuses_a_bad_state_and_time_zone(cli: Cli) -> None:
    assert cli.run("init").exit_code == 0
    result = cli.sh("jurisdiction add 'Nowhere' --state ZZ --timezone Mars/Base")
    assert result.exit_code == 2
    assert "state" in result.output
    assert cli.count(Jurisdiction) == 0
