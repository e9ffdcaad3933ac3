"""The person registry: the review queue, a review item side by side, a person's page,
and the decisions on them (decide, merge, split, undo). Every decision needs a reason."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from defchain import cases
from defchain.access import Actor, Agency, Permission, can, load_for, require
from defchain.errors import DomainError, NotFound
from defchain.firearms import watch
from defchain.intake import CHANNEL_LABELS, KIND_LABELS, Report
from defchain.people import Person, PersonChange, ReportLink, queries, service
from defchain.people.identifiers import KIND_LABELS as IDENTIFIER_LABELS
from defchain.people.identifiers import Kind
from defchain.triage import service as triage
from defchain.web import report_forms as rf
from defchain.web.deps import Ctx, CurrentActor, Db, SubmittedForm, mark_rollback
from defchain.web.forms import domain_error_fields
from defchain.web.templating import render

router = APIRouter()
P = Permission
PAGE_SIZE = 50
MAX_REASON = 2000
# How each form field is named in error messages.
FIELD_NAMES = {
    "reason": "Reason",
    "choice": "Decision",
    "merge_id": "Person to merge",
    "identifier_ids": "Identifiers to split off",
    "link_ids": "Reports to split off",
    "identifiers": "Identifiers to split off",
    "links": "Reports to split off",
    "person": "Person",
    "change": "Change",
    "review": "Review",
    "form": "Form",
}


def _zone(db: Session, actor: Actor) -> ZoneInfo:
    agency = db.get(Agency, actor.agency_id) if actor.agency_id else None
    return rf.zone(agency.jurisdiction.timezone if agency else None)


def _text(form: FormData, name: str, limit: int = MAX_REASON) -> str:
    raw = form.get(name)
    return raw[:limit] if isinstance(raw, str) else ""


def _common(db: Session, actor: Actor) -> dict[str, Any]:
    tz = _zone(db, actor)
    return {
        "local": lambda moment: rf.local_time(moment, tz),
        "KIND_LABELS": KIND_LABELS,
        "CHANNEL_LABELS": CHANNEL_LABELS,
        "IDENTIFIER_LABELS": {str(k): v for k, v in IDENTIFIER_LABELS.items()},
        "FIELD_NAMES": FIELD_NAMES,
        "may_update": can(actor, P.PEOPLE_PERSON_UPDATE),
    }


def _error_status(exc: DomainError) -> int:
    return exc.status_code if 400 <= exc.status_code < 500 else 422


# --- the review queue --------------------------------------------------------------------


@router.get("/people/review")
def review_queue(
    request: Request,
    db: Db,
    actor: CurrentActor,
    page: int = Query(default=1, ge=1, le=100_000),
) -> Response:
    """Grey-zone pairs waiting for a person, oldest first (reports the actor may see)."""
    require(actor, P.PEOPLE_PERSON_READ)
    rows, total = queries.review_queue(db, actor, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    context = {
        **_common(db, actor),
        "rows": rows,
        "total": total,
        "page": page,
        "has_next": page * PAGE_SIZE < total,
    }
    return render(request, "people/queue.html", context)


def _review_page(
    request: Request,
    db: Session,
    actor: Actor,
    item_id: int,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    model = queries.review_item(db, actor, item_id)
    if errors:
        mark_rollback(request)
    context = {
        **_common(db, actor),
        "page": model,
        "errors": errors or {},
        "values": values or {},
    }
    return render(request, "people/review.html", context, status_code=status)


@router.get("/people/review/{item_id}")
def review_item(request: Request, db: Db, actor: CurrentActor, item_id: int) -> Response:
    """The report's subject next to each candidate person, field by field."""
    require(actor, P.PEOPLE_PERSON_READ)
    return _review_page(request, db, actor, item_id)


@router.post("/people/review/{item_id}/decide")
def decide(
    request: Request,
    db: Db,
    ctx: Ctx,
    actor: CurrentActor,
    item_id: int,
    submitted: SubmittedForm,
) -> Response:
    """Same person as one candidate, or a new person; the reason is required."""
    require(actor, P.PEOPLE_PERSON_UPDATE)
    model = queries.review_item(db, actor, item_id)  # 404 unless its report is visible
    choice = _text(submitted, "choice", 20)
    reason = _text(submitted, "reason")
    values = {"choice": choice, "reason": reason}
    errors: dict[str, str] = {}
    offered = {c.person.id for c in model.candidates}
    person_id: int | None = None
    if choice == "new":
        person_id = None
    elif choice.isdigit() and int(choice) in offered:
        person_id = int(choice)
    elif not choice:
        errors["choice"] = "choose a candidate or a new person."
    else:
        errors["choice"] = "choose one of the candidates shown, or a new person."
    if not reason.strip():
        errors["reason"] = "say why."
    if errors:
        return _review_page(request, db, actor, item_id, errors, values, 422)
    try:
        link = service.decide_review(
            db,
            actor=actor,
            item_id=item_id,
            person_id=person_id,
            reason=reason,
            now=ctx.clock.now(),
        )
    except DomainError as exc:
        mark_rollback(request)
        return _review_page(
            request, db, actor, item_id, domain_error_fields(exc), values, _error_status(exc)
        )
    # Who the report is about is now known: the triage rules look again.
    report = db.get(Report, link.report_id)
    if report is not None and report.processed_at is not None:
        triage.after_person_linked(db, report=report, now=ctx.clock.now())
    return RedirectResponse(f"/people/{link.person_id}?decided={item_id}", status_code=303)


# --- merge proposals from people relink ----------------------------------------------------


def _proposals_page(
    request: Request,
    db: Session,
    actor: Actor,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    active: int | None = None,
    status: int = 200,
) -> Response:
    if errors:
        mark_rollback(request)
    context = {
        **_common(db, actor),
        "rows": queries.open_proposals(db, limit=PAGE_SIZE),
        "errors": errors or {},
        "values": values or {},
        "active": active,
    }
    return render(request, "people/proposals.html", context, status_code=status)


@router.get("/people/proposals")
def proposals(request: Request, db: Db, actor: CurrentActor) -> Response:
    """Pairs of persons a batch re-scoring found likely to be one: merge, or keep apart."""
    require(actor, P.PEOPLE_PERSON_READ)
    return _proposals_page(request, db, actor)


@router.post("/people/proposals/{proposal_id}/decide")
def decide_proposal(
    request: Request,
    db: Db,
    ctx: Ctx,
    actor: CurrentActor,
    proposal_id: int,
    submitted: SubmittedForm,
) -> Response:
    """Merge the pair (the older person is kept) or record that they differ; with a reason."""
    require(actor, P.PEOPLE_PERSON_UPDATE)
    choice = _text(submitted, "choice", 20)
    reason = _text(submitted, "reason")
    values = {"choice": choice, "reason": reason}
    errors: dict[str, str] = {}
    if choice not in ("merge", "distinct"):
        errors["choice"] = "choose merge or keep apart."
    if not reason.strip():
        errors["reason"] = "say why."
    if errors:
        return _proposals_page(request, db, actor, errors, values, proposal_id, 422)
    try:
        proposal = service.decide_proposal(
            db,
            actor=actor,
            proposal_id=proposal_id,
            merge_them=choice == "merge",
            reason=reason,
            now=ctx.clock.now(),
        )
    except DomainError as exc:
        mark_rollback(request)
        return _proposals_page(
            request, db, actor, domain_error_fields(exc), values, proposal_id, _error_status(exc)
        )
    return RedirectResponse(f"/people/{proposal.person_a_id}", status_code=303)


# --- a person's page ---------------------------------------------------------------------


def _person_page(
    request: Request,
    db: Session,
    actor: Actor,
    person_id: int,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    active_form: str = "",
    status: int = 200,
    notice: dict[str, int] | None = None,
) -> Response:
    model = queries.person_page(db, actor, person_id)
    if errors:
        mark_rollback(request)
    context = {
        **_common(db, actor),
        "page": model,
        "person": model.person,
        "errors": errors or {},
        "values": values or {},
        "active_form": active_form,
        "notice": notice or {},
        "KINDS": [str(k) for k in Kind],
        "on_watch": watch.on_watch(db, model.person.id, request.app.state.ctx.clock.now()),
        "cases": cases.cases_of_person(db, actor, model.person.id)
        if can(actor, P.CASES_CASE_READ)
        else None,
    }
    return render(request, "people/person.html", context, status_code=status)


@router.get("/people/{person_id}")
def person_detail(
    request: Request,
    db: Db,
    ctx: Ctx,
    actor: CurrentActor,
    person_id: int,
    decided: int | None = Query(default=None, ge=1),
    split: int | None = Query(default=None, ge=1),
) -> Response:
    """Everything known about one person that the actor may see; reading it is audited.
    A merged person shows the person they were merged into, and says so."""
    person = load_for(db, actor, "person", person_id, P.PEOPLE_PERSON_READ)
    current, _ = queries.surviving(db, person.id)
    service.record_view(db, actor=actor, person=current, now=ctx.clock.now())
    notice = {k: v for k, v in (("decided", decided), ("split", split)) if v}
    return _person_page(request, db, actor, person.id, notice=notice)


def _ids(form: FormData, name: str) -> tuple[list[int], bool]:
    """The numbers submitted under ``name``, and whether every value was a number."""
    raw = [v for v in form.getlist(name) if isinstance(v, str)]
    ids = [int(v) for v in raw if v.strip().isdigit()]
    return ids, len(ids) == len(raw)


@router.post("/people/{person_id}/merge")
def merge(
    request: Request,
    db: Db,
    ctx: Ctx,
    actor: CurrentActor,
    person_id: int,
    submitted: SubmittedForm,
) -> Response:
    """Another person is this one: everything of theirs moves here (undoable)."""
    person: Person = load_for(db, actor, "person", person_id, P.PEOPLE_PERSON_UPDATE)
    raw = _text(submitted, "merge_id", 20).strip().lstrip("#")
    reason = _text(submitted, "reason")
    values = {"merge_id": raw, "reason": reason}
    errors: dict[str, str] = {}
    if not raw.isdigit():
        errors["merge_id"] = "enter the number of a person, e.g. 12."
    if not reason.strip():
        errors["reason"] = "say why."

    def again(found: dict[str, str], status: int) -> Response:
        return _person_page(
            request, db, actor, person.id, errors=found, values=values,
            active_form="merge", status=status,
        )  # fmt: skip

    if errors:
        return again(errors, 422)
    try:
        service.merge(
            db,
            actor=actor,
            keep_id=person.id,
            merge_id=int(raw),
            reason=reason,
            now=ctx.clock.now(),
        )
    except NotFound as exc:
        mark_rollback(request)
        return again({"merge_id": exc.message}, 404)
    except DomainError as exc:
        mark_rollback(request)
        return again(domain_error_fields(exc), _error_status(exc))
    return RedirectResponse(f"/people/{person.id}#history", status_code=303)


@router.post("/people/{person_id}/split")
def split(
    request: Request,
    db: Db,
    ctx: Ctx,
    actor: CurrentActor,
    person_id: int,
    submitted: SubmittedForm,
) -> Response:
    """Some identifiers and reports belong to someone else: they become a new person."""
    person: Person = load_for(db, actor, "person", person_id, P.PEOPLE_PERSON_UPDATE)
    identifier_ids, identifiers_ok = _ids(submitted, "identifier_ids")
    link_ids, links_ok = _ids(submitted, "link_ids")
    reason = _text(submitted, "reason")
    values = {
        "identifier_ids": [str(i) for i in identifier_ids],
        "link_ids": [str(i) for i in link_ids],
        "reason": reason,
    }
    errors: dict[str, str] = {}
    # Only what this page shows the actor may be moved by them.
    model = queries.person_page(db, actor, person.id)
    shown_identifiers = {i.id for _, items in model.identifiers for i in items}
    shown_links = {row.link.id for row in model.links}
    if not identifiers_ok:
        errors["identifier_ids"] = "each must be the number of an identifier."
    elif not set(identifier_ids) <= shown_identifiers:
        errors["identifier_ids"] = "not all of these are identifiers of this person."
    if not links_ok:
        errors["link_ids"] = "each must be the number of a report link."
    elif not set(link_ids) <= shown_links:
        errors["link_ids"] = "not all of these reports are linked to this person."
    if not errors and not identifier_ids and not link_ids:
        errors["identifier_ids"] = "choose what belongs to the other person."
    if not reason.strip():
        errors["reason"] = "say why."
    if not errors:
        try:
            change = service.split(
                db,
                actor=actor,
                person_id=model.person.id,
                identifier_ids=identifier_ids,
                link_ids=link_ids,
                reason=reason,
                now=ctx.clock.now(),
            )
        except DomainError as exc:
            errors = domain_error_fields(exc)
            status = _error_status(exc)
        else:
            return RedirectResponse(
                f"/people/{model.person.id}?split={change.to_person_id}#history", status_code=303
            )
    else:
        status = 422
    return _person_page(
        request, db, actor, person.id, errors=errors, values=values,
        active_form="split", status=status,
    )  # fmt: skip


def _back_to(form: FormData, fallback: int) -> int:
    raw = _text(form, "person_id", 20)
    return int(raw) if raw.isdigit() else fallback


@router.post("/people/changes/{change_id}/undo")
def undo_change(
    request: Request,
    db: Db,
    ctx: Ctx,
    actor: CurrentActor,
    change_id: int,
    submitted: SubmittedForm,
) -> Response:
    """Undo a merge or a split: what moved moves back; the history keeps both."""
    require(actor, P.PEOPLE_PERSON_UPDATE)
    change = db.get(PersonChange, change_id)
    if change is None:
        raise NotFound(f"No merge or split with id {change_id}.")
    reason = _text(submitted, "reason")
    back = _back_to(submitted, change.to_person_id)

    def again(found: dict[str, str], status: int) -> Response:
        return _person_page(
            request, db, actor, back, errors=found, values={"reason": reason},
            active_form=f"change-{change_id}", status=status,
        )  # fmt: skip

    if not reason.strip():
        return again({"reason": "say why."}, 422)
    try:
        reverse = service.undo(
            db, actor=actor, change_id=change.id, reason=reason, now=ctx.clock.now()
        )
    except DomainError as exc:
        mark_rollback(request)
        return again(domain_error_fields(exc), _error_status(exc))
    target, _ = queries.surviving(db, reverse.to_person_id)
    return RedirectResponse(f"/people/{target.id}#history", status_code=303)


@router.post("/people/links/{link_id}/undo")
def undo_link(
    request: Request,
    db: Db,
    ctx: Ctx,
    actor: CurrentActor,
    link_id: int,
    submitted: SubmittedForm,
) -> Response:
    """Take a report off its person; it goes back to the review queue."""
    require(actor, P.PEOPLE_PERSON_UPDATE)
    link = db.get(ReportLink, link_id)
    if (
        link is None
        or link.undone_at is not None
        or not queries.visible_report_ids(db, actor, [link.report_id])
    ):
        raise NotFound(f"No active link with id {link_id}.")
    reason = _text(submitted, "reason")
    person, _ = queries.surviving(db, link.person_id)
    if not reason.strip():
        return _person_page(
            request, db, actor, person.id, errors={"reason": "say why."},
            values={"reason": reason}, active_form=f"link-{link.id}", status=422,
        )  # fmt: skip
    try:
        item = service.undo_link(
            db, actor=actor, link_id=link.id, reason=reason, now=ctx.clock.now()
        )
    except DomainError as exc:
        mark_rollback(request)
        return _person_page(
            request, db, actor, person.id, errors=domain_error_fields(exc),
            values={"reason": reason}, active_form=f"link-{link.id}",
            status=_error_status(exc),
        )  # fmt: skip
    return RedirectResponse(f"/people/review/{item.id}", status_code=303)
