"""``defchain agency add``."""

from __future__ import annotations

import shlex

from sqlalchemy import select

from defchain.access import Agency, Jurisdiction
from tests.cli.conftest import Seeded


def test_agency_add_by_jurisdiction_name(seeded: Seeded) -> None:
    with seeded.cli.session() as session:
        county = session.scalars(select(Jurisdiction.name)).one()

    result = seeded.cli.sh(
        """agency add "Harbor Sheriff's Office (demo)" --kind sheriff """
        f"--jurisdiction {shlex.quote(county.upper())} --email desk@sheriff.example.org"
    )

    assert result.exit_code == 0, result.output
    with seeded.cli.session() as session:
        agency = session.scalars(
            select(Agency).where(Agency.name == "Harbor Sheriff's Office (demo)")
        ).one()
    assert (agency.kind, agency.email) == ("sheriff", "desk@sheriff.example.org")


def test_agency_add_with_a_bad_email_names_the_field(seeded: Seeded) -> None:
    result = seeded.cli.sh(
        "agency add 'Harbor Sheriff' --kind sheriff --jurisdiction 1 --email nope"
    )

    assert result.exit_code == 2
    assert "email" in result.output
    assert seeded.cli.count(Agency) == 3


def test_agency_add_in_an_unknown_jurisdiction_is_refused(seeded: Seeded) -> None:
    result = seeded.cli.sh("agency add 'Harbor Sheriff' --kind sheriff --jurisdiction Atlantis")

    assert result.exit_code == 2
    assert "jurisdiction" in result.output
    assert seeded.cli.count(Agency) == 3
