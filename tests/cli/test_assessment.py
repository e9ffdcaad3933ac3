"""``defchain assessment check|list``, and the demo's assessed case."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from defchain.assessment import Assessment
from defchain.assessment.instrument import default_instruments
from defchain.cases import Case, CaseTask
from tests.cli.conftest import Cli, Seeded

SHIPPED = Path(__file__).parents[2] / "src/defchain/assessment/instruments/dc-ta-1.yaml"


def test_check_accepts_a_shipped_instrument(cli: Cli) -> None:
    result = cli.run("assessment", "check", str(SHIPPED))
    assert result.exit_code == 0, result.output
    assert "OK DC-TA-1@1.0" in result.output


def test_check_names_the_element_that_refers_to_identity(cli: Cli, tmp_path: Path) -> None:
    text = SHIPPED.read_text().replace(
        "What first brought the person to attention?",
        "What is the person's religion?",
        1,
    )
    bad = tmp_path / "local.yaml"
    bad.write_text(text)
    result = cli.run("assessment", "check", str(bad))
    assert result.exit_code == 1
    assert '"reason_for_concern" prompt' in result.output
    assert "protected characteristic" in result.output


def test_check_refuses_a_missing_file(cli: Cli, tmp_path: Path) -> None:
    result = cli.run("assessment", "check", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 1
    assert "No such file" in result.output


def test_list_shows_every_installed_instrument(cli: Cli) -> None:
    result = cli.run("assessment", "list")
    assert result.exit_code == 0, result.output
    for key in default_instruments():
        assert key in result.output


def test_demo_has_a_case_assessed_twice_with_its_gap_tasks(seeded: Seeded) -> None:
    with seeded.cli.session() as session:
        case = session.scalars(select(Case)).one()
        levels = session.scalars(
            select(Assessment.concluded_level).order_by(Assessment.created_at)
        ).all()
        tasks = session.scalars(select(CaseTask).where(CaseTask.case_id == case.id)).all()
    assert levels == ["moderate", "high"]
    assert case.level_of_concern == "high"
    assert tasks and all(t.origin and t.origin.startswith("gap:DC-TA-1:") for t in tasks)
    assert any(t.status == "done" for t in tasks)  # answered by the reassessment
