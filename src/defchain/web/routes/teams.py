"""Teams and agencies as their members see them; team leads manage membership."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from defchain.access import Permission, can, load_for, queries, require, service
from defchain.errors import DomainError
from defchain.web.deps import Ctx, CurrentActor, Db, mark_rollback
from defchain.web.forms import domain_error_fields
from defchain.web.templating import render

router = APIRouter()
P = Permission


@router.get("/teams")
def team_list(request: Request, db: Db, actor: CurrentActor) -> Response:
    """The teams the user belongs to or may see."""
    require(actor, P.ACCESS_TEAM_READ)
    return render(
        request,
        "teams.html",
        {"teams": queries.teams(db, actor), "can_create": can(actor, P.ACCESS_TEAM_CREATE)},
    )


def _team_page(
    request: Request,
    db: Db,
    actor: CurrentActor,
    team_id: int,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    team = load_for(db, actor, "team", team_id, P.ACCESS_TEAM_READ)
    members = queries.team_members(db, team.id)
    manage = can(actor, P.ACCESS_TEAM_MANAGE, team)
    member_ids = {m.user_id for m in members}
    candidates = [u for u in queries.active_users(db) if u.id not in member_ids] if manage else []
    agencies = sorted({m.user.agency.name for m in members})
    return render(
        request,
        "team.html",
        {
            "team": team,
            "members": members,
            "manage": manage,
            "candidates": candidates,
            "agencies": agencies,
            "errors": errors or {},
        },
        status_code=status,
    )


@router.get("/teams/{team_id}")
def team_detail(request: Request, db: Db, actor: CurrentActor, team_id: int) -> Response:
    """Members of one team, grouped by their agencies."""
    return _team_page(request, db, actor, team_id)


@router.post("/teams/{team_id}/members")
def team_add_member(
    request: Request,
    db: Db,
    ctx: Ctx,
    actor: CurrentActor,
    team_id: int,
    user_id: Annotated[str, Form(max_length=12)] = "",
    is_lead: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """Add a member (from any agency) or change whether they lead."""
    team = load_for(db, actor, "team", team_id, P.ACCESS_TEAM_MANAGE)
    if not user_id.isdigit():
        mark_rollback(request)
        return _team_page(request, db, actor, team_id, {"user_id": "choose a user"}, 422)
    try:
        service.add_member(
            db,
            actor=actor,
            team=team,
            user_id=int(user_id),
            is_lead=is_lead == "on",
            now=ctx.clock.now(),
        )
    except DomainError as exc:
        mark_rollback(request)
        return _team_page(request, db, actor, team_id, domain_error_fields(exc), 422)
    return RedirectResponse(f"/teams/{team_id}", status_code=303)


@router.post("/teams/{team_id}/members/{user_id}/remove")
def team_remove_member(
    db: Db, ctx: Ctx, actor: CurrentActor, team_id: int, user_id: int
) -> Response:
    """Take a member off the team."""
    team = load_for(db, actor, "team", team_id, P.ACCESS_TEAM_MANAGE)
    service.remove_member(db, actor=actor, team=team, user_id=user_id, now=ctx.clock.now())
    return RedirectResponse(f"/teams/{team_id}", status_code=303)


@router.get("/agencies/{agency_id}")
def agency_detail(request: Request, db: Db, actor: CurrentActor, agency_id: int) -> Response:
    """An agency's profile and staff, for its own people and administrators."""
    agency = load_for(db, actor, "agency", agency_id, P.ACCESS_AGENCY_READ)
    return render(
        request,
        "agency.html",
        {
            "agency": agency,
            "staff": queries.agency_members(db, agency.id),
            "can_edit": can(actor, P.ACCESS_AGENCY_WRITE, agency),
        },
    )
