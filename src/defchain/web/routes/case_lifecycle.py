"""The case page's guardrails: status, closure gate, lead, plan outcome, sign-offs,
monitoring check-ins, firearm access per subject, chronic cases' long-term plans; and a
jurisdiction's case settings.

Each form posts here, calls one service function and goes back to the case page
(``#guardrails``); any problem re-shows the case page (``cases._case_page``) naming the
field, and the unit of work rolls back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from defchain.access import Actor, Agency, Jurisdiction, Permission, can, require
from defchain.access import queries as access_queries
from defchain.cases import Case, care, lifecycle, queries, rules
from defchain.cases import settings as case_settings
from defchain.cases.models import CarePlanItem, CheckIn
from defchain.errors import NotFound, ValidationFailed
from defchain.people import firearms
from defchain.web import case_forms
from defchain.web.case_forms import CaseForm
from defchain.web.deps import Ctx, CurrentActor, Db, SubmittedForm
from defchain.web.forms import chosen_id, form_values
from defchain.web.routes import cases as case_pages
from defchain.web.templating import render_form

router = APIRouter()
P = Permission

# How this panel's form fields are named in the page's error summary.
FIELD_NAMES = {
    "status": "Status",
    "reason": "Reason",
    "close": "Close the case",
    "reopen": "Re-open",
    "lead_user_id": "New lead",
    "outcome": "Outcome",
    "transfer_note": "Transfer",
    "note": "Note",
    "sign_off": "Sign-off",
    "dates": "Check-in dates",
    "due_on": "Check-in date",
    "owner_user_id": "Owner",
    "checkin": "Check-in",
    "source": "Source",
    "detail": "Detail",
    "as_of": "As of",
    "person_id": "Person",
    "chronic": "Chronic case",
    "kind": "Item",
    "title": "Title",
    "agency_id": "Responsible agency",
    "review_every_days": "Review every (days)",
    "answer": "Answer",
    "care_item": "Care-plan item",
    "action": "Action",
    "form": "Form",
}
# Every closure condition, in the order the checklist shows them; the last three apply
# only to a case that was ever high or imminent.
# --- the panel's context ---------------------------------------------------------------------


def _firearm_rows(db: Session, case: Case) -> list[dict[str, Any]]:
    rows = []
    for person in queries.subjects_of(db, case):
        found = firearms.latest(db, person.id)
        status = firearms.AccessStatus(found.status) if found else None
        rows.append({"person": person, "latest": found, "status": status})
    return rows


def context(db: Session, actor: Actor, case: Case, now: datetime) -> dict[str, Any]:
    """What this module adds to the case page's template context."""
    may_update = can(actor, P.CASES_CASE_UPDATE, case)
    closed = case.status == rules.CaseStatus.CLOSED
    unmet = [] if closed else lifecycle.unmet(db, case, now)
    checkins = lifecycle.checkins_of(db, case)
    signoffs = lifecycle.signoffs(db, case)
    items = care.care_items(db, case)
    moves = rules.next_statuses(case.status)
    team_ids = [case.team_id] if case.team_id else []
    workers = queries.lead_candidates(db, agency_id=case.agency_id, team_ids=team_ids)
    user_ids = [s.user_id for s in signoffs] + [c.owner_user_id for c in checkins]
    return {
        "FIELD_NAMES": {**case_pages.FIELD_NAMES, **FIELD_NAMES},
        "guard_moves": [
            s for s in moves if s not in (rules.CaseStatus.CLOSED, rules.CaseStatus.OPEN)
        ],
        "guard_may_reopen": rules.CaseStatus.OPEN in moves,
        "guard_closed": closed,
        "guard_unmet": unmet,
        "guard_checklist": rules.closure_checklist(case.peak_level, unmet),
        "guard_review_overdue": rules.review_due(case.next_review_at, case.status, now),
        "guard_signoffs": signoffs,
        "guard_signed": any(s.user_id == actor.user_id for s in signoffs),
        "guard_checkins": checkins,
        "guard_checkin_late": {
            c.id for c in checkins if c.status == "scheduled" and c.due_at < now
        },
        "guard_firearms": _firearm_rows(db, case),
        "guard_may_firearm": may_update and can(actor, P.PEOPLE_PERSON_UPDATE),
        "guard_care_items": items,
        "guard_care_due": {i.id for i in care.due_care_reviews(db, case, now)},
        "guard_agencies": _agencies(db) if may_update and case.chronic else [],
        "guard_agency_names": dict(db.execute(select(Agency.id, Agency.name)).all())
        if items
        else {},
        "guard_workers": workers if may_update else [],
        "guard_names": queries.user_names(db, user_ids),
        "ACCESS_LABELS": {str(k): v for k, v in firearms.ACCESS_LABELS.items()},
        "CARE_ITEM_LABELS": {str(k): v for k, v in rules.CARE_ITEM_LABELS.items()},
        "CARE_ANSWER_LABELS": {str(k): v for k, v in care.CARE_ANSWER_LABELS.items()},
        "DEFAULT_CHECKINS": rules.DEFAULT_CHECKINS,
    }


def _agencies(db: Session) -> list[Agency]:
    return list(db.scalars(select(Agency).where(Agency.active.is_(True)).order_by(Agency.name)))


# --- form plumbing ---------------------------------------------------------------------------


_text = case_forms.text


_id = chosen_id


def _days(values: dict[str, Any], name: str) -> int:
    text = _text(values, name).strip()
    if not text.isdigit():
        raise ValidationFailed(f"{name}: a whole number of days", field=name)
    return int(text)


def _form(request: Request, db: Session, actor: Actor, case_id: int, submitted: Any) -> CaseForm:
    """The case (the actor must be able to change it) and the submitted fields."""
    return case_forms.case_form(request, db, actor, case_id, submitted, "guardrails")


# --- status, closing, re-opening -------------------------------------------------------------


@router.post("/cases/{case_id}/status")
def move_status(
    request: Request, db: Db, ctx: Ctx, actor: CurrentActor, case_id: int, submitted: SubmittedForm
) -> Response:
    """Move the case along the table of transitions."""
    f = _form(request, db, actor, case_id, submitted)
    return f.act("status", lambda: lifecycle.move(
        db, actor, f.case, to=f.text("status"), reason=f.text("reason"), now=ctx.clock.now()
    ))  # fmt: skip


@router.post("/cases/{case_id}/close")
def close_case(
    request: Request, db: Db, ctx: Ctx, actor: CurrentActor, case_id: int, submitted: SubmittedForm
) -> Response:
    """Close the case when nothing is missing; otherwise the page lists every missing
    condition (``#closure-missing``) and nothing is saved."""
    f = _form(request, db, actor, case_id, submitted)
    return f.act("close", lambda: lifecycle.close(
        db, actor, f.case, reason=f.text("reason"), now=ctx.clock.now()
    ))  # fmt: skip


@router.post("/cases/{case_id}/reopen")
def reopen_case(
    request: Request, db: Db, ctx: Ctx, actor: CurrentActor, case_id: int, submitted: SubmittedForm
) -> Response:
    """Open a closed or monitored case again (a new cycle), with a reason."""
    f = _form(request, db, actor, case_id, submitted)
    return f.act("reopen", lambda: lifecycle.reopen(
        db, actor, f.case, reason=f.text("reason"), now=ctx.clock.now()
    ))  # fmt: skip


# --- the lead, the plan, the transfer, sign-offs ---------------------------------------------


@router.post("/cases/{case_id}/lead")
def reassign_lead(
    request: Request, db: Db, ctx: Ctx, actor: CurrentActor, case_id: int, submitted: SubmittedForm
) -> Response:
    """Hand the case to another lead, with a reason."""
    f = _form(request, db, actor, case_id, submitted)
    return f.act("lead", lambda: lifecycle.reassign_lead(
        db, actor, f.case, lead_user_id=_id(f.values, "lead_user_id", "the new lead"),
        reason=f.text("reason"), now=ctx.clock.now(),
    ))  # fmt: skip


@router.post("/cases/{case_id}/plan-outcome")
def plan_outcome(
    request: Request, db: Db, ctx: Ctx, actor: CurrentActor, case_id: int, submitted: SubmittedForm
) -> Response:
    """Record what the management plan achieved."""
    f = _form(request, db, actor, case_id, submitted)
    return f.act("plan", lambda: lifecycle.record_plan_outcome(
        db, actor, f.case, outcome=f.text("outcome"), now=ctx.clock.now()
    ))  # fmt: skip


@router.post("/cases/{case_id}/transfer")
def transfer(
    request: Request, db: Db, ctx: Ctx, actor: CurrentActor, case_id: int, submitted: SubmittedForm
) -> Response:
    """Document that another team or agency took the case over."""
    f = _form(request, db, actor, case_id, submitted)
    return f.act("transfer", lambda: lifecycle.record_transfer(
        db, actor, f.case, note=f.text("transfer_note"), now=ctx.clock.now()
    ))  # fmt: skip


@router.post("/cases/{case_id}/sign-off")
def sign_off(
    request: Request, db: Db, ctx: Ctx, actor: CurrentActor, case_id: int, submitted: SubmittedForm
) -> Response:
    """The actor signs off that the case may close (once a cycle)."""
    f = _form(request, db, actor, case_id, submitted)
    return f.act("signoff", lambda: lifecycle.sign_off(
        db, actor, f.case, note=f.text("note"), now=ctx.clock.now()
    ))  # fmt: skip


# --- monitoring ------------------------------------------------------------------------------


@router.post("/cases/{case_id}/checkins")
def schedule_checkins(
    request: Request, db: Db, ctx: Ctx, actor: CurrentActor, case_id: int, submitted: SubmittedForm
) -> Response:
    """Schedule the default plan (30, 90 and 180 days from now) or one check-in on a date."""
    f, now = _form(request, db, actor, case_id, submitted), ctx.clock.now()

    def work() -> object:
        dates = rules.default_checkins(now) if f.text("plan") == "default" else [f.day("due_on")]
        owner = _id(f.values, "owner_user_id", "an owner") if f.text("owner_user_id") else None
        return lifecycle.schedule_checkins(
            db, actor, f.case, dates=dates, owner_user_id=owner, now=now
        )

    return f.act("checkins", work)


@router.post("/cases/{case_id}/checkins/{checkin_id}/done")
def checkin_done(
    request: Request,
    db: Db,
    ctx: Ctx,
    actor: CurrentActor,
    case_id: int,
    checkin_id: int,
    submitted: SubmittedForm,
) -> Response:
    """Record what a check-in found; its link in the chain is done."""
    f = _form(request, db, actor, case_id, submitted)
    checkin = db.get(CheckIn, checkin_id)
    if checkin is None or checkin.case_id != f.case.id:
        raise NotFound(f"No check-in with id {checkin_id} on this case.")
    return f.act(f"checkin-{checkin.id}", lambda: lifecycle.complete_checkin(
        db, actor, f.case, checkin, outcome=f.text("outcome"), now=ctx.clock.now()
    ))  # fmt: skip


@router.post("/cases/{case_id}/subjects/{person_id}/firearm-access")
def firearm_access(
    request: Request,
    db: Db,
    ctx: Ctx,
    actor: CurrentActor,
    case_id: int,
    person_id: int,
    submitted: SubmittedForm,
) -> Response:
    """Record what is known about a subject's access to firearms, with its source."""
    f = _form(request, db, actor, case_id, submitted)
    if person_id not in queries.subject_ids_of(db, f.case):
        raise NotFound(f"No subject with id {person_id} on this case.")
    return f.act(f"firearm-{person_id}", lambda: firearms.record(
        db, actor, person_id=person_id, status=f.text("status"), source=f.text("source"),
        detail=f.text("detail"), now=ctx.clock.now(),
    ))  # fmt: skip


# --- chronic cases ---------------------------------------------------------------------------


@router.post("/cases/{case_id}/chronic")
def set_chronic(
    request: Request, db: Db, ctx: Ctx, actor: CurrentActor, case_id: int, submitted: SubmittedForm
) -> Response:
    """Start (optionally with the after-hold items) or end a case's long-term plan."""
    f = _form(request, db, actor, case_id, submitted)
    return f.act("chronic", lambda: care.set_chronic(
        db, actor, f.case, chronic=f.text("chronic") == "on",
        with_after_hold=f.text("with_after_hold") == "on", reason=f.text("reason"),
        now=ctx.clock.now(),
    ))  # fmt: skip


@router.post("/cases/{case_id}/care-items")
def add_care_item(
    request: Request, db: Db, ctx: Ctx, actor: CurrentActor, case_id: int, submitted: SubmittedForm
) -> Response:
    """Add an item to a chronic case's long-term plan."""
    f = _form(request, db, actor, case_id, submitted)
    return f.act("care-item", lambda: care.add_care_item(
        db, actor, f.case, kind=f.text("kind"), title=f.text("title"),
        agency_id=_id(f.values, "agency_id", "the responsible agency"),
        review_every_days=_days(f.values, "review_every_days"), now=ctx.clock.now(),
    ))  # fmt: skip


@router.post("/cases/{case_id}/care-items/{item_id}")
def update_care_item(
    request: Request,
    db: Db,
    ctx: Ctx,
    actor: CurrentActor,
    case_id: int,
    item_id: int,
    submitted: SubmittedForm,
) -> Response:
    """Review an item (``action=review``: answer and note) or take it off the plan
    (``action=deactivate``: a reason)."""
    f, now = _form(request, db, actor, case_id, submitted), ctx.clock.now()
    item = db.get(CarePlanItem, item_id)
    if item is None or item.case_id != f.case.id:
        raise NotFound(f"No care-plan item with id {item_id} on this case.")

    def work() -> object:
        if f.text("action") == "deactivate":
            return care.deactivate_care_item(
                db, actor, f.case, item, reason=f.text("reason"), now=now
            )
        if f.text("action") != "review":
            raise ValidationFailed("action: review the item or take it off", field="action")
        return care.update_care_item(
            db, actor, f.case, item, answer=f.text("answer"), note=f.text("note"), now=now
        )

    return f.act(f"care-{item.id}", work)


# --- a jurisdiction's case settings ----------------------------------------------------------


def _settings_page(
    request: Request,
    db: Session,
    actor: Actor,
    jurisdiction: Jurisdiction | None,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    saved: bool = False,
) -> Response:
    current = queries.case_settings(db, jurisdiction.id if jurisdiction else None)
    shown = {case_settings.review_field(k.value): str(v) for k, v in current.review_days.items()}
    shown["tripwire"] = current.tripwire.value
    context = {
        "jurisdictions": access_queries.jurisdictions(db, actor),
        "jurisdiction": jurisdiction,
        "values": {**shown, **(values or {})},
        "saved": saved,
        "errors": errors or {},
        "levels": list(reversed(rules.LevelOfConcern)),
        "LEVEL_LABELS": {str(k): v for k, v in rules.LEVEL_OF_CONCERN_LABELS.items()},
        "DEFAULT_REVIEW_DAYS": {str(k): v for k, v in rules.DEFAULT_REVIEW_DAYS.items()},
        "review_field": case_settings.review_field,
        "FIELD_NAMES": {
            "jurisdiction_id": "Jurisdiction",
            "tripwire": "New information on a closed or monitored case",
            **{case_settings.review_field(k): f"{v} concern: review every (days)"
               for k, v in rules.LEVEL_OF_CONCERN_LABELS.items()},
        },
    }  # fmt: skip
    return render_form(request, "admin/case_settings.html", context, errors or {})


def _jurisdiction(db: Session, actor: Actor, raw: str) -> Jurisdiction | None:
    """The chosen jurisdiction, the first by name when none is chosen."""
    if raw.strip():
        found: Jurisdiction | None = (
            db.get(Jurisdiction, int(raw)) if raw.strip().isdigit() else None
        )
        if found is None:
            raise NotFound(f"No jurisdiction with id {raw}.")
        return found
    listed = access_queries.jurisdictions(db, actor)
    return listed[0] if listed else None


@router.get("/admin/case-settings")
def case_settings_form(
    request: Request, db: Db, actor: CurrentActor, jurisdiction_id: str = "", saved: int = 0
) -> Response:
    """A jurisdiction's review cadence by level of concern and its tripwire mode."""
    require(actor, P.ACCESS_JURISDICTION_WRITE)
    jurisdiction = _jurisdiction(db, actor, jurisdiction_id)
    return _settings_page(request, db, actor, jurisdiction, saved=bool(saved))


@router.post("/admin/case-settings")
def save_case_settings(
    request: Request, db: Db, ctx: Ctx, actor: CurrentActor, submitted: SubmittedForm
) -> Response:
    """Save a jurisdiction's case settings; every problem is named by its field."""
    require(actor, P.ACCESS_JURISDICTION_WRITE)
    values = form_values(submitted)
    raw = _text(values, "jurisdiction_id").strip()
    jurisdiction = db.get(Jurisdiction, int(raw)) if raw.isdigit() else None
    if jurisdiction is None:
        raise NotFound(f"No jurisdiction with id {raw or '(none)'}.")
    typed = {
        k.value: _text(values, case_settings.review_field(k.value)) for k in rules.LevelOfConcern
    }
    try:
        case_settings.set_case_settings(
            db, actor, jurisdiction_id=jurisdiction.id, review_days=typed,
            tripwire=_text(values, "tripwire"), now=ctx.clock.now(),
        )  # fmt: skip
    except case_settings.CaseSettingsInvalid as exc:
        return _settings_page(request, db, actor, jurisdiction, values=values, errors=exc.errors)
    target = f"/admin/case-settings?jurisdiction_id={jurisdiction.id}&saved=1"
    return RedirectResponse(target, status_code=303)
