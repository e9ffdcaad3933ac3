"""A user's own account: profile, sign-in security, password, notification preferences."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from defchain.access import Permission, User, auth, require, service
from defchain.access.schemas import PreferencesIn
from defchain.errors import DomainError
from defchain.web.deps import Ctx, CurrentActor, Db, SubmittedForm, mark_rollback
from defchain.web.forms import domain_error_fields, form_values, parse
from defchain.web.templating import render

router = APIRouter()

PREFERENCE_FIELDS = ("on_duty", "quiet_start", "quiet_end")


def _preference_values(user: User | None) -> dict[str, str]:
    if user is None:
        return {}
    return {
        "on_duty": "true" if user.on_duty else "false",
        "quiet_start": user.quiet_start,
        "quiet_end": user.quiet_end,
    }


@router.get("/account")
def account(
    request: Request,
    db: Db,
    actor: CurrentActor,
    changed: str | None = None,
    saved: str | None = None,
) -> Response:
    """The user's own profile, security settings and notification preferences."""
    require(actor, Permission.ACCESS_ACCOUNT_MANAGE)
    user = db.get(User, actor.user_id)
    return render(
        request,
        "account.html",
        {
            "user": user,
            "changed": bool(changed),
            "saved": bool(saved),
            "preferences": _preference_values(user),
        },
    )


@router.post("/account/preferences")
def change_preferences(
    request: Request, db: Db, ctx: Ctx, actor: CurrentActor, form: SubmittedForm
) -> Response:
    """Set one's own on-duty flag and quiet hours (audited)."""
    require(actor, Permission.ACCESS_ACCOUNT_MANAGE)
    user = db.get(User, actor.user_id)
    values = form_values(form)
    # An unticked checkbox is absent from the form: that means "not on duty".
    values["on_duty"] = "true" if values.get("on_duty") == "on" else "false"
    result = parse(PreferencesIn, values, fields=PREFERENCE_FIELDS)
    errors = result.errors
    if result.model is not None:
        try:
            service.update_preferences(
                db,
                actor=actor,
                user_id=actor.user_id or 0,
                on_duty=result.model.on_duty,
                quiet_start=result.model.quiet_start,
                quiet_end=result.model.quiet_end,
                now=ctx.clock.now(),
            )
        except DomainError as exc:
            errors = domain_error_fields(exc)
        else:
            return RedirectResponse("/account?saved=1", status_code=303)
    mark_rollback(request)
    return render(
        request,
        "account.html",
        {"user": user, "preferences": values, "preference_errors": errors},
        status_code=422,
    )


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
            {
                "user": user,
                "errors": domain_error_fields(exc),
                "preferences": _preference_values(user),
            },
            status_code=422,
        )
    return RedirectResponse("/account?changed=1", status_code=303)
