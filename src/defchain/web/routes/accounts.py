"""A user's own account: profile, sign-in security, password change."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from defchain.access import Permission, User, auth, require
from defchain.errors import DomainError
from defchain.web.deps import Ctx, CurrentActor, Db, mark_rollback
from defchain.web.forms import domain_error_fields
from defchain.web.templating import render

router = APIRouter()


@router.get("/account")
def account(request: Request, db: Db, actor: CurrentActor, changed: str | None = None) -> Response:
    """The user's own profile and security settings."""
    require(actor, Permission.ACCESS_ACCOUNT_MANAGE)
    user = db.get(User, actor.user_id)
    return render(request, "account.html", {"user": user, "changed": bool(changed)})


@router.post("/account/password")
def change_password(
    request: Request,
    db: Db,
    ctx: Ctx,
    actor: CurrentActor,
    current_password: Annotated[str, Form(max_length=256)] = "",
    new_password: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    """Change one's own password after proving the current one."""
    require(actor, Permission.ACCESS_ACCOUNT_MANAGE)
    user = db.get(User, actor.user_id)
    assert user is not None
    try:
        auth.change_own_password(
            db, user=user, current=current_password, new=new_password, now=ctx.clock.now()
        )
    except DomainError as exc:
        mark_rollback(request)
        return render(
            request,
            "account.html",
            {"user": user, "errors": domain_error_fields(exc)},
            status_code=422,
        )
    return RedirectResponse("/account?changed=1", status_code=303)
