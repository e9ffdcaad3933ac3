"""A case summary that leaves the system: what may be disclosed, as a PDF (fpdf2) or a
print view, and the disclosure on record (a ``Disclosure`` row and an audit event).

The summary holds only what the exporting actor may read and chose to include: a note
or report carrying a label the actor is not cleared for, or that was not chosen, is left
out (only counted); reports the actor may not open are left out; the tipster's details
never leave.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fpdf import FPDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from defchain import audit
from defchain.access import Actor, Agency, Label, Permission, Team, require
from defchain.cases.models import Case, CaseNote, CaseTask, Disclosure
from defchain.cases.queries import (
    hidden_report_count,
    reports_of,
    subjects_of,
    tasks_of,
    user_names,
)
from defchain.cases.rules import (
    CASE_STATUS_LABELS,
    LEVEL_OF_CONCERN_LABELS,
    TASK_KIND_LABELS,
    TASK_STATUS_LABELS,
    clean_text,
)
from defchain.errors import ValidationFailed
from defchain.intake import KIND_LABELS

P = Permission
FORMS = {"pdf": "PDF", "print": "Print view"}
MAX_RECIPIENT = 300
MAX_PURPOSE = 2000


@dataclass(frozen=True)
class Entry:
    """One dated line of the summary (a report, a task, a note)."""

    at: datetime
    heading: str
    text: str = ""
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class CaseSummary:
    """What the export shows, all plain values."""

    case_id: int
    title: str
    summary: str
    status: str
    level_of_concern: str
    pathway_stage: str
    last_assessed_at: datetime | None
    next_review_at: datetime | None
    agency: str
    team: str
    lead: str
    opened_at: datetime
    prepared_by: str
    prepared_at: datetime
    subjects: list[str] = field(default_factory=list)
    reports: list[Entry] = field(default_factory=list)
    tasks: list[Entry] = field(default_factory=list)
    notes: list[Entry] = field(default_factory=list)
    withheld_notes: int = 0
    withheld_reports: int = 0
    labels_included: list[str] = field(default_factory=list)


def _name(table: Mapping[Any, str], value: str | None, default: str = "") -> str:
    """The label of an enum value stored as text (the value itself when unknown)."""
    if not value:
        return default
    return {str(k): v for k, v in table.items()}.get(value, value)


def includable_labels(actor: Actor, wanted: Iterable[str] | None) -> frozenset[str]:
    """The labels whose notes and reports go out: those chosen (all the actor is cleared
    for when ``None``); a label the actor is not cleared for is refused."""
    if wanted is None:
        return frozenset(actor.clearances)
    chosen = set()
    for value in wanted:
        try:
            label = Label(value)
        except ValueError:
            raise ValidationFailed(f"labels: unknown label '{value}'", field="labels") from None
        if label.value not in actor.clearances:
            raise ValidationFailed(
                f"labels: you are not cleared for '{label.value}'", field="labels"
            )
        chosen.add(label.value)
    return frozenset(chosen)


def summary(
    session: Session,
    actor: Actor,
    case: Case,
    *,
    now: datetime,
    labels: Iterable[str] | None = None,
) -> CaseSummary:
    """What may be disclosed about the case by this actor, with notes and reports
    limited to ``labels`` (default: every label the actor is cleared for)."""
    require(actor, P.CASES_CASE_READ, case)
    allowed = includable_labels(actor, labels)
    readable = reports_of(session, actor, case)
    reports = [r for r in readable if set(r.labels) <= allowed]
    notes = session.scalars(
        select(CaseNote)
        .where(CaseNote.case_id == case.id)
        .order_by(CaseNote.created_at, CaseNote.id)
    ).all()
    shown = [n for n in notes if set(n.labels) <= allowed]
    tasks = tasks_of(session, case)
    names = user_names(
        session,
        [case.lead_user_id, *(n.author_user_id for n in shown), *(t.owner_user_id for t in tasks)],
    )
    return CaseSummary(
        **_case_facts(session, case),
        lead=names.get(case.lead_user_id, ""),
        prepared_by=actor.full_name,
        prepared_at=now,
        subjects=[p.display_name or f"Person #{p.id}" for p in subjects_of(session, case)],
        reports=[
            Entry(
                r.received_at,
                f"Report #{r.id}: {_name(KIND_LABELS, r.kind)}",
                r.narrative,
                tuple(r.labels),
            )
            for r in reports
        ],
        tasks=[_task_entry(t, names) for t in tasks],
        notes=[
            Entry(n.created_at, names.get(n.author_user_id or 0, "System"), n.body, tuple(n.labels))
            for n in shown
        ],
        withheld_notes=len(notes) - len(shown),
        withheld_reports=hidden_report_count(session, actor, case) + len(readable) - len(reports),
        labels_included=sorted(
            {*(lb for r in reports for lb in r.labels), *(lb for n in shown for lb in n.labels)}
        ),
    )


def _case_facts(session: Session, case: Case) -> dict[str, Any]:
    team = session.get(Team, case.team_id) if case.team_id else None
    agency = session.get(Agency, case.agency_id)
    return {
        "case_id": case.id,
        "title": case.title,
        "summary": case.summary,
        "status": _name(CASE_STATUS_LABELS, case.status),
        "level_of_concern": _name(LEVEL_OF_CONCERN_LABELS, case.level_of_concern, "Not assessed"),
        "pathway_stage": case.pathway_stage or "",
        "last_assessed_at": case.last_assessed_at,
        "next_review_at": case.next_review_at,
        "agency": agency.name if agency else "",
        "team": team.name if team else "",
        "opened_at": case.created_at,
    }


def _task_entry(task: CaseTask, names: dict[int, str]) -> Entry:
    kind = _name(TASK_KIND_LABELS, task.kind)
    status = _name(TASK_STATUS_LABELS, task.status)
    owner = names.get(task.owner_user_id, "")
    return Entry(task.due_at, f"{kind}: {task.title} ({status}, owner {owner})", task.outcome)


# --- the PDF -------------------------------------------------------------------------------------

# Core PDF fonts are Latin-1: common typography becomes its plain equivalent, anything
# else a question mark.
_PLAIN = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201c": '"', "\u201d": '"',
        "\u201e": '"', "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2026": "...",
        "\u2022": "*", "\u00a0": " ", "\u2009": " ", "\u200b": "", "\u2192": "->",
    }
)  # fmt: skip


def latin1(text: str) -> str:
    """``text`` as the PDF's core font can draw it."""
    plain = text.translate(_PLAIN)
    return plain.encode("latin-1", "replace").decode("latin-1")


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "-"


class _SummaryPdf(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=8)
        self.cell(0, 8, f"Confidential - page {self.page_no()}/{{nb}}", align="C")


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 13)
    pdf.multi_cell(0, 7, latin1(text), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)


def _para(pdf: FPDF, text: str, *, bold: bool = False) -> None:
    pdf.set_font("Helvetica", "B" if bold else "", 10)
    pdf.multi_cell(0, 5, latin1(text) or " ", new_x="LMARGIN", new_y="NEXT")


def _entries(pdf: FPDF, title: str, entries: list[Entry], empty: str) -> None:
    _heading(pdf, title)
    if not entries:
        _para(pdf, empty)
    for entry in entries:
        tags = "".join(f" [{label}]" for label in entry.labels)
        _para(pdf, f"{_when(entry.at)} - {entry.heading}{tags}", bold=True)
        if entry.text:
            _para(pdf, entry.text)
        pdf.ln(1)


def case_pdf(data: CaseSummary) -> bytes:
    """The summary as a PDF document."""
    pdf = _SummaryPdf(format="Letter")
    pdf.set_title(latin1(f"Case #{data.case_id}: {data.title}"))
    pdf.set_author(latin1(data.prepared_by))
    pdf.set_creator("Defense Chain")
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.multi_cell(
        0, 8, latin1(f"Case #{data.case_id}: {data.title}"), new_x="LMARGIN", new_y="NEXT"
    )
    _para(
        pdf,
        f"Confidential case summary prepared by {data.prepared_by} on {_when(data.prepared_at)}.",
    )
    _heading(pdf, "The case")
    for name, value in facts(data):
        _para(pdf, f"{name}: {value}")
    if data.summary:
        _para(pdf, data.summary)
    _heading(pdf, "Subjects")
    _para(pdf, ", ".join(data.subjects) or "None recorded.")
    _entries(pdf, "Reports", data.reports, "None included.")
    _entries(pdf, "Tasks", data.tasks, "None.")
    _entries(pdf, "Notes", data.notes, "None included.")
    _heading(pdf, "Left out")
    for line in withheld_lines(data):
        _para(pdf, line)
    return bytes(pdf.output())


def facts(
    data: CaseSummary, when: Callable[[datetime | None], str] = _when
) -> list[tuple[str, str]]:
    """The case's key facts as (name, value) pairs, for the PDF and the print view
    (``when`` writes a moment; UTC by default)."""
    return [
        ("Status", data.status),
        ("Level of concern", data.level_of_concern),
        ("Pathway stage", data.pathway_stage or "-"),
        ("Last assessed", when(data.last_assessed_at)),
        ("Next review", when(data.next_review_at)),
        ("Agency", data.agency),
        ("Team", data.team or "-"),
        ("Lead", data.lead),
        ("Opened", when(data.opened_at)),
    ]


def withheld_lines(data: CaseSummary) -> list[str]:
    """What the summary leaves out, in words (counts only, never content)."""
    labels = ", ".join(data.labels_included) or "none"
    return [
        f"Labels included: {labels}.",
        f"Notes left out (labelled, not cleared or not chosen): {data.withheld_notes}.",
        f"Reports left out (not readable or labels not chosen): {data.withheld_reports}.",
        "Tipster details are never included.",
    ]


# --- the disclosure on record -------------------------------------------------------------------


def record_disclosure(
    session: Session,
    actor: Actor,
    case: Case,
    *,
    form: str,
    recipient: str,
    purpose: str,
    labels_included: Iterable[str],
    now: datetime,
) -> Disclosure:
    """Record that a summary left the system: to whom, why, in which form and with which
    labels. Raises ``DisclosureRefused`` naming every bad field."""
    require(actor, P.CASES_CASE_UPDATE, case)
    errors: dict[str, str] = {}
    if form not in FORMS:
        errors["form"] = "choose PDF or print view"
    who = clean_text(recipient)
    if not who:
        errors["recipient"] = "say who receives the summary"
    elif len(who) > MAX_RECIPIENT:
        errors["recipient"] = f"at most {MAX_RECIPIENT} characters"
    why = clean_text(purpose)
    if len(why) < 5:
        errors["purpose"] = "say why it is disclosed (at least 5 characters)"
    elif len(why) > MAX_PURPOSE:
        errors["purpose"] = f"at most {MAX_PURPOSE} characters"
    try:
        labels = sorted(includable_labels(actor, labels_included))
    except ValidationFailed as exc:
        errors["labels"] = exc.message.removeprefix("labels: ")
        labels = []
    if errors:
        raise DisclosureRefused(errors)
    row = Disclosure(
        case_id=case.id, form=form, recipient=who, purpose=why, labels_included=labels,
        user_id=actor.user_id, at=now,
    )  # fmt: skip
    session.add(row)
    session.flush()
    audit.record_by(
        session, actor, tag="cases:case:disclosed", subject_type="case", subject_id=case.id,
        changes={
            "disclosure_id": [None, row.id],
            "form": [None, form],
            "recipient": [None, who],
            "purpose": [None, why],
            "labels_included": [None, labels],
        },
        at=now,
    )  # fmt: skip
    return row


class DisclosureRefused(ValidationFailed):
    """The export form is incomplete; ``errors`` names every bad field."""

    def __init__(self, errors: dict[str, str]) -> None:
        first = next(iter(errors))
        super().__init__(f"{first}: {errors[first]}", field=first)
        self.errors = dict(errors)
