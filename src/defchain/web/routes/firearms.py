"""The firearms pages: the denial and purchase-attempt follow-up queue with its figures,
one follow-up's steps (deconflict, prior reports, decide, outcome), an agency's follow-up
window, and the banned-person watch (add and lift prohibitions).

Each form calls one service function and goes back to its page; any problem re-shows the
page naming the field, and the unit of work rolls back (nothing is half-written).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from defchain import firearms
from defchain.access import Actor, Agency, Permission, can, load_for, require, visible
from defchain.cases.queries import user_names
from defchain.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from defchain.firearms import queries, rules
from defchain.firearms import service as followups
from defchain.firearms import watch as watch_service
from defchain.intake.rules import KIND_LABELS
from defchain.people import Person
from defchain.web import report_forms as rf
from defchain.web.deps import Ctx, CurrentActor, Db, SubmittedForm, mark_rollback
from defchain.web.forms import chosen_id, domain_error_fields, field_text, form_values
from defchain.web.templating import render

router = APIRouter()
P = Permission

FIELD_NAMES = {
    "step": "Step",
    "note": "What was done",
    "decision": "Decision",
    "outcome": "Outcome",
    "agency_id": "Agency",
    "followup_days": "Follow-up window (days)",
    "person_id": "Person",
    "kind": "Kind of prohibition",
    "source": "Order or record",
    "starts_on": "Starts",
    "ends_on": "Ends",
    "reason": "Reason",
    "form": "Form",
}
STATUS_LABELS = {
    rules.FollowUpStatus.OPEN.value: "Open",
    rules.FollowUpStatus.DONE.value: "Outcome recorded",
    rules.FollowUpStatus.CASE.value: "Taken by the person's case",
}
KIND_OF_FOLLOWUP_LABELS = {
    rules.FollowUpKind.DENIAL.value: "NICS denial",
    rules.FollowUpKind.PURCHASE_ATTEMPT.value: "Suspicious purchase attempt",
}


def _zone(db: Session, actor: Actor) -> ZoneInfo:
    agency = db.get(Agency, actor.agency_id) if actor.agency_id else None
    return rf.zone(agency.jurisdiction.timezone if agency else None)


_text = field_text
_id = chosen_id


def _day(values: dict[str, Any], name: str, tz: ZoneInfo, *, end: bool = False) -> datetime:
    """A typed date as a moment in the actor's time zone: the start of that day, or with
    ``end`` its last minute."""
    try:
        day = date.fromisoformat(_text(values, name).strip())
    except ValueError:
        raise ValidationFailed(f"{name}: enter a date like 2026-03-31", field=name) from None
    moment = time(23, 59) if end else time(0, 0)
    return datetime.combine(day, moment, tz).astimezone(UTC)


def _problem(exc: DomainError) -> tuple[dict[str, str], int]:
    status = exc.status_code if 400 <= exc.status_code < 500 else 422
    return domain_error_fields(exc), status


# --- the queue ---------------------------------------------------------------------------


def _queue_page(
    request: Request,
    db: Session,
    actor: Actor,
    *,
    status: str = "open",
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    code: int = 200,
    saved: bool = False,
) -> Response:
    require(actor, P.INTAKE_REPORT_READ)
    if errors:
        mark_rollback(request)
    now = request.app.state.ctx.clock.now()
    tz = _zone(db, actor)
    may_policy = can(actor, P.ACCESS_AGENCY_WRITE)
    agencies = (
        list(db.scalars(select(Agency).where(visible(actor, P.ACCESS_AGENCY_READ))))
        if may_policy
        else []
    )
    context = {
        "rows": queries.followup_queue(db, actor, now, status=status),
        "status": status if status in queries.QUEUE_STATUSES else "open",
        "figures": queries.dashboard(db, actor, now),
        "may_policy": may_policy,
        "agencies": sorted(agencies, key=lambda a: a.name),
        "policy_days": {a.id: followups.policy_days(db, a.id) for a in agencies},
        "local": lambda moment: rf.local_time(moment, tz),
        "errors": errors or {},
        "values": values or {},
        "saved": saved,
        "FIELD_NAMES": FIELD_NAMES,
        "STATUS_LABELS": STATUS_LABELS,
        "KIND_LABELS": KIND_OF_FOLLOWUP_LABELS,
        "STAGE_LABELS": {str(k): v for k, v in rules.ERPO_STAGE_LABELS.items()},
        "DEFAULT_DAYS": rules.DEFAULT_FOLLOWUP_DAYS,
        "MIN_DAYS": rules.MIN_FOLLOWUP_DAYS,
        "MAX_DAYS": rules.MAX_FOLLOWUP_DAYS,
    }
    return render(request, "firearms/queue.html", context, status_code=code)


@router.get("/firearms")
def queue(
    request: Request, db: Db, actor: CurrentActor, status: str = "open", saved: int = 0
) -> Response:
    """Every denial and purchase-attempt follow-up the actor may read: open ones due
    soonest first (late ones marked), with the figures oversight also sees."""
    return _queue_page(request, db, actor, status=status, saved=bool(saved))


@router.post("/firearms/policy")
def set_policy(
    request: Request, db: Db, ctx: Ctx, actor: CurrentActor, submitted: SubmittedForm
) -> Response:
    """An agency's follow-up window: how many days a denial's follow-up may take."""
    require(actor, P.ACCESS_AGENCY_WRITE)
    values = form_values(submitted)
    try:
        days_text = _text(values, "followup_days").strip()
        if not days_text.isdigit():
            raise ValidationFailed("followup_days: a whole number of days", field="followup_days")
        followups.set_policy(
            db,
            actor,
            agency_id=_id(values, "agency_id", "an agency"),
            followup_days=int(days_text),
            now=ctx.clock.now(),
        )
    except (NotFound, PermissionDenied):
        raise
    except DomainError as exc:
        errors, code = _problem(exc)
        return _queue_page(request, db, actor, errors=errors, values=values, code=code)
    return RedirectResponse("/firearms?saved=1#policy", status_code=303)


# --- one follow-up -----------------------------------------------------------------------


def _followup_page(
    request: Request,
    db: Session,
    actor: Actor,
    followup_id: int,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    active_form: str = "",
    code: int = 200,
) -> Response:
    if errors:
        mark_rollback(request)
    now = request.app.state.ctx.clock.now()
    tz = _zone(db, actor)
    context = queries.followup_context(db, actor, followup_id, now)
    followup, report = context["followup"], context["report"]
    person = db.get(Person, followup.person_id) if followup.person_id else None
    done_by = [s["done_by_user_id"] for s in context["steps"]] + [followup.decided_by_user_id]
    next_step = next((s["step"] for s in context["steps"] if s["done_at"] is None), None)
    context.update(
        {
            "person": person,
            "on_watch": bool(person and watch_service.on_watch(db, person.id, now)),
            "may_update": can(actor, P.INTAKE_REPORT_UPDATE, report),
            "next_step": next_step if followup.status == rules.FollowUpStatus.OPEN.value else None,
            "names": user_names(db, done_by),
            "local": lambda moment: rf.local_time(moment, tz),
            "errors": errors or {},
            "values": values or {},
            "active_form": active_form,
            "FIELD_NAMES": FIELD_NAMES,
            "STATUS_LABELS": STATUS_LABELS,
            "KIND_LABELS": KIND_OF_FOLLOWUP_LABELS,
            "REPORT_KIND_LABELS": KIND_LABELS,
        }
    )
    return render(request, "firearms/followup.html", context, status_code=code)


@router.get("/firearms/followups/{followup_id}")
def followup_page(request: Request, db: Db, actor: CurrentActor, followup_id: int) -> Response:
    """One follow-up: the report, the person, each step with who did it and when."""
    return _followup_page(request, db, actor, followup_id)


def _act(
    request: Request,
    db: Session,
    actor: Actor,
    followup_id: int,
    values: dict[str, Any],
    form: str,
    work: Callable[[firearms.FollowUp], str],
) -> Response:
    """Run one step: on to ``work``'s answer (a path), or the page again naming the field."""
    followup, _report = queries.load_followup(db, actor, followup_id)
    try:
        target = work(followup)
    except (NotFound, PermissionDenied):
        raise
    except DomainError as exc:
        errors, code = _problem(exc)
        return _followup_page(
            request, db, actor, followup_id, errors=errors, values=values, active_form=form,
            code=code,
        )  # fmt: skip
    return RedirectResponse(target, status_code=303)


@router.post("/firearms/followups/{followup_id}/step")
def record_step(
    request: Request,
    db: Db,
    ctx: Ctx,
    actor: CurrentActor,
    followup_id: int,
    submitted: SubmittedForm,
) -> Response:
    """Record the deconfliction or the check for prior reports, with what was found."""
    values = form_values(submitted)

    def work(followup: firearms.FollowUp) -> str:
        followups.complete_step(
            db, actor, followup, step=_text(values, "step"), note=_text(values, "note"),
            now=ctx.clock.now(),
        )  # fmt: skip
        return f"/firearms/followups/{followup.id}#steps"

    return _act(request, db, actor, followup_id, values, "step", work)


@router.post("/firearms/followups/{followup_id}/decide")
def record_decision(
    request: Request,
    db: Db,
    ctx: Ctx,
    actor: CurrentActor,
    followup_id: int,
    submitted: SubmittedForm,
) -> Response:
    """Record the decision; "open a threat case" opens it and goes there."""
    values = form_values(submitted)

    def work(followup: firearms.FollowUp) -> str:
        case = followups.decide(
            db, actor, followup, decision=_text(values, "decision"),
            note=_text(values, "note"), now=ctx.clock.now(),
        )  # fmt: skip
        return f"/cases/{case.id}" if case else f"/firearms/followups/{followup.id}#steps"

    return _act(request, db, actor, followup_id, values, "decide", work)


@router.post("/firearms/followups/{followup_id}/outcome")
def record_outcome(
    request: Request,
    db: Db,
    ctx: Ctx,
    actor: CurrentActor,
    followup_id: int,
    submitted: SubmittedForm,
) -> Response:
    """Record what came of the decision; the follow-up is done."""
    values = form_values(submitted)

    def work(followup: firearms.FollowUp) -> str:
        followups.record_outcome(
            db, actor, followup, outcome=_text(values, "outcome"), now=ctx.clock.now()
        )
        return f"/firearms/followups/{followup.id}#steps"

    return _act(request, db, actor, followup_id, values, "outcome", work)


# --- the banned-person watch -------------------------------------------------------------


def _watch_page(
    request: Request,
    db: Session,
    actor: Actor,
    *,
    person_id: int | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    active_form: str = "",
    code: int = 200,
) -> Response:
    require(actor, P.PEOPLE_PERSON_READ)
    if errors:
        mark_rollback(request)
    now = request.app.state.ctx.clock.now()
    tz = _zone(db, actor)
    person = None
    if person_id is not None:
        person = load_for(db, actor, "person", person_id, P.PEOPLE_PERSON_READ)
    rows = queries.watch_list(db, actor, now, person_id=person.id if person else None)
    shown = dict(values or {})
    if person is not None:
        shown.setdefault("person_id", str(person.id))
    shown.setdefault("starts_on", now.astimezone(tz).date().isoformat())
    context = {
        "rows": rows,
        "now": now,
        "person": person,
        "on_watch": sum(1 for r in rows if r.active),
        "may_update": can(actor, P.PEOPLE_PERSON_UPDATE),
        "names": user_names(db, [r.prohibition.recorded_by_user_id for r in rows]),
        "kinds": [(k.value, rules.PROHIBITION_LABELS[k]) for k in rules.ProhibitionKind],
        "local": lambda moment: rf.local_time(moment, tz),
        "errors": errors or {},
        "values": shown,
        "active_form": active_form,
        "FIELD_NAMES": FIELD_NAMES,
        "PROHIBITION_LABELS": {str(k): v for k, v in rules.PROHIBITION_LABELS.items()},
    }
    return render(request, "firearms/watch.html", context, status_code=code)


@router.get("/firearms/watch")
def watch_page(
    request: Request, db: Db, actor: CurrentActor, person_id: int | None = None
) -> Response:
    """Who is on the banned-person watch now, and the prohibitions that ended; with
    ``?person_id=`` one person's, and the form to add one for them."""
    return _watch_page(request, db, actor, person_id=person_id)


@router.post("/firearms/watch")
def add_prohibition(
    request: Request, db: Db, ctx: Ctx, actor: CurrentActor, submitted: SubmittedForm
) -> Response:
    """Record a prohibition: the person is on the watch while it holds."""
    require(actor, P.PEOPLE_PERSON_UPDATE)
    values = form_values(submitted)
    tz = _zone(db, actor)
    try:
        person_id = _id(values, "person_id", "a person (their number)")
        person = load_for(db, actor, "person", person_id, P.PEOPLE_PERSON_UPDATE)
        ends = _text(values, "ends_on").strip()
        row = watch_service.add_prohibition(
            db,
            actor,
            person_id=person.id,
            kind=_text(values, "kind"),
            source=_text(values, "source"),
            starts_at=_day(values, "starts_on", tz),
            ends_at=_day(values, "ends_on", tz, end=True) if ends else None,
            now=ctx.clock.now(),
        )
    except NotFound as exc:
        if "person" not in str(exc).lower():
            raise
        errors = {"person_id": f"no person with number {_text(values, 'person_id').strip()}"}
        return _watch_page(request, db, actor, errors=errors, values=values, code=422)
    except PermissionDenied:
        raise
    except DomainError as exc:
        errors, code = _problem(exc)
        # The service speaks of moments; the form asks for days.
        renamed = {"starts_at": "starts_on", "ends_at": "ends_on"}
        errors = {renamed.get(k, k): v.replace("starts_at", "the start") for k, v in errors.items()}
        return _watch_page(request, db, actor, errors=errors, values=values, code=code)
    return RedirectResponse(f"/firearms/watch?person_id={row.person_id}#watch", status_code=303)


@router.post("/firearms/prohibitions/{prohibition_id}/lift")
def lift_prohibition(
    request: Request,
    db: Db,
    ctx: Ctx,
    actor: CurrentActor,
    prohibition_id: int,
    submitted: SubmittedForm,
) -> Response:
    """Lift a prohibition before its end (an order vacated, a mark withdrawn)."""
    require(actor, P.PEOPLE_PERSON_UPDATE)
    row = watch_service.get_prohibition(db, prohibition_id)
    load_for(db, actor, "person", row.person_id, P.PEOPLE_PERSON_UPDATE)
    values = form_values(submitted)
    try:
        watch_service.lift_prohibition(
            db, actor, row, reason=_text(values, "reason"), now=ctx.clock.now()
        )
    except DomainError as exc:
        if isinstance(exc, (NotFound, PermissionDenied)):
            raise
        errors, code = _problem(exc)
        return _watch_page(
            request, db, actor, person_id=row.person_id, errors=errors, values=values,
            active_form=f"lift-{row.id}", code=code,
        )  # fmt: skip
    return RedirectResponse(f"/firearms/watch?person_id={row.person_id}#watch", status_code=303)
