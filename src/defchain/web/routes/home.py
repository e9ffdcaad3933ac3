"""The landing page for each role, and the oversight summary (aggregates only)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from defchain.access import Agency, Permission, can, queries, require
from defchain.cases import oversight as case_oversight
from defchain.firearms import queries as firearm_queries
from defchain.firearms.rules import ERPO_STAGE_LABELS
from defchain.web.deps import Ctx, CurrentActor, Db
from defchain.web.templating import render

router = APIRouter()


@router.get("/home")
def home(request: Request, db: Db, actor: CurrentActor, enrolled: str | None = None) -> Response:
    """What the signed-in user works on."""
    agency = db.get(Agency, actor.agency_id)
    context: dict[str, object] = {
        "enrolled": bool(enrolled),
        # None hides the card; an empty list says "not on a team yet".
        "teams": queries.teams(db, actor) if can(actor, Permission.ACCESS_TEAM_READ) else None,
        "agency": agency if agency and can(actor, Permission.ACCESS_AGENCY_READ, agency) else None,
    }
    return render(request, "home.html", context)


@router.get("/oversight")
def oversight(request: Request, db: Db, ctx: Ctx, actor: CurrentActor) -> Response:
    """Counts for officials; never a person's record."""
    require(actor, Permission.OVERSIGHT_SUMMARY_READ)
    now = ctx.clock.now()
    summary = queries.summary(db, now=now)
    context = {
        "summary": summary,
        "cases": case_oversight.counts(db, now=now),
        # Counted over every agency: figures only, never an order or a report.
        "firearms": firearm_queries.dashboard(db, None, now),
        "STAGE_LABELS": {str(k): v for k, v in ERPO_STAGE_LABELS.items()},
    }
    return render(request, "oversight.html", context)
