"""``defchain people import | match | link-pending``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from defchain.people import Identifier, Person
from defchain.people import service as people_service
from tests.cli.conftest import Cli
from tests.people.test_service import MODEL

EXAMPLES = Path(__file__).parents[2] / "docs" / "formats" / "examples"


@pytest.fixture
def ready(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setattr(people_service, "default_model", lambda: MODEL)
    assert cli.sh("init").exit_code == 0
    return cli


def test_the_example_persons_import_and_an_invalid_value_is_reported_and_kept(
    ready: Cli,
) -> None:
    result = ready.run("people", "import", str(EXAMPLES / "persons.csv"))
    assert result.exit_code == 0, result.output
    assert "Imported 3 person(s)" in result.output
    assert "line 4: phone: not a phone number" in result.output
    assert ready.count(Person) == 3
    with ready.session() as session:
        bad = session.query(Identifier).filter(Identifier.value == "not a phone").one()
        assert bad.normalized == "" and bad.detail["invalid"]
        assert {i.value for i in session.query(Identifier).filter_by(kind="nickname")} == {
            "Jo",
            "Case",
            "CJ",
        }
    jsonl = ready.run("people", "import", str(EXAMPLES / "persons.jsonl"))
    assert jsonl.exit_code == 0 and ready.count(Person) == 5


def test_match_answers_one_line_per_row(ready: Cli, tmp_path: Path) -> None:
    assert ready.run("people", "import", str(EXAMPLES / "persons.csv")).exit_code == 0
    queries = tmp_path / "q.jsonl"
    queries.write_text(
        "\n".join(
            [
                json.dumps(
                    {"source_id": "Q1", "name": "JORDAN EXAMPLE", "date_of_birth": "2008-03-14"}
                ),
                json.dumps({"source_id": "Q2", "handle": "@caseyf"}),
                json.dumps({"source_id": "Q3", "name": "Nobody Known"}),
                "{not json",
            ]
        )
        + "\n"
    )
    out = tmp_path / "answers.jsonl"
    result = ready.run("people", "match", str(queries), "--out", str(out))
    assert result.exit_code == 0, result.output
    answers = [json.loads(line) for line in out.read_text().splitlines()]
    assert [a["source_id"] for a in answers[:3]] == ["Q1", "Q2", "Q3"]
    assert answers[0]["decision"] == "link" and answers[0]["person_id"] is not None
    assert answers[0]["weights"]["dob"] > 0 and answers[0]["weights"]["phone"] == 0
    assert answers[1]["person_id"] is not None
    assert answers[2]["decision"] == "new"
    assert "error" in answers[3]


def test_a_file_of_another_type_is_refused(ready: Cli, tmp_path: Path) -> None:
    other = tmp_path / "persons.txt"
    other.write_text("name\nA B\n")
    result = ready.run("people", "import", str(other))
    assert result.exit_code == 2 and "must end in .csv or .jsonl" in result.output


def test_rebuild_keys_restores_a_persons_keys(ready: Cli) -> None:
    from sqlalchemy import delete

    from defchain.people import BlockingKey

    assert ready.run("people", "import", str(EXAMPLES / "persons.jsonl")).exit_code == 0
    before = ready.count(BlockingKey)
    with ready.session() as session:
        session.execute(delete(BlockingKey))
        session.commit()
    result = ready.run("people", "rebuild-keys")
    assert result.exit_code == 0 and "Rebuilt the blocking keys of 2 person(s)" in result.output
    assert ready.count(BlockingKey) == before > 0


def test_train_writes_a_model_that_loads(ready: Cli, tmp_path: Path) -> None:
    from defchain.people.model import load_model
    from defchain.people.rules import LEVELS

    out = tmp_path / "model.json"
    result = ready.run(
        "people", "train", "--persons", "1000", "--holdout", "2000", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    assert "Trained on" in result.output and str(out) in result.output.replace("\n", "")
    model = load_model(out)
    assert 0 < model.prior < 1 and model.review_threshold < model.link_threshold
    assert set(model.m) == {str(f) for f in LEVELS}
    assert model.weight("surname", "exact") > 0 > model.weight("surname", "else")


def test_match_reports_an_invalid_value_even_when_nobody_matches(
    ready: Cli, tmp_path: Path
) -> None:
    queries = tmp_path / "q.jsonl"
    queries.write_text(json.dumps({"name": "Nobody Known", "phone": "12"}) + "\n")
    out = tmp_path / "a.jsonl"
    assert ready.run("people", "match", str(queries), "--out", str(out)).exit_code == 0
    answer = json.loads(out.read_text())
    assert answer["decision"] == "new" and answer["invalid"][0].startswith("phone:")
