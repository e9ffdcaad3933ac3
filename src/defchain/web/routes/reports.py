"""Staff work on reports: a form per kind, the inbox, the report page and its actions."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from defchain import notify
from defchain.access import Actor, Agency, Jurisdiction, Permission, User, can, load_for, require
from defchain.errors import DomainError, NotFound, ValidationFailed
from defchain.firearms import service as firearm_followups
from defchain.intake import (
    CHANNEL_LABELS,
    KIND_LABELS,
    Attachment,
    Report,
    ReportInvalid,
    ReportKind,
    Status,
    parse_report,
    queries,
    service,
)
from defchain.intake.queries import InboxFilter
from defchain.people import queries as people_queries
from defchain.triage import service as triage
from defchain.web import report_forms as rf
from defchain.web.deps import Ctx, CurrentActor, Db, SubmittedForm
from defchain.web.forms import domain_error_fields, form_values
from defchain.web.routes import triage as triage_pages
from defchain.web.templating import render, render_form

router = APIRouter()
P = Permission
PAGE_SIZE = 25
STATUS_LABELS = {Status.NEW: "New", Status.IN_REVIEW: "In review", Status.CLOSED: "Closed"}
TIMELINE_LABELS = {
    "intake:report:received": "Received",
    "intake:report:viewed": "Viewed",
    "intake:report:owner_set": "Ownership taken",
    "intake:report:status_set": "Status changed",
    "intake:message:to_tipster": "Message to the tipster",
    "intake:message:from_tipster": "Message from the tipster",
    "intake:tipcode:passphrase_set": "Tipster chose a passphrase",
    "intake:tipcode:locked": "Follow-up locked after failed attempts",
    "intake:attachment:downloaded": "Attachment downloaded",
    "intake:attachment:added": "Attachment added",
    "triage:report:suggested": "Priority suggested by the rules",
    "triage:report:reevaluated": "Priority suggested again",
    "triage:report:decided": "Priority decided",
    "triage:report:acknowledged": "Acknowledged",
    "triage:report:handed_off": "Handed off",
    "triage:report:copied": "Copied for information",
    "triage:handoff:acknowledged": "Hand-off acknowledged",
    "chain:link:escalated": "Late step escalated",
}


def _form_for(kind: str) -> rf.KindForm:
    try:
        return rf.FORMS[ReportKind(kind)]
    except ValueError:
        raise NotFound(f"There is no report kind '{kind}'.") from None


def _actor_zone(db: Session, actor: Actor) -> ZoneInfo:
    agency = db.get(Agency, actor.agency_id) if actor.agency_id else None
    return rf.zone(agency.jurisdiction.timezone if agency else None)


def _form_page(
    request: Request,
    form: rf.KindForm,
    values: dict[str, Any],
    errors: dict[str, str],
    tz: ZoneInfo,
) -> Response:
    context = {
        "form": form,
        "tz_name": tz.key,
        "values": values,
        "errors": errors,
        "labels_field": rf.LABELS_FIELD,
        "error_lines": [f"{rf.label_for(form, k)}: {v}" for k, v in errors.items()],
    }
    return render_form(request, "reports/form.html", context, errors)


@router.get("/reports/new")
def choose_kind(request: Request, actor: CurrentActor) -> Response:
    """Which kind of report to enter: one card per kind."""
    require(actor, P.INTAKE_REPORT_CREATE)
    return render(request, "reports/choose.html", {"forms": list(rf.FORMS.values())})


@router.get("/reports/new/{kind}")
def new_report(request: Request, db: Db, actor: CurrentActor, kind: str) -> Response:
    """The empty form for one kind."""
    require(actor, P.INTAKE_REPORT_CREATE)
    return _form_page(request, _form_for(kind), {}, {}, _actor_zone(db, actor))


@router.post("/reports/new/{kind}")
def create_report(
    request: Request, db: Db, ctx: Ctx, actor: CurrentActor, kind: str, submitted: SubmittedForm
) -> Response:
    """Validate and store; on any error re-show everything typed, name every problem."""
    require(actor, P.INTAKE_REPORT_CREATE)
    form = _form_for(kind)
    values = form_values(submitted, rf.list_fields(form))
    now = ctx.clock.now()
    errors = rf.precheck(form, values)
    tz = _actor_zone(db, actor)
    try:
        data = parse_report(rf.payload(form, values, tz), now=now)
        if errors:
            raise ReportInvalid(errors)
        report = service.receive(db, data=data, source=service.Source(actor=actor), now=now)
    except ReportInvalid as exc:
        errors = rf.field_errors(form, {**errors, **exc.errors})
        return _form_page(request, form, values, errors, tz)
    except ValidationFailed as exc:
        return _form_page(request, form, values, domain_error_fields(exc), tz)
    if not can(actor, P.INTAKE_REPORT_READ, report):
        # Stored, but its labels are beyond the author's clearances: say so in the inbox.
        return RedirectResponse(f"/reports?saved={report.id}", status_code=303)
    return RedirectResponse(f"/reports/{report.id}", status_code=303)


def _filters(
    kind: str, channel: str, agency_id: str, status: str, q: str
) -> tuple[InboxFilter, dict[str, str]]:
    chosen = {"kind": kind, "channel": channel, "agency_id": agency_id, "status": status, "q": q}
    agency = int(agency_id) if agency_id.isdigit() else None
    return (
        InboxFilter(
            kind=kind or None,
            channel=channel or None,
            agency_id=agency,
            status=status or None,
            q=q.strip() or None,
        ),
        chosen,
    )


def _names(db: Session, model: Any, ids: set[int], attr: str) -> dict[int, Any]:
    if not ids:
        return {}
    return {
        row.id: getattr(row, attr) for row in db.scalars(select(model).where(model.id.in_(ids)))
    }


@router.get("/reports")
def inbox(
    request: Request,
    db: Db,
    actor: CurrentActor,
    kind: str = Query(default="", max_length=30),
    channel: str = Query(default="", max_length=20),
    agency_id: str = Query(default="", max_length=12),
    status: str = Query(default="", max_length=20),
    q: str = Query(default="", max_length=200),
    page: int = Query(default=1, ge=1, le=100_000),
    saved: int | None = Query(default=None, ge=1),
) -> Response:
    """Reports the actor may see, newest first, filtered and searched."""
    require(actor, P.INTAKE_REPORT_READ)
    filters, chosen = _filters(kind, channel, agency_id, status, q)
    rows, total = queries.inbox(db, actor, filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    zones = _names(db, Jurisdiction, {r.jurisdiction_id for r in rows}, "timezone")
    context = {
        "excerpts": {r.id: rf.excerpt(r) for r in rows},
        "rows": [
            (r, rf.local_time(r.received_at, rf.zone(zones.get(r.jurisdiction_id)))) for r in rows
        ],
        "owners": _names(db, User, {r.owner_user_id for r in rows if r.owner_user_id}, "full_name"),
        "agencies": [(a.id, a.name) for a in queries.inbox_agencies(db, actor)],
        "chosen": chosen,
        "saved": saved,
        "total": total,
        "page": page,
        "has_next": page * PAGE_SIZE < total,
        "query": urlencode({k: v for k, v in chosen.items() if v}),
        "KIND_LABELS": KIND_LABELS,
        "CHANNEL_LABELS": CHANNEL_LABELS,
        "STATUS_LABELS": STATUS_LABELS,
    }
    return render(request, "reports/inbox.html", context)


def _report_page(
    request: Request,
    db: Session,
    actor: Actor,
    report: Report,
    errors: dict[str, str],
    values: dict[str, str] | None = None,
) -> Response:
    tz = rf.zone(db.get(Jurisdiction, report.jurisdiction_id).timezone)  # type: ignore[union-attr]
    owner = db.get(User, report.owner_user_id) if report.owner_user_id else None
    staff = _names(
        db, User, {m.staff_user_id for m in report.messages if m.staff_user_id}, "full_name"
    )
    now = request.app.state.ctx.clock.now()
    context = {
        "report": report,
        "triage": triage_pages.panel(db, actor, report, tz, now),
        "priorities": triage_pages.PRIORITIES,
        "priority_label": triage.priority_label,
        "tz": tz,
        "local": lambda moment: rf.local_time(moment, tz),
        "sections": rf.shown_sections(report, tz),
        "owner": owner,
        "agency": db.get(Agency, report.agency_id),
        "staff_names": staff,
        "timeline": queries.timeline(db, report),
        "may_update": can(actor, P.INTAKE_REPORT_UPDATE, report),
        "followup": firearm_followups.followup_of_report(db, report.id),
        "people": people_queries.for_report(db, report.id)
        if can(actor, P.PEOPLE_PERSON_READ)
        else None,
        "errors": errors,
        "values": values or {},
        "statuses": list(Status),
        "KIND_LABELS": KIND_LABELS,
        "CHANNEL_LABELS": CHANNEL_LABELS,
        "STATUS_LABELS": STATUS_LABELS,
        "TIMELINE_LABELS": TIMELINE_LABELS,
    }
    return render_form(request, "reports/report.html", context, errors)


@router.get("/reports/{report_id}")
def report_page(
    request: Request, db: Db, ctx: Ctx, actor: CurrentActor, report_id: int
) -> Response:
    """Everything about one report; reading it is audited."""
    report = load_for(db, actor, "report", report_id, P.INTAKE_REPORT_READ)
    now = ctx.clock.now()
    service.record_view(db, actor=actor, report=report, now=now)
    notify.mark_link_read(db, user_id=actor.user_id, link=f"/reports/{report.id}", now=now)
    return _report_page(request, db, actor, report, {})


@router.get("/reports/{report_id}/attachments/{attachment_id}")
def attachment(
    db: Db, ctx: Ctx, actor: CurrentActor, report_id: int, attachment_id: int
) -> Response:
    """The stored (checked, metadata-stripped) bytes, always as a download."""
    report = load_for(db, actor, "report", report_id, P.INTAKE_REPORT_READ)
    item = db.get(Attachment, attachment_id)
    if item is None or item.report_id != report.id:
        raise NotFound(f"No attachment with id {attachment_id} on this report.")
    service.record_view(db, actor=actor, report=report, now=ctx.clock.now(), attachment_id=item.id)
    safe_name = "".join(c if c.isalnum() or c in "._-" else "_" for c in item.filename) or "file"
    return Response(
        item.data,
        media_type=item.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{safe_name}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.post("/reports/{report_id}/claim")
def claim(db: Db, ctx: Ctx, actor: CurrentActor, report_id: int) -> Response:
    """The acting analyst takes ownership."""
    report = load_for(db, actor, "report", report_id, P.INTAKE_REPORT_UPDATE)
    service.take_ownership(db, actor=actor, report=report, now=ctx.clock.now())
    return RedirectResponse(f"/reports/{report.id}", status_code=303)


@router.post("/reports/{report_id}/status")
def change_status(
    request: Request,
    db: Db,
    ctx: Ctx,
    actor: CurrentActor,
    report_id: int,
    submitted: SubmittedForm,
) -> Response:
    """Move the report between new, in review and closed."""
    report = load_for(db, actor, "report", report_id, P.INTAKE_REPORT_UPDATE)
    raw = submitted.get("status")
    if raw not in set(Status):
        return _report_page(request, db, actor, report, {"status": "choose a status"})
    now = ctx.clock.now()
    service.set_status(db, actor=actor, report=report, status=Status(str(raw)), now=now)
    if raw == Status.CLOSED:
        triage.close_links_of_closed_report(db, actor=actor, report=report, now=now)
    return RedirectResponse(f"/reports/{report.id}", status_code=303)


@router.post("/reports/{report_id}/messages")
def reply(
    request: Request,
    db: Db,
    ctx: Ctx,
    actor: CurrentActor,
    report_id: int,
    submitted: SubmittedForm,
) -> Response:
    """Write to the anonymous tipster."""
    report = load_for(db, actor, "report", report_id, P.INTAKE_REPORT_UPDATE)
    raw = submitted.get("message")
    body = raw if isinstance(raw, str) else ""
    try:
        service.staff_message(db, actor=actor, report=report, body=body, now=ctx.clock.now())
    except DomainError as exc:
        errors = domain_error_fields(exc)
        return _report_page(request, db, actor, report, errors, {"message": body})
    return RedirectResponse(f"/reports/{report.id}#thread", status_code=303)
