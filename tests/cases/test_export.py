"""The case summary export: what may be disclosed (clearances, chosen labels, reports
the actor may open), the PDF, and the disclosure on record."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from defchain import cases
from defchain.audit import AuditEvent
from defchain.cases import Case, export
from defchain.cases.models import Disclosure
from defchain.clock import FrozenClock
from defchain.errors import PermissionDenied
from tests.conftest import Cast, receive_public_tip

SECRET = "Sees a psychiatrist weekly."


@pytest.fixture
def case(db: Session, cast: Cast, clock: FrozenClock) -> Case:
    """Agency A's case on team T with a tip, a plain note and a health note by lead_a
    (cleared for health)."""
    cast.lead_a.clearances = ["health"]
    db.flush()
    lead = cast.actor("lead_a")
    opened = cases.open_case(
        db, lead, title="Threats at the game", summary="Posts about the game.",
        team_id=cast.team.id, now=clock.now(),
    )  # fmt: skip
    report = receive_public_tip(db, cast, clock, narrative="He said he would bring a gun")
    cases.add_report(db, lead, opened, report_id=report.id, now=clock.now())
    cases.add_note(db, lead, opened, body="Spoke to the coach.", now=clock.now())
    cases.add_note(db, lead, opened, body=SECRET, labels=["health"], now=clock.now())
    return opened


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_a_cleared_actor_discloses_the_labelled_note(
    db: Session, cast: Cast, clock: FrozenClock, case: Case
) -> None:
    data = export.summary(db, cast.actor("lead_a"), case, now=clock.now())
    assert [n.text for n in data.notes] == ["Spoke to the coach.", SECRET]
    assert data.labels_included == ["health"] and data.withheld_notes == 0
    assert [r.text for r in data.reports] == ["He said he would bring a gun"]

    pdf = export.case_pdf(data)

    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf)
    assert f"Case #{case.id}: Threats at the game" in text
    assert SECRET in text and "He said he would bring a gun" in text


def test_an_uncleared_actor_leaves_it_out(
    db: Session, cast: Cast, clock: FrozenClock, case: Case
) -> None:
    data = export.summary(db, cast.actor("member_b"), case, now=clock.now())  # agency B
    assert [n.text for n in data.notes] == ["Spoke to the coach."]
    assert data.withheld_notes == 1 and data.labels_included == []
    assert data.reports == [] and data.withheld_reports == 1  # agency A's tip

    text = pdf_text(export.case_pdf(data))

    assert "Threats at the game" in text and "Spoke to the coach." in text
    assert "psychiatrist" not in text and "bring a gun" not in text
    assert "Notes left out (labelled, not cleared or not chosen): 1." in text


def test_a_cleared_actor_may_choose_to_leave_a_label_out(
    db: Session, cast: Cast, clock: FrozenClock, case: Case
) -> None:
    data = export.summary(db, cast.actor("lead_a"), case, now=clock.now(), labels=[])
    assert [n.text for n in data.notes] == ["Spoke to the coach."] and data.withheld_notes == 1
    assert SECRET not in pdf_text(export.case_pdf(data))


def test_text_the_core_font_cannot_draw_is_replaced(
    db: Session, cast: Cast, clock: FrozenClock, case: Case
) -> None:
    case.title = "Threats \u2014 \u201cthe game\u201d \u0141\u00f3d\u017a \U0001f52b"
    data = export.summary(db, cast.actor("lead_a"), case, now=clock.now())
    text = pdf_text(export.case_pdf(data))
    assert 'Threats - "the game" ?\u00f3d? ?' in text


def test_the_disclosure_is_recorded_and_audited(
    db: Session, cast: Cast, clock: FrozenClock, case: Case
) -> None:
    row = export.record_disclosure(
        db, cast.actor("lead_a"), case, form="pdf", recipient="  Principal Ortiz, Lincoln HS ",
        purpose="Safety plan at school", labels_included=["health"], now=clock.now(),
    )  # fmt: skip
    assert db.scalars(select(Disclosure)).all() == [row]
    assert (row.case_id, row.form, row.user_id) == (case.id, "pdf", cast.lead_a.id)
    assert (row.recipient, row.labels_included) == ("Principal Ortiz, Lincoln HS", ["health"])
    (event,) = db.scalars(select(AuditEvent).where(AuditEvent.tag == "cases:case:disclosed"))
    assert event.subject_type == "case" and event.subject_id == str(case.id)
    assert event.changes["recipient"] == [None, "Principal Ortiz, Lincoln HS"]
    assert event.changes["purpose"] == [None, "Safety plan at school"]
    assert event.changes["labels_included"] == [None, ["health"]]


def test_each_missing_field_is_named(
    db: Session, cast: Cast, clock: FrozenClock, case: Case
) -> None:
    with pytest.raises(export.DisclosureRefused) as caught:
        export.record_disclosure(
            db, cast.actor("member_b"), case, form="docx", recipient=" ", purpose="",
            labels_included=["health"], now=clock.now(),
        )  # fmt: skip
    assert set(caught.value.errors) == {"form", "recipient", "purpose", "labels"}
    assert "not cleared" in caught.value.errors["labels"]
    assert db.scalars(select(Disclosure)).all() == []


def test_someone_who_may_not_work_the_case_discloses_nothing(
    db: Session, cast: Cast, clock: FrozenClock, case: Case
) -> None:
    with pytest.raises(PermissionDenied):
        export.record_disclosure(
            db, cast.actor("user_c"), case, form="pdf", recipient="Someone",
            purpose="Curiosity", labels_included=[], now=clock.now(),
        )  # fmt: skip
    with pytest.raises(PermissionDenied):
        export.summary(db, cast.actor("user_c"), case, now=clock.now())
