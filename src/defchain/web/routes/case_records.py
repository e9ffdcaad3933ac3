"""The case page's timeline, and the case summary as PDF and print view (each export
audited as a disclosure)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from defchain.access import LABEL_DESCRIPTIONS, Actor, Agency, Label, Permission, load_for
from defchain.cases import Case, CaseNote, export
from defchain.cases.timeline import KIND_TAGS, timeline
from defchain.web import report_forms as rf
from defchain.web.deps import Ctx, CurrentActor, Db, SubmittedForm, mark_rollback
from defchain.web.forms import form_values
from defchain.web.templating import render

router = APIRouter()
P = Permission
EXPORT_FIELDS = {
    "recipient": "Recipient",
    "purpose": "Purpose",
    "form": "Format",
    "labels": "Labels to include",
}


def context(db: Session, actor: Actor, case: Case) -> dict[str, Any]:
    """What this module adds to the case page's template context: the timeline."""
    return {"timeline": timeline(db, actor, case), "TIMELINE_TAGS": KIND_TAGS}


def _label_choices(actor: Actor) -> list[tuple[str, str]]:
    """The labels the actor is cleared for, as (value, description) choices."""
    return [(lb.value, LABEL_DESCRIPTIONS[lb]) for lb in Label if lb.value in actor.clearances]


def _export_page(
    request: Request,
    db: Session,
    actor: Actor,
    case: Case,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
) -> Response:
    if errors:
        mark_rollback(request)
    labelled = db.scalars(select(CaseNote.labels).where(CaseNote.case_id == case.id)).all()
    context = {
        "case": case,
        "values": values,
        "errors": errors or {},
        "label_choices": _label_choices(actor),
        "labelled_notes": sum(1 for labels in labelled if labels),
        "FIELDS": EXPORT_FIELDS,
    }
    return render(request, "cases/export.html", context, status_code=422 if errors else 200)


@router.get("/cases/{case_id}/export")
def export_form(request: Request, db: Db, actor: CurrentActor, case_id: int) -> Response:
    """The export form: who receives the summary, why, in which format, which labels."""
    case = load_for(db, actor, "case", case_id, P.CASES_CASE_UPDATE)
    values = {"form": "pdf", "labels": []}
    return _export_page(request, db, actor, case, values)


@router.post("/cases/{case_id}/export")
def export_case(
    request: Request, db: Db, ctx: Ctx, actor: CurrentActor, case_id: int, submitted: SubmittedForm
) -> Response:
    """Record the disclosure, then hand out the PDF or show the print view."""
    case = load_for(db, actor, "case", case_id, P.CASES_CASE_UPDATE)
    values = form_values(submitted, ("labels",))
    unknown = set(values) - set(EXPORT_FIELDS)
    if unknown:
        errors = {k: "is not a field of this form" for k in sorted(unknown)}
        return _export_page(request, db, actor, case, values, errors)
    now = ctx.clock.now()
    try:
        export.record_disclosure(
            db, actor, case, form=values.get("form", ""), recipient=values.get("recipient", ""),
            purpose=values.get("purpose", ""), labels_included=values["labels"], now=now,
        )  # fmt: skip
    except export.DisclosureRefused as exc:
        return _export_page(request, db, actor, case, values, exc.errors)
    data = export.summary(db, actor, case, now=now, labels=values["labels"])
    if values["form"] == "pdf":
        return Response(
            export.case_pdf(data),
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'attachment; filename="case-{case.id}-summary.pdf"',
                "X-Content-Type-Options": "nosniff",
            },
        )
    agency = db.get(Agency, case.agency_id)
    tz = rf.zone(agency.jurisdiction.timezone if agency else None)

    def local(moment: datetime | None) -> str:
        return rf.local_time(moment, tz) or "-"

    context = {
        "data": data,
        "facts": export.facts(data, local),
        "left_out": export.withheld_lines(data),
        "recipient": " ".join(values.get("recipient", "").split()),
        "local": local,
    }
    return render(request, "cases/print.html", context)
