"""Sign-in with password and TOTP, enrolment, sign-out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from sqlalchemy import text
from starlette.responses import RedirectResponse, Response

from defchain.access import auth
from defchain.access.security import format_secret, totp_qr_data_uri
from defchain.access.service import actor_for
from defchain.web.deps import Ctx, CurrentSession, Db
from defchain.web.security import SESSION_COOKIE
from defchain.web.templating import render

router = APIRouter()

EXPIRED_MESSAGES = {
    "idle": "You were signed out after 30 minutes without activity. Please sign in again.",
    "1": "Your session has ended. Please sign in again.",
}


def _safe_next(target: str | None) -> str:
    """Only local paths, so the sign-in page cannot redirect off-site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/home"


@router.get("/healthz")
def healthz(db: Db) -> dict[str, str]:
    """Liveness and database reachability."""
    db.execute(text("SELECT 1"))
    return {"status": "ok"}


@router.get("/")
def root(user_session: CurrentSession) -> RedirectResponse:
    """Signed-in users go home; everyone else to sign-in."""
    if user_session is not None and user_session.mfa_verified:
        return RedirectResponse("/home", status_code=303)
    return RedirectResponse("/signin", status_code=303)


@router.get("/signin")
def signin_page(request: Request, next: str | None = None, expired: str | None = None) -> Response:
    """The sign-in form."""
    message = EXPIRED_MESSAGES.get(expired or "", "")
    return render(request, "signin.html", {"next": _safe_next(next), "notice": message})


@router.post("/signin")
def signin_submit(
    request: Request,
    db: Db,
    ctx: Ctx,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form(max_length=500)] = "/home",
) -> Response:
    """Check the password; continue to the second factor or enrolment."""
    errors = {}
    if not username.strip():
        errors["username"] = "is required"
    if not password:
        errors["password"] = "is required"  # noqa: S105 - a message, not a password
    if errors:
        return render(
            request,
            "signin.html",
            {"errors": errors, "values": {"username": username}, "next": next},
            status_code=422,
        )
    result = auth.sign_in(
        db, username=username, password=password, policy=ctx.auth_policy, now=ctx.clock.now()
    )
    if not result.ok or result.token is None:
        return render(
            request,
            "signin.html",
            {"failure": result.message, "values": {"username": username}, "next": next},
            status_code=401,
        )
    destination = {"mfa": "/signin/mfa", "enroll": "/mfa/enroll"}.get(
        result.next_step or "", _safe_next(next)
    )
    response = RedirectResponse(destination, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        result.token,
        httponly=True,
        secure=ctx.settings.secure_cookies,
        samesite="lax",
        path="/",
    )
    return response


def _pending(user_session: CurrentSession) -> RedirectResponse | None:
    if user_session is None:
        return RedirectResponse("/signin", status_code=303)
    if user_session.mfa_verified:
        return RedirectResponse("/home", status_code=303)
    return None


@router.get("/signin/mfa")
def mfa_page(request: Request, user_session: CurrentSession) -> Response:
    """Ask for the authenticator code."""
    redirect = _pending(user_session)
    if redirect or user_session is None:
        return redirect or RedirectResponse("/signin", status_code=303)
    if not user_session.user.mfa_enabled:
        return RedirectResponse("/mfa/enroll", status_code=303)
    return render(request, "signin_mfa.html")


@router.post("/signin/mfa")
def mfa_submit(
    request: Request,
    db: Db,
    ctx: Ctx,
    user_session: CurrentSession,
    code: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Check the code and finish signing in."""
    redirect = _pending(user_session)
    if redirect or user_session is None:
        return redirect or RedirectResponse("/signin", status_code=303)
    if not code.strip():
        return render(
            request, "signin_mfa.html", {"errors": {"code": "is required"}}, status_code=422
        )
    failure = auth.verify_second_factor(
        db, user_session=user_session, code=code, policy=ctx.auth_policy, now=ctx.clock.now()
    )
    if failure:
        if user_session.ended_at is not None:
            return render(
                request, "signin.html", {"failure": failure, "next": "/home"}, status_code=401
            )
        return render(request, "signin_mfa.html", {"errors": {"code": failure}}, status_code=401)
    return RedirectResponse("/home", status_code=303)


@router.get("/mfa/enroll")
def enroll_page(request: Request, db: Db, user_session: CurrentSession) -> Response:
    """Show the QR code and the secret as text."""
    if user_session is None:
        return RedirectResponse("/signin", status_code=303)
    user = user_session.user
    if user.mfa_enabled:
        return RedirectResponse(
            "/home" if user_session.mfa_verified else "/signin/mfa", status_code=303
        )
    secret = auth.start_enrolment(db, user=user)
    if user_session.mfa_verified:  # a signed-in user turning MFA on (demo mode) keeps the nav
        request.state.actor = actor_for(db, user)
    return render(request, "mfa_enroll.html", _enrol_context(user.username, secret))


def _enrol_context(username: str, secret: str) -> dict[str, object]:
    return {
        "qr": totp_qr_data_uri(secret, username),
        "secret": format_secret(secret),
        "username": username,
    }


@router.post("/mfa/enroll")
def enroll_submit(
    request: Request,
    db: Db,
    ctx: Ctx,
    user_session: CurrentSession,
    code: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Confirm the authenticator with a code from it."""
    if user_session is None:
        return RedirectResponse("/signin", status_code=303)
    user = user_session.user
    if user.mfa_enabled or not user.mfa_secret:
        return RedirectResponse("/mfa/enroll", status_code=303)
    failure = (
        "is required"
        if not code.strip()
        else auth.confirm_enrolment(
            db, user_session=user_session, code=code, policy=ctx.auth_policy, now=ctx.clock.now()
        )
    )
    if failure:
        context = _enrol_context(user.username, user.mfa_secret)
        context["errors"] = {"code": failure}
        return render(request, "mfa_enroll.html", context, status_code=422)
    return RedirectResponse("/home?enrolled=1", status_code=303)


@router.post("/signout")
def signout(db: Db, ctx: Ctx, user_session: CurrentSession) -> Response:
    """End this session."""
    if user_session is not None:
        auth.sign_out(db, user_session=user_session, now=ctx.clock.now())
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
