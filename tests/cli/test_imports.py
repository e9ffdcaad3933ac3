"""``defchain import KIND FILE`` and ``defchain integration ...``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from defchain.audit import AuditEvent
from defchain.intake import Integration, Report
from tests.cli.conftest import Cli

EXAMPLES = Path(__file__).parents[2] / "docs" / "formats" / "examples"
DENIAL_HEADER = (
    "details.denied_at,details.transaction_number,details.denial_category,"
    "details.purchaser.name,details.dealer.name,details.agencies_notified"
)
GOOD_ROW = "2026-10-02T14:05:00Z,NTN-T-0001,felony_conviction,Pat Example,Example Guns,ATF;State"
FUTURE_ROW = "2099-10-02T14:05:00Z,NTN-T-0002,felony_conviction,Sam Sample,Example Guns,"
NO_NAME_ROW = "2026-10-03T14:05:00Z,NTN-T-0003,felony_conviction,,Example Guns,"


@pytest.fixture
def ready(cli: Cli) -> Cli:
    """A database with one jurisdiction, one police agency, an analyst and a team member."""
    for command in (
        "init",
        "jurisdiction add 'Example County' --state OH --timezone America/New_York",
        "agency add 'Example Police' --kind police --jurisdiction 'Example County'",
        "user add ana --name 'Ana Analyst' --agency 'Example Police' --role intake_analyst "
        "--password-stdin",
        "user add tom --name 'Tom Member' --agency 'Example Police' --role team_member "
        "--password-stdin",
    ):
        result = cli.sh(command, input="a long enough passphrase\n")
        assert result.exit_code == 0, (command, result.output)
    return cli


def denials(tmp_path: Path, *rows: str, name: str = "denials.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([DENIAL_HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def events(cli: Cli) -> int:
    return cli.count(AuditEvent)


# --- importing -----------------------------------------------------------------------------


def test_the_example_denials_import_from_csv_with_a_progress_bar(ready: Cli) -> None:
    result = ready.run(
        "import", "nics_denial", str(EXAMPLES / "nics_denials.csv"), "--agency", "Example Police"
    )
    assert result.exit_code == 0, result.output
    assert "3/3 rows" in result.output  # the progress bar, finished
    assert "Imported 3 nics_denial report(s)" in result.output
    with ready.session() as session:
        reports = session.scalars(select(Report).order_by(Report.id)).all()
        received = session.scalars(
            select(AuditEvent).where(AuditEvent.tag == "intake:report:received")
        ).all()
    assert [r.details["transaction_number"] for r in reports] == [
        "NTN-EXAMPLE-0001",
        "NTN-EXAMPLE-0002",
        "NTN-EXAMPLE-0003",
    ]
    first = reports[0]
    assert (first.channel, first.kind, first.labels) == ("import", "nics_denial", ["cji"])
    assert first.details["agencies_notified"] == ["ATF field office", "State Police"]
    assert first.subject["name"] == "Pat Example"
    assert first.created_by_user_id is None  # the operator has no user row
    assert len(received) == 3
    assert all(e.actor_label.startswith("cli:") for e in received)


@pytest.mark.parametrize(
    ("kind", "name", "rows"),
    [
        ("nics_denial", "nics_denials.jsonl", 2),
        ("tip", "tips.csv", 2),
        ("tip", "tips.jsonl", 2),
        ("sar", "sar.csv", 1),
    ],
)
def test_every_example_file_imports(ready: Cli, kind: str, name: str, rows: int) -> None:
    result = ready.run("import", kind, str(EXAMPLES / name), "--as", "ana")
    assert result.exit_code == 0, result.output
    assert f"Imported {rows} {kind} report(s)" in result.output
    with ready.session() as session:
        stored = session.scalars(select(Report)).all()
    assert len(stored) == rows
    assert {r.kind for r in stored} == {kind}
    assert {r.created_by_user_id for r in stored} != {None}  # recorded as ana's import


def test_a_bad_row_refuses_the_whole_file(ready: Cli, tmp_path: Path) -> None:
    before = events(ready)
    path = denials(tmp_path, GOOD_ROW, FUTURE_ROW, NO_NAME_ROW)
    result = ready.run("import", "nics_denial", str(path), "--agency", "1")
    assert result.exit_code == 2
    assert "line 3: details.denied_at: must not be in the future" in result.output
    assert "line 4: details.purchaser" in result.output and "required" in result.output
    assert "nothing was imported" in result.output
    assert ready.count(Report) == 0
    assert events(ready) == before
    assert not (tmp_path / "denials.rejects.csv").exists()


def test_skip_bad_imports_the_good_rows_and_writes_rejects(ready: Cli, tmp_path: Path) -> None:
    path = denials(tmp_path, FUTURE_ROW, GOOD_ROW, NO_NAME_ROW)
    result = ready.run("import", "nics_denial", str(path), "--agency", "1", "--skip-bad")
    assert result.exit_code == 0, result.output
    assert "Imported 1 nics_denial report(s)" in result.output
    assert "2 bad row(s) skipped" in result.output
    assert ready.count(Report) == 1
    rejects = tmp_path / "denials.rejects.csv"
    with rejects.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["line"], r["details.transaction_number"]) for r in rows] == [
        ("2", "NTN-T-0002"),
        ("4", "NTN-T-0003"),
    ]
    assert rows[0]["reason"] == "details.denied_at: must not be in the future"
    # Corrected, the rejects file imports as it is (line and reason are ignored).
    text = rejects.read_text(encoding="utf-8").replace("2099-", "2026-").replace(",,", ",Jo,", 1)
    rejects.write_text(text, encoding="utf-8")
    again = ready.run("import", "nics_denial", str(rejects), "--agency", "1")
    assert again.exit_code == 0, again.output
    assert ready.count(Report) == 3


def test_jsonl_rejects_keep_the_original_line(ready: Cli, tmp_path: Path) -> None:
    path = tmp_path / "tips.jsonl"
    lines = [
        json.dumps({"narrative": "Said he would bring a gun to the game."}),
        "{not json",
        json.dumps({"narrative": "", "subject": {"name": "X"}}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    target = tmp_path / "out" / "bad.jsonl"
    target.parent.mkdir()
    result = ready.run(
        "import", "tip", str(path), "--as", "ana", "--skip-bad", "--rejects", str(target)
    )
    assert result.exit_code == 0, result.output
    assert ready.count(Report) == 1
    rejected = [json.loads(line) for line in target.read_text().splitlines()]
    assert [(r["line"], r["raw"]) for r in rejected] == [(2, lines[1]), (3, lines[2])]
    assert rejected[0]["reason"].startswith("line: not valid JSON")
    assert rejected[1]["reason"] == "narrative: say what the person said or did"


def test_an_unknown_column_refuses_the_file_naming_it(ready: Cli, tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text(f"{DENIAL_HEADER},details.shoe_size\n{GOOD_ROW},44\n", encoding="utf-8")
    result = ready.run("import", "nics_denial", str(path), "--agency", "1")
    assert result.exit_code == 2
    assert "details.shoe_size" in result.output
    assert ready.count(Report) == 0


def test_who_imports_must_be_said_and_allowed(ready: Cli, tmp_path: Path) -> None:
    path = denials(tmp_path, GOOD_ROW)
    nobody = ready.run("import", "nics_denial", str(path))
    assert nobody.exit_code == 2 and "--agency" in nobody.output
    member = ready.run("import", "nics_denial", str(path), "--as", "tom")
    assert member.exit_code == 2, member.output
    unknown = ready.run("import", "nics_denial", str(path), "--as", "nobody")
    assert unknown.exit_code == 2 and "nobody" in unknown.output
    both = ready.run("import", "nics_denial", str(path), "--as", "ana", "--agency", "1")
    assert both.exit_code == 2
    assert ready.count(Report) == 0


def test_the_format_comes_from_the_extension_or_the_flag(ready: Cli, tmp_path: Path) -> None:
    path = denials(tmp_path, GOOD_ROW, name="denials.txt")
    unknown = ready.run("import", "nics_denial", str(path), "--agency", "1")
    assert unknown.exit_code == 2 and "--format" in unknown.output
    given = ready.run("import", "nics_denial", str(path), "--agency", "1", "--format", "csv")
    assert given.exit_code == 0, given.output
    assert ready.count(Report) == 1


# --- integrations --------------------------------------------------------------------------


def test_integration_add_list_disable(ready: Cli) -> None:
    added = ready.sh("integration add 'County Tip Line' --agency 'Example Police'")
    assert added.exit_code == 0, added.output
    tokens = [w for w in added.output.split() if w.startswith("dci_")]
    assert len(tokens) == 1 and len(tokens[0]) > 40
    listed = ready.sh("integration list")
    assert "County Tip Line" in listed.output and "active" in listed.output
    assert tokens[0] not in listed.output  # the token is shown once, never again
    again = ready.sh("integration add 'County Tip Line' --agency 1")
    assert again.exit_code == 2 and "already in use" in again.output
    disabled = ready.sh("integration disable 'County Tip Line'")
    assert disabled.exit_code == 0, disabled.output
    assert "disabled" in ready.sh("integration list").output
    with ready.session() as session:
        integration = session.scalars(select(Integration)).one()
        tags = session.scalars(
            select(AuditEvent.tag).where(AuditEvent.subject_type == "integration")
        ).all()
    assert not integration.active
    assert tags == ["intake:integration:created", "intake:integration:disabled"]
    assert ready.sh("integration disable 'No Such Line'").exit_code == 2


def test_integration_list_when_there_are_none(ready: Cli) -> None:
    result = ready.sh("integration list")
    assert result.exit_code == 0
    assert "No integrations yet" in result.output
