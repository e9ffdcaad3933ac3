"""Team meetings: the generated agenda, a decision per case, the exportable record."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from defchain.access import Actor, Permission, Team, load_for
from defchain.cases import Case, meetings
from defchain.cases.models import Meeting
from defchain.errors import DomainError, PermissionDenied, ValidationFailed
from defchain.web import report_forms as rf
from defchain.web.deps import Ctx, CurrentActor, Db, SubmittedForm, mark_rollback
from defchain.web.forms import domain_error_fields, form_values
from defchain.web.templating import render

router = APIRouter()
P = Permission
FIELDS = {"held_at": "Held at", "attendees": "Attendees", "decision": "Decision"}


def context(db: Session, actor: Actor, case: Case) -> dict[str, Any]:
    """What this module adds to the case page's template context (nothing: the case's
    meeting decisions are on its timeline)."""
    return {}


def _zone(team: Team) -> ZoneInfo:
    return rf.zone(team.jurisdiction.timezone if team.jurisdiction else None)


def _team(db: Session, actor: Actor, team_id: int, permission: Permission) -> Team:
    """The team, for its members: 404 for anyone else who may not see it."""
    team: Team = load_for(db, actor, "team", team_id, P.ACCESS_TEAM_READ)
    if not meetings.may_meet(actor, team.id, permission):
        # A granted reader of the team who is not on it: the meetings are the members'.
        raise PermissionDenied("Only the team's members hold its meetings.")
    return team


def _held_at(raw: str, tz: ZoneInfo) -> datetime:
    """A ``datetime-local`` field in the team's time zone, as UTC."""
    try:
        local = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise ValidationFailed("held_at: give a date and time", field="held_at") from None
    if local.tzinfo is None:
        local = local.replace(tzinfo=tz)
    return local.astimezone(UTC)


def _list_page(
    request: Request,
    db: Session,
    actor: Actor,
    team: Team,
    now: datetime,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    if errors:
        mark_rollback(request)
    tz = _zone(team)
    default_held = now.astimezone(tz).strftime("%Y-%m-%dT%H:%M")
    context = {
        "team": team,
        "meetings": meetings.meetings_of(db, actor, team),
        "agenda": meetings.agenda(db, actor, team, now),
        "may_create": meetings.may_meet(actor, team.id, P.CASES_CASE_UPDATE),
        "values": values or {"held_at": default_held},
        "errors": errors or {},
        "FIELDS": FIELDS,
        "local": lambda moment: rf.local_time(moment, tz),
    }
    return render(request, "meetings/list.html", context, status_code=422 if errors else 200)


@router.get("/teams/{team_id}/meetings")
def meeting_list(request: Request, db: Db, ctx: Ctx, actor: CurrentActor, team_id: int) -> Response:
    """The team's meetings and the agenda a meeting started now would have."""
    team = _team(db, actor, team_id, P.CASES_CASE_READ)
    return _list_page(request, db, actor, team, ctx.clock.now())


@router.post("/teams/{team_id}/meetings")
def create_meeting(
    request: Request, db: Db, ctx: Ctx, actor: CurrentActor, team_id: int, submitted: SubmittedForm
) -> Response:
    """Start a meeting: the agenda as it stands becomes its items."""
    team = _team(db, actor, team_id, P.CASES_CASE_UPDATE)
    values = form_values(submitted)
    now = ctx.clock.now()
    try:
        meeting = meetings.create_meeting(
            db, actor, team, held_at=_held_at(values.get("held_at") or "", _zone(team)),
            attendees=values.get("attendees", ""), now=now,
        )  # fmt: skip
    except DomainError as exc:
        return _list_page(request, db, actor, team, now, values, domain_error_fields(exc))
    return RedirectResponse(f"/meetings/{meeting.id}", status_code=303)


def _meeting_page(
    request: Request,
    db: Session,
    actor: Actor,
    meeting: Meeting,
    errors: dict[str, str] | None = None,
    active_item: int = 0,
    values: dict[str, Any] | None = None,
) -> Response:
    if errors:
        mark_rollback(request)
    team = db.get_one(Team, meeting.team_id)
    tz = _zone(team)
    context = {
        "meeting": meeting,
        "team": team,
        "record": meetings.meeting_record(db, actor, meeting),
        "may_decide": meetings.may_meet(actor, team.id, P.CASES_CASE_UPDATE),
        "errors": errors or {},
        "values": values or {},
        "active_item": active_item,
        "local": lambda moment: rf.local_time(moment, tz),
    }
    return render(request, "meetings/meeting.html", context, status_code=422 if errors else 200)


@router.get("/meetings/{meeting_id}")
def meeting_detail(request: Request, db: Db, actor: CurrentActor, meeting_id: int) -> Response:
    """The meeting's agenda, with a decision form per case."""
    meeting = meetings.load_meeting(db, actor, meeting_id)
    return _meeting_page(request, db, actor, meeting)


@router.post("/meetings/{meeting_id}/items/{item_id}/decision")
def record_decision(
    request: Request,
    db: Db,
    ctx: Ctx,
    actor: CurrentActor,
    meeting_id: int,
    item_id: int,
    submitted: SubmittedForm,
) -> Response:
    """Record the team's decision on one case of the agenda."""
    meeting = meetings.load_meeting(db, actor, meeting_id, P.CASES_CASE_UPDATE)
    item = meetings.item_of(db, meeting, item_id)
    values = form_values(submitted)
    try:
        meetings.record_decision(
            db, actor, item, decision=values.get("decision", ""), now=ctx.clock.now()
        )
    except DomainError as exc:
        errors = domain_error_fields(exc)
        return _meeting_page(request, db, actor, meeting, errors, item.id, values)
    return RedirectResponse(f"/meetings/{meeting.id}#item-{item.id}", status_code=303)


def _download(body: str, media_type: str, filename: str) -> Response:
    return Response(
        body.encode("utf-8"),
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/meetings/{meeting_id}/export.csv")
def meeting_csv(db: Db, ctx: Ctx, actor: CurrentActor, meeting_id: int) -> Response:
    """The meeting's record as CSV, one row per case."""
    meeting = meetings.load_meeting(db, actor, meeting_id)
    record = meetings.meeting_record(db, actor, meeting)
    meetings.record_export(db, actor, meeting, form="csv", now=ctx.clock.now())
    name = f"meeting-{meeting.id}.csv"
    return _download(meetings.meeting_csv(record), "text/csv; charset=utf-8", name)


@router.get("/meetings/{meeting_id}/export.md")
def meeting_markdown(db: Db, ctx: Ctx, actor: CurrentActor, meeting_id: int) -> Response:
    """The meeting's record as a Markdown document."""
    meeting = meetings.load_meeting(db, actor, meeting_id)
    record = meetings.meeting_record(db, actor, meeting)
    meetings.record_export(db, actor, meeting, form="markdown", now=ctx.clock.now())
    name = f"meeting-{meeting.id}.md"
    return _download(meetings.meeting_markdown(record), "text/markdown; charset=utf-8", name)
