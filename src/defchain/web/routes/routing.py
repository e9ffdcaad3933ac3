"""Administration of routing rules: the ordered list, the rule form, and the tester that
routes a made-up report and says why each rule did or did not match."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from defchain.access import Actor, Permission, queries, require
from defchain.errors import DomainError
from defchain.intake.rules import KIND_LABELS
from defchain.triage import routing_service as service
from defchain.triage.routing import Route, conditions
from defchain.triage.rules import PRIORITY_LABELS
from defchain.triage.schemas import RoutingRuleIn, SampleIn
from defchain.web.deps import Ctx, CurrentActor, Db, SubmittedForm, mark_rollback
from defchain.web.forms import FormResult, domain_error_fields, form_values, parse
from defchain.web.templating import render

router = APIRouter(prefix="/admin/routing")
P = Permission

RULE_LISTS = ("kinds", "priorities", "info_agency_ids")
SAMPLE_FIELDS = ("kind", "jurisdiction_id", "from_agency_id", "school", "employer", "priority")

# What each field is called on these pages (errors name the field by its label).
LABELS = {
    "name": "Name",
    "active": "Active",
    "jurisdiction_id": "Jurisdiction",
    "kinds": "Report kinds",
    "priorities": "Priorities",
    "school_contains": "School contains",
    "employer_contains": "Workplace contains",
    "from_agency_id": "Received by",
    "agency_id": "Owning agency",
    "team_id": "Owning team",
    "info_agency_ids": "Info-only copies to",
    "kind": "Report kind",
    "school": "Subject's school",
    "employer": "Subject's workplace",
    "priority": "Priority",
    "direction": "Direction",
    "rule": "Rule",
    "form": "Form",
}


def _errors_of(exc: DomainError) -> dict[str, str]:
    """Every field a service names (``InputInvalid`` may name several)."""
    errors = getattr(exc, "errors", None)
    if isinstance(errors, dict) and errors:
        return {str(k): str(v) for k, v in errors.items()}
    return domain_error_fields(exc)


def _options(db: Session, actor: Actor) -> dict[str, Any]:
    """The choices the forms offer, and the labels their errors use."""
    return {
        "labels": LABELS,
        "kind_options": [(k.value, label) for k, label in KIND_LABELS.items()],
        "priority_options": [(p.value, label) for p, label in PRIORITY_LABELS.items()],
        "jurisdiction_options": [(j.id, j.name) for j in queries.jurisdictions(db, actor)],
        "agency_options": [
            (a.id, a.name if a.active else f"{a.name} (inactive)")
            for a in queries.agencies(db, actor)
        ],
        "team_options": [(t.id, t.name) for t in queries.teams(db, actor)],
    }


def _list_context(db: Session, actor: Actor) -> dict[str, Any]:
    """The ordered rules, each with its conditions in words, and the tester's choices."""
    words = service.names(db)
    rules = service.list_rules(db)
    return {
        **_options(db, actor),
        "rules": [
            {"rule": rule, "conditions": conditions(service.spec_of(rule), words)} for rule in rules
        ],
        "rule_names": {rule.id: rule.name for rule in rules},
        "names": words,
    }


def _rule_values(values: dict[str, Any]) -> dict[str, Any]:
    # An unticked checkbox is absent from the form: that means "inactive".
    values["active"] = "true" if values.get("active") == "on" else "false"
    return values


def _rule_form(
    request: Request,
    db: Session,
    actor: Actor,
    record: Any,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
) -> Response:
    context = {**_options(db, actor), "record": record, "values": values, "errors": errors or {}}
    if errors:
        mark_rollback(request)
        return render(request, "admin/routing_form.html", context, status_code=422)
    return render(request, "admin/routing_form.html", context)


def _save(
    request: Request,
    db: Session,
    actor: Actor,
    record: Any,
    result: FormResult[RoutingRuleIn],
    action: Callable[[RoutingRuleIn], Any],
) -> Response:
    """Run ``action`` on a valid form and go back to the list; else re-show the form with
    what was typed and every error (and nothing is kept)."""
    if result.model is None:
        return _rule_form(request, db, actor, record, result.values, result.errors)
    try:
        saved = action(result.model)
    except DomainError as exc:
        return _rule_form(request, db, actor, record, result.values, _errors_of(exc))
    return RedirectResponse(f"/admin/routing?saved={saved.id}#rule-{saved.id}", status_code=303)


@router.get("")
def rules(request: Request, db: Db, actor: CurrentActor) -> Response:
    """Every routing rule in the order they are tried, and the tester."""
    require(actor, P.TRIAGE_ROUTING_MANAGE)
    return render(request, "admin/routing.html", _list_context(db, actor))


@router.get("/new")
def rule_new(request: Request, db: Db, actor: CurrentActor) -> Response:
    """An empty rule form."""
    require(actor, P.TRIAGE_ROUTING_MANAGE)
    values = {"active": "true", "kinds": [], "priorities": [], "info_agency_ids": []}
    return _rule_form(request, db, actor, None, values)


@router.post("/new")
def rule_create(
    request: Request, db: Db, ctx: Ctx, actor: CurrentActor, form: SubmittedForm
) -> Response:
    """Save a new rule at the end of the list."""
    require(actor, P.TRIAGE_ROUTING_MANAGE)
    values = _rule_values(form_values(form, list_fields=RULE_LISTS))
    result = parse(RoutingRuleIn, values, fields=service.RULE_FIELDS)
    return _save(
        request,
        db,
        actor,
        None,
        result,
        lambda m: service.create_rule(db, actor=actor, data=m, now=ctx.clock.now()),
    )


@router.post("/test")
def rule_test(request: Request, db: Db, actor: CurrentActor, form: SubmittedForm) -> Response:
    """Route a made-up report: which rule matches, who owns it, and why the earlier rules
    did not match. Nothing is written."""
    require(actor, P.TRIAGE_ROUTING_MANAGE)
    values = form_values(form)
    result = parse(SampleIn, values, fields=SAMPLE_FIELDS)
    context = _list_context(db, actor)
    context["values"] = values
    errors = result.errors
    outcome: Route | None = None
    if result.model is not None:
        try:
            outcome = service.try_route(db, actor=actor, sample_data=result.model.model_dump())
        except DomainError as exc:
            errors = _errors_of(exc)
    if outcome is None:
        mark_rollback(request)
        return render(request, "admin/routing.html", {**context, "errors": errors}, status_code=422)
    return render(request, "admin/routing.html", {**context, "outcome": outcome})


@router.get("/{rule_id}")
def rule_edit(request: Request, db: Db, actor: CurrentActor, rule_id: int) -> Response:
    """The form for one rule."""
    record = service.get_rule(db, actor=actor, rule_id=rule_id)
    values: dict[str, Any] = {f: getattr(record, f) for f in service.RULE_FIELDS}
    values["active"] = "true" if record.active else "false"
    for f in service.RULE_FIELDS:
        if values[f] is None:
            values[f] = ""
    return _rule_form(request, db, actor, record, values)


@router.post("/{rule_id}")
def rule_update(
    request: Request, db: Db, ctx: Ctx, actor: CurrentActor, form: SubmittedForm, rule_id: int
) -> Response:
    """Save changes to a rule."""
    record = service.get_rule(db, actor=actor, rule_id=rule_id)
    values = _rule_values(form_values(form, list_fields=RULE_LISTS))
    result = parse(RoutingRuleIn, values, fields=service.RULE_FIELDS)
    return _save(
        request,
        db,
        actor,
        record,
        result,
        lambda m: service.update_rule(db, actor=actor, rule=record, data=m, now=ctx.clock.now()),
    )


@router.post("/{rule_id}/delete")
def rule_delete(db: Db, ctx: Ctx, actor: CurrentActor, rule_id: int) -> Response:
    """Delete a rule that never routed a report (one that did can only be switched off)."""
    record = service.get_rule(db, actor=actor, rule_id=rule_id)
    service.delete_rule(db, actor=actor, rule=record, now=ctx.clock.now())
    return RedirectResponse("/admin/routing?deleted=1", status_code=303)


@router.post("/{rule_id}/move")
def rule_move(db: Db, ctx: Ctx, actor: CurrentActor, form: SubmittedForm, rule_id: int) -> Response:
    """Move a rule one place up or down the list."""
    record = service.get_rule(db, actor=actor, rule_id=rule_id)
    direction = form.get("direction")
    service.move_rule(
        db,
        actor=actor,
        rule=record,
        direction=direction if isinstance(direction, str) else "",
        now=ctx.clock.now(),
    )
    return RedirectResponse(f"/admin/routing#rule-{rule_id}", status_code=303)
