"""Administration pages: jurisdictions, agencies, users and new teams."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from defchain.access import (
    AgencyKind,
    Label,
    Permission,
    Role,
    User,
    load_for,
    queries,
    require,
    service,
)
from defchain.access.rules import password_problem
from defchain.access.schemas import AgencyIn, JurisdictionIn, TeamIn, UserIn
from defchain.errors import DomainError, NotFound
from defchain.web.deps import Ctx, CurrentActor, Db, SubmittedForm, mark_rollback
from defchain.web.forms import FormResult, domain_error_fields, form_values, parse
from defchain.web.templating import render

router = APIRouter(prefix="/admin")
P = Permission

JURISDICTION_FIELDS = (
    "name",
    "state",
    "county",
    "city",
    "timezone",
    "intake_agency_id",
    "warning_signs_md",
)
AGENCY_FIELDS = (
    "name",
    "kind",
    "jurisdiction_id",
    "phone",
    "email",
    "active",
    "primary_contact_id",
    "secondary_contact_id",
    "head_user_id",
)
CONTACT_FIELDS = ("primary_contact_id", "secondary_contact_id", "head_user_id")
USER_FIELDS = ("username", "full_name", "email", "agency_id", "roles", "clearances")
TEAM_FIELDS = ("name", "jurisdiction_id", "description")


def _form_page(
    request: Request,
    template: str,
    context: dict[str, Any],
    result: FormResult[Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    """Re-show a form with what the user typed and every error; nothing is kept."""
    mark_rollback(request)
    context = dict(context)
    context["values"] = result.values if result else context.get("values", {})
    context["errors"] = errors or (result.errors if result else {})
    return render(request, template, context, status_code=422)


def _save(
    request: Request,
    template: str,
    context: Callable[[], dict[str, Any]],
    result: FormResult[Any],
    action: Callable[[Any], Any],
    redirect: Callable[[Any], str],
) -> Response:
    """Run ``action`` on a valid form and redirect; else re-show the form. The form's
    context (option lists from the database) is only built when the form is re-shown."""
    if result.model is None:
        return _form_page(request, template, context(), result)
    try:
        saved = action(result.model)
    except DomainError as exc:
        return _form_page(request, template, context(), result, domain_error_fields(exc))
    return RedirectResponse(redirect(saved), status_code=303)


# --- jurisdictions -------------------------------------------------------------------


@router.get("/jurisdictions")
def jurisdictions(request: Request, db: Db, actor: CurrentActor) -> Response:
    """Every jurisdiction."""
    require(actor, P.ACCESS_JURISDICTION_WRITE)
    return render(
        request, "admin/jurisdictions.html", {"jurisdictions": queries.jurisdictions(db, actor)}
    )


def _jurisdiction_context(db: Session, actor: Any, record: Any) -> dict[str, Any]:
    """The form's record and the agencies that may receive its public tips."""
    agencies = queries.agencies(db, actor)
    return {"record": record, "agency_options": [(a.id, a.name) for a in agencies]}


@router.get("/jurisdictions/new")
def jurisdiction_new(request: Request, db: Db, actor: CurrentActor) -> Response:
    """An empty jurisdiction form."""
    require(actor, P.ACCESS_JURISDICTION_WRITE)
    context = _jurisdiction_context(db, actor, None)
    context["values"] = {"timezone": "America/New_York"}
    return render(request, "admin/jurisdiction_form.html", context)


@router.post("/jurisdictions/new")
def jurisdiction_create(
    request: Request, db: Db, ctx: Ctx, actor: CurrentActor, form: SubmittedForm
) -> Response:
    """Save a new jurisdiction."""
    require(actor, P.ACCESS_JURISDICTION_WRITE)
    result = parse(JurisdictionIn, form_values(form), fields=JURISDICTION_FIELDS)
    return _save(
        request,
        "admin/jurisdiction_form.html",
        lambda: _jurisdiction_context(db, actor, None),
        result,
        lambda m: service.create_jurisdiction(db, actor=actor, data=m, now=ctx.clock.now()),
        lambda j: "/admin/jurisdictions?saved=" + str(j.id),
    )


@router.get("/jurisdictions/{jurisdiction_id}/edit")
def jurisdiction_edit(
    request: Request, db: Db, actor: CurrentActor, jurisdiction_id: int
) -> Response:
    """The form for one jurisdiction."""
    record = load_for(db, actor, "jurisdiction", jurisdiction_id, P.ACCESS_JURISDICTION_WRITE)
    context = _jurisdiction_context(db, actor, record)
    context["values"] = {f: getattr(record, f) or "" for f in JURISDICTION_FIELDS}
    return render(request, "admin/jurisdiction_form.html", context)


@router.post("/jurisdictions/{jurisdiction_id}/edit")
def jurisdiction_update(
    request: Request,
    db: Db,
    ctx: Ctx,
    actor: CurrentActor,
    form: SubmittedForm,
    jurisdiction_id: int,
) -> Response:
    """Save changes to a jurisdiction."""
    record = load_for(db, actor, "jurisdiction", jurisdiction_id, P.ACCESS_JURISDICTION_WRITE)
    result = parse(JurisdictionIn, form_values(form), fields=JURISDICTION_FIELDS)
    return _save(
        request,
        "admin/jurisdiction_form.html",
        lambda: _jurisdiction_context(db, actor, record),
        result,
        lambda m: service.update_jurisdiction(
            db, actor=actor, jurisdiction=record, data=m, now=ctx.clock.now()
        ),
        lambda j: "/admin/jurisdictions?saved=" + str(j.id),
    )


# --- agencies ------------------------------------------------------------------------


def _agency_context(db: Session, actor: Any, record: Any) -> dict[str, Any]:
    return {
        "record": record,
        "kinds": list(AgencyKind),
        "jurisdictions": queries.jurisdictions(db, actor),
        "contact_options": _contact_options(db, record),
    }


def _contact_options(db: Session, record: Any) -> list[tuple[int, str]]:
    """The agency's active users, and whoever is a contact now (even if disabled since),
    for the escalation contact selects; a new agency has no users yet."""
    if record is None:
        return []
    current = {getattr(record, f) for f in CONTACT_FIELDS}
    return [
        (u.id, f"{u.full_name} ({u.username})" + (" - disabled" if u.disabled else ""))
        for u in queries.agency_members(db, record.id)
        if not u.disabled or u.id in current
    ]


def _agency_values(values: dict[str, Any]) -> dict[str, Any]:
    # An unticked checkbox is absent from the form: that means "inactive".
    values["active"] = "true" if values.get("active") == "on" else "false"
    return values


@router.get("/agencies")
def agencies(request: Request, db: Db, actor: CurrentActor) -> Response:
    """Every agency."""
    require(actor, P.ACCESS_AGENCY_WRITE)
    return render(request, "admin/agencies.html", {"agencies": queries.agencies(db, actor)})


@router.get("/agencies/new")
def agency_new(request: Request, db: Db, actor: CurrentActor) -> Response:
    """An empty agency form."""
    require(actor, P.ACCESS_AGENCY_WRITE)
    context = _agency_context(db, actor, None)
    context["values"] = {"active": "true"}
    return render(request, "admin/agency_form.html", context)


@router.post("/agencies/new")
def agency_create(
    request: Request, db: Db, ctx: Ctx, actor: CurrentActor, form: SubmittedForm
) -> Response:
    """Save a new agency."""
    require(actor, P.ACCESS_AGENCY_WRITE)
    values = _agency_values(form_values(form))
    result = parse(AgencyIn, values, fields=AGENCY_FIELDS)
    return _save(
        request,
        "admin/agency_form.html",
        lambda: _agency_context(db, actor, None),
        result,
        lambda m: service.create_agency(db, actor=actor, data=m, now=ctx.clock.now()),
        lambda a: f"/agencies/{a.id}",
    )


@router.get("/agencies/{agency_id}/edit")
def agency_edit(request: Request, db: Db, actor: CurrentActor, agency_id: int) -> Response:
    """The form for one agency."""
    record = load_for(db, actor, "agency", agency_id, P.ACCESS_AGENCY_WRITE)
    context = _agency_context(db, actor, record)
    context["values"] = {f: getattr(record, f) for f in AGENCY_FIELDS}
    context["values"]["active"] = "true" if record.active else "false"
    return render(request, "admin/agency_form.html", context)


@router.post("/agencies/{agency_id}/edit")
def agency_update(
    request: Request, db: Db, ctx: Ctx, actor: CurrentActor, form: SubmittedForm, agency_id: int
) -> Response:
    """Save changes to an agency."""
    record = load_for(db, actor, "agency", agency_id, P.ACCESS_AGENCY_WRITE)
    values = _agency_values(form_values(form))
    result = parse(AgencyIn, values, fields=AGENCY_FIELDS)
    return _save(
        request,
        "admin/agency_form.html",
        lambda: _agency_context(db, actor, record),
        result,
        lambda m: service.update_agency(
            db, actor=actor, agency=record, data=m, now=ctx.clock.now()
        ),
        lambda a: f"/agencies/{a.id}",
    )


# --- users ---------------------------------------------------------------------------


def _user_context(db: Session, actor: Any, record: User | None) -> dict[str, Any]:
    return {
        "record": record,
        "roles": list(Role),
        "labels": list(Label),
        "agencies": queries.agencies(db, actor),
    }


@router.get("/users")
def users(request: Request, db: Db, ctx: Ctx, actor: CurrentActor) -> Response:
    """Every account, with its state."""
    require(actor, P.ACCESS_USER_WRITE)
    return render(
        request, "admin/users.html", {"users": queries.users(db, actor), "now": ctx.clock.now()}
    )


@router.get("/users/new")
def user_new(request: Request, db: Db, actor: CurrentActor) -> Response:
    """An empty user form."""
    require(actor, P.ACCESS_USER_WRITE)
    context = _user_context(db, actor, None)
    context["values"] = {"roles": [], "clearances": []}
    return render(request, "admin/user_form.html", context)


@router.post("/users/new")
def user_create(
    request: Request, db: Db, ctx: Ctx, actor: CurrentActor, form: SubmittedForm
) -> Response:
    """Save a new user with an initial password."""
    require(actor, P.ACCESS_USER_WRITE)
    values = form_values(form, list_fields=("roles", "clearances"))
    password = values.pop("password", "")
    result = parse(UserIn, values, fields=USER_FIELDS)
    # Report a password problem together with the other fields' problems.
    problem = (
        "is required"
        if not password
        else password_problem(password, username=str(values.get("username", "")))
    )
    if problem:
        result = FormResult(values=values, errors={**result.errors, "password": problem})
    return _save(
        request,
        "admin/user_form.html",
        lambda: _user_context(db, actor, None),
        result,
        lambda m: service.create_user(
            db, actor=actor, data=m, password=password, now=ctx.clock.now()
        ),
        lambda u: f"/admin/users/{u.id}/edit?saved=1",
    )


@router.get("/users/{user_id}/edit")
def user_edit(
    request: Request, db: Db, ctx: Ctx, actor: CurrentActor, user_id: int, saved: str | None = None
) -> Response:
    """The form for one user, with account actions."""
    record = load_for(db, actor, "user", user_id, P.ACCESS_USER_WRITE)
    context = _user_context(db, actor, record)
    context["values"] = {f: getattr(record, f) for f in USER_FIELDS}
    context["saved"] = bool(saved)
    context["now"] = ctx.clock.now()
    return render(request, "admin/user_form.html", context)


@router.post("/users/{user_id}/edit")
def user_update(
    request: Request, db: Db, ctx: Ctx, actor: CurrentActor, form: SubmittedForm, user_id: int
) -> Response:
    """Save changes to a user's profile, roles and clearances."""
    record = load_for(db, actor, "user", user_id, P.ACCESS_USER_WRITE)
    values = form_values(form, list_fields=("roles", "clearances"))
    result = parse(UserIn, values, fields=USER_FIELDS)
    return _save(
        request,
        "admin/user_form.html",
        lambda: {**_user_context(db, actor, record), "now": ctx.clock.now()},
        result,
        lambda m: service.update_user(db, actor=actor, user=record, data=m, now=ctx.clock.now()),
        lambda u: f"/admin/users/{u.id}/edit?saved=1",
    )


_USER_ACTIONS: dict[str, Callable[..., Any]] = {
    "disable": lambda db, actor, user, now: service.set_disabled(
        db, actor=actor, user=user, disabled=True, now=now
    ),
    "enable": lambda db, actor, user, now: service.set_disabled(
        db, actor=actor, user=user, disabled=False, now=now
    ),
    "mfa-reset": lambda db, actor, user, now: service.reset_mfa(
        db, actor=actor, user=user, now=now
    ),
    "unlock": lambda db, actor, user, now: service.unlock(db, actor=actor, user=user, now=now),
}


@router.post("/users/{user_id}/{action}")
def user_action(db: Db, ctx: Ctx, actor: CurrentActor, user_id: int, action: str) -> Response:
    """Disable, enable, reset MFA or unlock an account."""
    record = load_for(db, actor, "user", user_id, P.ACCESS_USER_WRITE)
    handler = _USER_ACTIONS.get(action)
    if handler is None:
        raise NotFound(f"action: unknown account action '{action}'.", field="action")
    handler(db, actor, record, ctx.clock.now())
    return RedirectResponse(f"/admin/users/{user_id}/edit?saved=1", status_code=303)


# --- teams ---------------------------------------------------------------------------


@router.get("/teams/new")
def team_new(request: Request, db: Db, actor: CurrentActor) -> Response:
    """An empty team form."""
    require(actor, P.ACCESS_TEAM_CREATE)
    return render(
        request,
        "admin/team_form.html",
        {"jurisdictions": queries.jurisdictions(db, actor), "values": {}},
    )


@router.post("/teams/new")
def team_create(
    request: Request, db: Db, ctx: Ctx, actor: CurrentActor, form: SubmittedForm
) -> Response:
    """Save a new team; members are added on the team's page."""
    require(actor, P.ACCESS_TEAM_CREATE)
    result = parse(TeamIn, form_values(form), fields=TEAM_FIELDS)
    return _save(
        request,
        "admin/team_form.html",
        lambda: {"jurisdictions": queries.jurisdictions(db, actor)},
        result,
        lambda m: service.create_team(db, actor=actor, data=m, now=ctx.clock.now()),
        lambda t: f"/teams/{t.id}",
    )
