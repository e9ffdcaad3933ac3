"""The audit log for auditors and administrators, with chain verification."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from defchain import audit
from defchain.access import Permission, require
from defchain.web.deps import CurrentActor, Db
from defchain.web.templating import render

router = APIRouter()
PAGE_SIZE = 50


@router.get("/audit")
def audit_page(
    request: Request,
    db: Db,
    actor: CurrentActor,
    page: int = Query(default=1, ge=1, le=100_000),
    tag: str = Query(default="", max_length=100),
) -> Response:
    """Newest events first, filterable by tag prefix."""
    require(actor, Permission.AUDIT_EVENT_READ)
    events = audit.recent_events(
        db, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, tag_prefix=tag or None
    )
    total = audit.count_events(db, tag_prefix=tag or None)
    return render(
        request,
        "audit.html",
        {
            "events": events,
            "page": page,
            "tag": tag,
            "total": total,
            "has_next": page * PAGE_SIZE < total,
            "result": None,
        },
    )


@router.post("/audit/verify")
def audit_verify(request: Request, db: Db, actor: CurrentActor) -> Response:
    """Recompute the whole hash chain and show every problem found."""
    require(actor, Permission.AUDIT_CHAIN_VERIFY)
    result = audit.verify(db)
    events = audit.recent_events(db, limit=PAGE_SIZE)
    total = audit.count_events(db)
    return render(
        request,
        "audit.html",
        {
            "events": events,
            "page": 1,
            "tag": "",
            "total": total,
            "has_next": total > PAGE_SIZE,
            "result": result,
        },
    )
