"""The case page's timeline and the export pages: the form, refusals naming each field,
the PDF download and the print view, each recorded as a disclosure."""

from __future__ import annotations

import io
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from defchain import cases
from defchain.audit import AuditEvent
from defchain.cases import Case
from defchain.cases.models import Disclosure
from tests.web.conftest import field_errors
from tests.web.test_people_pages import main_text

SECRET = "Sees a psychiatrist weekly."


@pytest.fixture
def case(db: Session, cast: Any, clock: Any) -> Case:
    """Agency A's case on team T with a plain note and a health note (lead_a is cleared)."""
    cast.lead_a.clearances = ["health"]
    db.flush()
    lead = cast.actor("lead_a")
    opened = cases.open_case(
        db, lead, title="Threats at the game", team_id=cast.team.id, now=clock.now()
    )
    cases.add_note(db, lead, opened, body="Spoke to the coach.", now=clock.now())
    cases.add_note(db, lead, opened, body=SECRET, labels=["health"], now=clock.now())
    return opened


def disclosures(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Disclosure)) or 0


def test_the_case_page_shows_the_timeline(browser_for: Any, cast: Any, case: Case) -> None:
    page = browser_for(cast.member_b.id).get(f"/cases/{case.id}")
    assert page.status_code == 200
    assert 'id="timeline"' in page.text and 'id="case-timeline"' in page.text
    assert "A note you are not cleared to read" in page.text
    assert "psychiatrist" not in page.text
    assert f'href="/cases/{case.id}/export"' in page.text
    cleared = browser_for(cast.lead_a.id).get(f"/cases/{case.id}").text
    assert "Note [health]" in cleared and "A note you are not cleared to read" not in cleared


def test_the_export_form_offers_the_labels_one_is_cleared_for(
    browser_for: Any, cast: Any, case: Case
) -> None:
    lead = browser_for(cast.lead_a.id).get(f"/cases/{case.id}/export")
    assert lead.status_code == 200
    assert (
        'name="labels" value="health"' in lead.text and 'name="labels" value="cji"' not in lead.text
    )
    member = browser_for(cast.member_b.id).get(f"/cases/{case.id}/export")
    assert 'name="labels"' not in member.text
    assert "You hold no clearance" in main_text(member.text)


def test_a_refused_export_names_each_field_and_discloses_nothing(
    browser_for: Any, cast: Any, case: Case, db: Session
) -> None:
    client = browser_for(cast.lead_a.id)
    response = client.form(
        f"/cases/{case.id}/export", {"recipient": "", "purpose": "", "form": "pdf"}
    )
    assert response.status_code == 422
    errors = field_errors(response.text)
    assert any(e.startswith("Recipient:") for e in errors)
    assert any(e.startswith("Purpose:") for e in errors)
    assert disclosures(db) == 0


def test_the_pdf_is_a_download_recorded_as_a_disclosure(
    browser_for: Any, cast: Any, case: Case, db: Session
) -> None:
    form = {"recipient": "Principal Ortiz", "purpose": "Safety plan at school", "form": "pdf"}
    response = browser_for(cast.lead_a.id).form(f"/cases/{case.id}/export", form)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.content.startswith(b"%PDF")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    assert "Threats at the game" in text and SECRET not in text  # health not chosen
    (row,) = db.scalars(select(Disclosure)).all()
    assert (row.form, row.recipient, row.labels_included) == ("pdf", "Principal Ortiz", [])
    tags = db.scalars(select(AuditEvent.tag).where(AuditEvent.subject_id == str(case.id)))
    assert "cases:case:disclosed" in list(tags)


def test_the_print_view_shows_the_chosen_labels(
    browser_for: Any, cast: Any, case: Case, db: Session
) -> None:
    form = {
        "recipient": "Dr. Reyes",
        "purpose": "Care coordination",
        "form": "print",
        "labels": "health",
    }
    response = browser_for(cast.lead_a.id).form(f"/cases/{case.id}/export", form)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert '<link rel="stylesheet" href="/static/print.css">' in response.text
    assert SECRET in response.text and "Confidential: disclosed to Dr. Reyes" in response.text
    (row,) = db.scalars(select(Disclosure)).all()
    assert (row.form, row.labels_included) == ("print", ["health"])


def test_one_may_not_include_a_label_one_is_not_cleared_for(
    browser_for: Any, cast: Any, case: Case, db: Session
) -> None:
    form = {"recipient": "Someone", "purpose": "Because", "form": "print", "labels": "health"}
    response = browser_for(cast.member_b.id).form(f"/cases/{case.id}/export", form)
    assert response.status_code == 422
    assert any(e.startswith("Labels to include:") for e in field_errors(response.text))
    assert SECRET not in response.text and disclosures(db) == 0


def test_outsiders_cannot_export(browser_for: Any, cast: Any, case: Case, db: Session) -> None:
    client = browser_for(cast.user_c.id)
    assert client.get(f"/cases/{case.id}/export").status_code == 404
    form = {"recipient": "Me", "purpose": "Curiosity", "form": "pdf"}
    assert client.form(f"/cases/{case.id}/export", form).status_code == 404
    assert disclosures(db) == 0
