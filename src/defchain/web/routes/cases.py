"""Cases: the list, opening one (from a person or a report), a case's page with its
subjects, reports, tasks and notes, and the forms on it."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from defchain import cases
from defchain.access import Actor, Agency, Label, Permission, Team, User, can, load_for, require
from defchain.cases import Case, CaseTask, queries
from defchain.cases.rules import (
    CASE_STATUS_LABELS,
    LEVEL_OF_CONCERN_LABELS,
    TASK_KIND_LABELS,
    TASK_STATUS_LABELS,
    task_overdue,
)
from defchain.cases.schemas import CaseIn, NoteIn, TaskIn, TaskOutcomeIn
from defchain.errors import DomainError, NotFound
from defchain.intake import KIND_LABELS
from defchain.web import report_forms as rf
from defchain.web.deps import Ctx, CurrentActor, Db, SubmittedForm, mark_rollback
from defchain.web.forms import domain_error_fields, form_values, parse
from defchain.web.routes import assessment as assessment_pages
from defchain.web.routes import case_erpo, case_lifecycle, case_records, firearm_laws
from defchain.web.templating import render

router = APIRouter()
P = Permission
# How each form field is named in error messages.
FIELD_NAMES = {
    "title": "Title",
    "summary": "Summary",
    "team_id": "Team",
    "lead_user_id": "Lead",
    "person_ids": "Subject",
    "report_ids": "Report",
    "kind": "Kind of task",
    "owner_user_id": "Owner",
    "due_on": "Due on",
    "outcome": "Outcome",
    "task": "Task",
    "body": "Note",
    "labels": "Labels",
    "case": "Case",
    "form": "Form",
}
CASE_FIELDS = ("title", "summary", "team_id", "lead_user_id", "person_ids", "report_ids")
CASE_LISTS = ("person_ids", "report_ids")


def _zone(db: Session, agency_id: int) -> ZoneInfo:
    agency = db.get(Agency, agency_id) if agency_id else None
    return rf.zone(agency.jurisdiction.timezone if agency else None)


def _error_status(exc: DomainError) -> int:
    return exc.status_code if 400 <= exc.status_code < 500 else 422


def _labels_map(labels: dict[Any, str]) -> dict[str, str]:
    return {str(k): v for k, v in labels.items()}


# --- the list --------------------------------------------------------------------------------


@router.get("/cases")
def case_list(request: Request, db: Db, ctx: Ctx, actor: CurrentActor) -> Response:
    """The cases the actor may see, newest first."""
    require(actor, P.CASES_CASE_READ)
    tz = _zone(db, actor.agency_id)
    context = {
        "rows": queries.case_list(db, actor, now=ctx.clock.now()),
        "local": lambda moment: rf.local_time(moment, tz),
        "may_create": can(actor, P.CASES_CASE_CREATE),
        "STATUS_LABELS": _labels_map(CASE_STATUS_LABELS),
        "LEVEL_LABELS": _labels_map(LEVEL_OF_CONCERN_LABELS),
    }
    return render(request, "cases/list.html", context)


# --- opening a case ----------------------------------------------------------------------


def _prefill(db: Session, actor: Actor, values: dict[str, Any]) -> dict[str, list[Any]]:
    """The persons and reports the form carries, each loaded through the policy."""
    persons = [
        load_for(db, actor, "person", int(i), P.PEOPLE_PERSON_READ)
        for i in values.get("person_ids", [])
        if str(i).isdigit()
    ]
    reports = [
        load_for(db, actor, "report", int(i), P.INTAKE_REPORT_READ)
        for i in values.get("report_ids", [])
        if str(i).isdigit()
    ]
    return {"persons": persons, "reports": reports}


def _new_page(
    request: Request,
    db: Session,
    actor: Actor,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    if errors:
        mark_rollback(request)
    teams = queries.teams_of(db, actor)
    leads = queries.lead_candidates(db, agency_id=actor.agency_id, team_ids=[t.id for t in teams])
    context = {
        **_prefill(db, actor, values),
        "values": values,
        "errors": errors or {},
        "teams": teams,
        "leads": leads,
        "FIELD_NAMES": FIELD_NAMES,
        "KIND_LABELS": KIND_LABELS,
    }
    return render(request, "cases/new.html", context, status_code=status)


@router.get("/cases/new")
def new_case(
    request: Request,
    db: Db,
    actor: CurrentActor,
    person_id: int | None = Query(default=None, ge=1),
    report_id: int | None = Query(default=None, ge=1),
) -> Response:
    """The form to open a case, about a person or from a report when given."""
    require(actor, P.CASES_CASE_CREATE)
    values: dict[str, Any] = {
        "lead_user_id": str(actor.user_id),
        "person_ids": [str(person_id)] if person_id else [],
        "report_ids": [str(report_id)] if report_id else [],
    }
    return _new_page(request, db, actor, values)


@router.post("/cases/new")
def create_case(
    request: Request, db: Db, ctx: Ctx, actor: CurrentActor, submitted: SubmittedForm
) -> Response:
    """Open the case; bad input shows the form again naming the field, nothing saved."""
    require(actor, P.CASES_CASE_CREATE)
    values = form_values(submitted, CASE_LISTS)
    result = parse(CaseIn, values, fields=CASE_FIELDS)
    if result.model is None:
        return _new_page(request, db, actor, values, result.errors, 422)
    data = result.model
    try:
        case = cases.open_case(
            db,
            actor,
            title=data.title,
            summary=data.summary,
            team_id=data.team_id,
            lead_user_id=data.lead_user_id,
            person_ids=data.person_ids,
            report_ids=data.report_ids,
            now=ctx.clock.now(),
        )
    except DomainError as exc:
        mark_rollback(request)
        return _new_page(request, db, actor, values, domain_error_fields(exc), _error_status(exc))
    return RedirectResponse(f"/cases/{case.id}", status_code=303)


# --- a case's page ----------------------------------------------------------------------------


def _case_page(
    request: Request,
    db: Session,
    actor: Actor,
    case: Case,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    active_form: str = "",
    status: int = 200,
) -> Response:
    if errors:
        mark_rollback(request)
    tz = _zone(db, case.agency_id)
    now = request.app.state.ctx.clock.now()
    tasks = cases.tasks_of(db, case)
    notes = cases.notes_visible(db, actor, case)
    people_ids: list[int | None] = [case.lead_user_id, *(t.owner_user_id for t in tasks)]
    people_ids += [n.author_user_id for n in notes]
    may_update = can(actor, P.CASES_CASE_UPDATE, case)
    context = {
        "case": case,
        "subjects": cases.subjects_of(db, case),
        "reports": cases.reports_of(db, actor, case),
        "hidden_reports": queries.hidden_report_count(db, actor, case),
        "tasks": tasks,
        "notes": notes,
        "withheld_notes": queries.withheld_note_count(db, actor, case),
        "team": db.get(Team, case.team_id) if case.team_id else None,
        "agency": db.get(Agency, case.agency_id),
        "names": queries.user_names(db, people_ids),
        "overdue": {t.id for t in tasks if task_overdue(status=t.status, due_at=t.due_at, now=now)},
        "owners": _owners(db, case) if may_update else [],
        "may_update": may_update,
        "cleared_labels": [label for label in Label if label.value in actor.clearances],
        "local": lambda moment: rf.local_time(moment, tz),
        "errors": errors or {},
        "values": values or {},
        "active_form": active_form,
        "FIELD_NAMES": FIELD_NAMES,
        "KIND_LABELS": KIND_LABELS,
        "STATUS_LABELS": _labels_map(CASE_STATUS_LABELS),
        "LEVEL_LABELS": _labels_map(LEVEL_OF_CONCERN_LABELS),
        "TASK_KIND_LABELS": _labels_map(TASK_KIND_LABELS),
        "TASK_STATUS_LABELS": _labels_map(TASK_STATUS_LABELS),
        **assessment_pages.panel_context(db, actor, case),
        **case_lifecycle.context(db, actor, case, now),
        **case_records.context(db, actor, case),
        **firearm_laws.case_options_context(db, actor, case),
        **case_erpo.context(db, actor, case, now),
    }
    return render(request, "cases/case.html", context, status_code=status)


def _owners(db: Session, case: Case) -> list[User]:
    team_ids = [case.team_id] if case.team_id else []
    return queries.lead_candidates(db, agency_id=case.agency_id, team_ids=team_ids)


@router.get("/cases/{case_id}")
def case_detail(request: Request, db: Db, actor: CurrentActor, case_id: int) -> Response:
    """Everything about one case the actor may see."""
    case = load_for(db, actor, "case", case_id, P.CASES_CASE_READ)
    return _case_page(request, db, actor, case)


def _due_at(due_on: Any, tz: ZoneInfo) -> datetime:
    """A task is due at the end of its day, in the case's time zone."""
    return datetime.combine(due_on, time(23, 59), tz).astimezone(UTC)


@router.post("/cases/{case_id}/tasks")
def add_task(
    request: Request,
    db: Db,
    ctx: Ctx,
    actor: CurrentActor,
    case_id: int,
    submitted: SubmittedForm,
) -> Response:
    """Give someone a task on the case."""
    case = load_for(db, actor, "case", case_id, P.CASES_CASE_UPDATE)
    values = form_values(submitted)
    result = parse(TaskIn, values, fields=("kind", "title", "owner_user_id", "due_on"))
    if result.model is None:
        return _case_page(
            request, db, actor, case, errors=result.errors, values=values,
            active_form="task", status=422,
        )  # fmt: skip
    data = result.model
    try:
        cases.add_task(
            db,
            actor,
            case,
            kind=data.kind,
            title=data.title,
            owner_user_id=data.owner_user_id,
            due_at=_due_at(data.due_on, _zone(db, case.agency_id)),
            now=ctx.clock.now(),
        )
    except DomainError as exc:
        return _case_page(
            request, db, actor, case, errors=domain_error_fields(exc), values=values,
            active_form="task", status=_error_status(exc),
        )  # fmt: skip
    return RedirectResponse(f"/cases/{case.id}#tasks", status_code=303)


def _task_of(db: Session, case: Case, task_id: int) -> CaseTask:
    task = db.get(CaseTask, task_id)
    if task is None or task.case_id != case.id:
        raise NotFound(f"No task with id {task_id} on this case.")
    return task


@router.post("/cases/{case_id}/tasks/{task_id}/done")
def complete_task(
    request: Request,
    db: Db,
    ctx: Ctx,
    actor: CurrentActor,
    case_id: int,
    task_id: int,
    submitted: SubmittedForm,
) -> Response:
    """Record a task's outcome; it is done. The outcome is required."""
    case = load_for(db, actor, "case", case_id, P.CASES_CASE_UPDATE)
    task = _task_of(db, case, task_id)
    values = form_values(submitted)
    result = parse(TaskOutcomeIn, values, fields=("outcome",))
    errors, status = result.errors, 422
    if result.model is not None:
        try:
            cases.complete_task(db, actor, task, outcome=result.model.outcome, now=ctx.clock.now())
        except DomainError as exc:
            errors, status = domain_error_fields(exc), _error_status(exc)
    if errors:
        return _case_page(
            request, db, actor, case, errors=errors, values=values,
            active_form=f"task-{task.id}", status=status,
        )  # fmt: skip
    return RedirectResponse(f"/cases/{case.id}#tasks", status_code=303)


@router.post("/cases/{case_id}/notes")
def add_note(
    request: Request,
    db: Db,
    ctx: Ctx,
    actor: CurrentActor,
    case_id: int,
    submitted: SubmittedForm,
) -> Response:
    """Append a note, labelled with what it contains."""
    case = load_for(db, actor, "case", case_id, P.CASES_CASE_UPDATE)
    values = form_values(submitted, ("labels",))
    result = parse(NoteIn, values, fields=("body", "labels"))
    errors, status = result.errors, 422
    if result.model is not None:
        try:
            cases.add_note(
                db, actor, case, body=result.model.body, labels=result.model.labels,
                now=ctx.clock.now(),
            )  # fmt: skip
        except DomainError as exc:
            errors, status = domain_error_fields(exc), _error_status(exc)
    if errors:
        return _case_page(
            request, db, actor, case, errors=errors, values=values,
            active_form="note", status=status,
        )  # fmt: skip
    return RedirectResponse(f"/cases/{case.id}#notes", status_code=303)
