"""A user's own notifications: the list, and marking one read."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from defchain import notify
from defchain.web.deps import Ctx, CurrentActor, Db
from defchain.web.templating import render

router = APIRouter()


@router.get("/notifications")
def notifications(request: Request, db: Db, actor: CurrentActor) -> Response:
    """Newest first; unread ones stand out."""
    items = notify.for_user(db, user_id=actor.user_id)
    return render(request, "notifications.html", {"items": items})


@router.post("/notifications/{notification_id}/read")
def mark_read(db: Db, ctx: Ctx, actor: CurrentActor, notification_id: int) -> Response:
    """Mark one of your own notifications read (anyone else's is not found)."""
    notify.mark_read(
        db, user_id=actor.user_id, notification_id=notification_id, now=ctx.clock.now()
    )
    return RedirectResponse("/notifications", status_code=303)
