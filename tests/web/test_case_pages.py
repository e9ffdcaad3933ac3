"""The case pages: the list, opening a case from a person or a report, a case's page,
and adding and completing tasks and notes through the web."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from defchain import cases
from defchain.cases import Case, CaseTask
from defchain.people import Person, ReportLink
from tests.conftest import receive_public_tip
from tests.web.conftest import field_errors
from tests.web.test_people_pages import main_text


@pytest.fixture
def case(db: Session, cast: Any, clock: Any) -> Case:
    """Agency A's case on team T, led by lead_a, with an open task for member_b."""
    opened = cases.open_case(
        db, cast.actor("lead_a"), title="Threats at the game", team_id=cast.team.id,
        now=clock.now(),
    )  # fmt: skip
    cases.add_task(
        db, cast.actor("lead_a"), opened, kind="weapons_access_check", title="Ask about guns",
        owner_user_id=cast.member_b.id, due_at=clock.now() - timedelta(hours=1),
        now=clock.now(),
    )  # fmt: skip
    return opened


def case_count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Case)) or 0


def test_the_lead_sees_the_list_and_the_case_page(browser_for: Any, cast: Any, case: Case) -> None:
    client = browser_for(cast.lead_a.id)
    listing = client.get("/cases")
    assert listing.status_code == 200
    assert f'href="/cases/{case.id}"' in listing.text and 'href="/cases"' in listing.text
    assert "1 overdue" in main_text(listing.text)
    page = client.get(f"/cases/{case.id}")
    assert page.status_code == 200
    text = main_text(page.text)
    assert "Threats at the game" in text and "Lead Lead A" in text and "Team T" in text
    assert "Not assessed yet" in text
    assert "Weapons access check" in text and "Ask about guns" in text and "Overdue" in text
    assert f'action="/cases/{case.id}/tasks"' in page.text
    assert f'action="/cases/{case.id}/notes"' in page.text


def test_outsiders_do_not_find_the_case(browser_for: Any, cast: Any, case: Case) -> None:
    client = browser_for(cast.user_c.id)
    assert f'href="/cases/{case.id}"' not in client.get("/cases").text
    assert client.get(f"/cases/{case.id}").status_code == 404
    response = client.form(f"/cases/{case.id}/notes", {"body": "Let me in"})
    assert response.status_code == 404
    assert browser_for(cast.auditor.id).get(f"/cases/{case.id}").status_code == 403


def test_a_case_opened_from_a_report_takes_its_person(
    browser_for: Any, cast: Any, db: Session, clock: Any
) -> None:
    report = receive_public_tip(db, cast, clock, narrative="He showed a gun in class")
    jayden = Person(display_name="Jayden Example", created_at=clock.now())
    db.add(jayden)
    db.flush()
    db.add(
        ReportLink(
            report_id=report.id, person_id=jayden.id, decided_by="person", created_at=clock.now()
        )
    )
    db.flush()
    client = browser_for(cast.analyst_a.id)
    assert f'href="/cases/new?report_id={report.id}"' in client.get(f"/reports/{report.id}").text
    form = client.get(f"/cases/new?report_id={report.id}")
    assert form.status_code == 200 and f'name="report_ids" value="{report.id}"' in form.text
    response = client.form(
        "/cases/new",
        {"title": "Gun in class", "lead_user_id": str(cast.analyst_a.id),
         "report_ids": str(report.id)},
    )  # fmt: skip
    assert response.status_code == 303
    opened = db.scalars(select(Case)).one()
    assert response.headers["location"] == f"/cases/{opened.id}"
    assert [p.id for p in cases.subjects_of(db, opened)] == [jayden.id]
    person_page = client.get(f"/people/{jayden.id}")
    assert f'href="/cases/{opened.id}"' in person_page.text
    assert f'href="/cases/new?person_id={jayden.id}"' in person_page.text


def test_the_person_page_lists_only_cases_the_actor_may_see(
    browser_for: Any, cast: Any, db: Session, clock: Any
) -> None:
    jayden = Person(display_name="Jayden Example", created_at=clock.now())
    db.add(jayden)
    db.flush()
    at_c = cases.open_case(
        db, cast.actor("user_c"), title="Agency C matter", person_ids=[jayden.id],
        now=clock.now(),
    )  # fmt: skip
    page = browser_for(cast.lead_a.id).get(f"/people/{jayden.id}")
    assert page.status_code == 200
    assert f'href="/cases/{at_c.id}"' not in page.text and "No case you may see" in page.text
    assert (
        f'href="/cases/{at_c.id}"' in browser_for(cast.user_c.id).get(f"/people/{jayden.id}").text
    )


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"title": ""}, "title", "Title: is required"),
        ({"title": "X", "team_id": "{team}"}, "team_id", "Team: choose one of your teams"),
        ({"title": "X", "lead_user_id": "{user_c}"}, "lead_user_id", "Lead: User C cannot work"),
        ({"title": "X", "lead_user_id": "nobody"}, "lead_user_id", "Lead: "),
    ],
)
def test_bad_input_names_the_field_and_saves_nothing(
    browser_for: Any, cast: Any, db: Session, data: dict[str, str], field: str, message: str
) -> None:
    ids = {"team": cast.team.id, "user_c": cast.user_c.id}
    payload = {k: v.format(**ids) for k, v in data.items()}
    response = browser_for(cast.analyst_a.id).form("/cases/new", payload)
    assert response.status_code == 422
    assert any(e.startswith(message) for e in field_errors(response.text)), field_errors(
        response.text
    )
    assert f'id="{field}-error"' in response.text
    assert case_count(db) == 0


def test_a_task_is_added_and_done_only_with_an_outcome(
    browser_for: Any, cast: Any, db: Session, case: Case
) -> None:
    client = browser_for(cast.member_b.id)
    added = client.form(
        f"/cases/{case.id}/tasks",
        {"kind": "interview", "title": "Talk to the coach",
         "owner_user_id": str(cast.member_b.id), "due_on": "2026-01-09"},
    )  # fmt: skip
    assert added.status_code == 303
    task = db.scalars(select(CaseTask).where(CaseTask.title == "Talk to the coach")).one()
    # Due at the end of the day in the case's time zone (America/New_York).
    assert task.due_at.isoformat() == "2026-01-10T04:59:00+00:00"
    refused = client.form(f"/cases/{case.id}/tasks/{task.id}/done", {"outcome": "  "})
    assert refused.status_code == 422
    assert "Outcome: is required" in field_errors(refused.text)
    db.refresh(task)
    assert task.status == "open"
    done = client.form(f"/cases/{case.id}/tasks/{task.id}/done", {"outcome": "He is fine."})
    assert done.status_code == 303
    db.refresh(task)
    assert (task.status, task.outcome) == ("done", "He is fine.")
    again = client.form(f"/cases/{case.id}/tasks/{task.id}/done", {"outcome": "Again"})
    assert again.status_code == 409


def test_a_bad_task_names_the_field(browser_for: Any, cast: Any, db: Session, case: Case) -> None:
    response = browser_for(cast.lead_a.id).form(
        f"/cases/{case.id}/tasks",
        {"kind": "interview", "title": "X", "owner_user_id": str(cast.user_c.id),
         "due_on": "not a date"},
    )  # fmt: skip
    assert response.status_code == 422
    assert any(e.startswith("Due on:") for e in field_errors(response.text))
    assert len(cases.tasks_of(db, case)) == 1


def test_a_task_of_another_case_is_not_found(
    browser_for: Any, cast: Any, db: Session, clock: Any, case: Case
) -> None:
    other = cases.open_case(db, cast.actor("lead_a"), title="Other", now=clock.now())
    task = cases.tasks_of(db, case)[0]
    response = browser_for(cast.lead_a.id).form(
        f"/cases/{other.id}/tasks/{task.id}/done", {"outcome": "Wrong case"}
    )
    assert response.status_code == 404


def test_a_labelled_note_is_hidden_from_an_uncleared_user(
    browser_for: Any, cast: Any, db: Session, case: Case
) -> None:
    cast.lead_a.clearances = ["health"]
    db.flush()
    lead = browser_for(cast.lead_a.id)
    form = lead.get(f"/cases/{case.id}").text
    assert 'name="labels" value="health"' in form and 'value="cji"' not in form
    posted = lead.form(
        f"/cases/{case.id}/notes", {"body": "In treatment since May.", "labels": "health"}
    )
    assert posted.status_code == 303
    assert "In treatment since May." in lead.get(f"/cases/{case.id}").text
    member_page = browser_for(cast.member_b.id).get(f"/cases/{case.id}").text
    assert "In treatment since May." not in member_page
    assert "1 withheld" in main_text(member_page)
    assert 'name="labels"' not in member_page  # member_b holds no clearance to apply


def test_a_label_one_is_not_cleared_for_is_refused(
    browser_for: Any, cast: Any, db: Session, case: Case
) -> None:
    response = browser_for(cast.member_b.id).form(
        f"/cases/{case.id}/notes", {"body": "Criminal history", "labels": "cji"}
    )
    assert response.status_code == 422
    assert any(e.startswith("Labels: you are not cleared") for e in field_errors(response.text))
    assert cases.notes_visible(db, cast.actor("admin"), case) == []
