"""Request-scoped dependencies: the unit of work, the signed-in actor, CSRF."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import FormData

from defchain.access import Actor, UserSession, auth
from defchain.access.service import actor_for
from defchain.chain.pipeline import Pipeline
from defchain.chain.sweeper import Sweeper
from defchain.clock import Clock
from defchain.config import Settings
from defchain.errors import DomainError
from defchain.groupcommit import GroupWriter
from defchain.notify import Mailer, MailWorker
from defchain.web.security import CSRF_COOKIE, CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE, csrf_valid

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass
class AppContext:
    """What every request needs, built once by ``create_app``."""

    settings: Settings
    session_factory: sessionmaker[Session]
    clock: Clock
    auth_policy: auth.AuthPolicy
    writer: GroupWriter  # group commit for the intake hot path (``defchain.groupcommit``)
    mailer: Mailer | None = None
    # E-mails notifications from a thread of its own; woken after a commit that wrote any.
    mail_worker: MailWorker | None = None
    # Links, triages and routes reports after the commit that stored them.
    pipeline: Pipeline | None = None
    # Escalates the chain's breaks every minute (in the worker holding the sweep lock).
    sweeper: Sweeper | None = None


class SigninRequired(Exception):
    """Raised by ``require_actor``; the handler redirects to the right sign-in step.

    The unit of work commits on this exception so that an expired session is recorded.
    """

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


class CsrfFailed(DomainError):
    """The form's CSRF token is missing or does not match this browser."""

    status_code = 403


class UnsupportedMediaType(DomainError):
    """A form endpoint received a body that is not a form."""

    status_code = 415


async def context(request: Request) -> AppContext:
    """The app's context (async: no thread-pool hop for a dictionary lookup)."""
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(context)]


def unit_of_work(request: Request, ctx: Ctx) -> Iterator[Session]:
    """One session and one transaction per request, committed before the response.

    A request that wrote notifications wakes the mail worker after its commit (never
    after a rollback), so nobody is e-mailed about a change that rolled back; the
    request itself never talks SMTP.
    """
    session = ctx.session_factory()
    committed_notifications = False
    try:
        yield session
        if getattr(request.state, "rollback", False):
            session.rollback()
        else:
            session.commit()
            committed_notifications = bool(session.info.pop("notifications_pending", False))
    except SigninRequired:
        session.commit()
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
        # Error pages render after this; they must not reopen a closed session.
        request.state.db = None
    if committed_notifications and ctx.mail_worker is not None:
        ctx.mail_worker.wake()


Db = Annotated[Session, Depends(unit_of_work, scope="function")]


def current_user_session(request: Request, db: Db, ctx: Ctx) -> UserSession | None:
    """The session behind the cookie, if live (second factor may still be pending)."""
    if hasattr(request.state, "user_session"):
        cached: UserSession | None = request.state.user_session
        return cached
    lookup = auth.resolve(
        db, token=request.cookies.get(SESSION_COOKIE), policy=ctx.auth_policy, now=ctx.clock.now()
    )
    request.state.user_session = lookup.user_session
    request.state.session_end_reason = lookup.reason
    return lookup.user_session


CurrentSession = Annotated[UserSession | None, Depends(current_user_session)]


def _signin_location(request: Request) -> str:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    location = "/signin?next=" + quote(target, safe="")
    reason = getattr(request.state, "session_end_reason", None)
    if reason and "without activity" in reason:
        location += "&expired=idle"
    elif reason:
        location += "&expired=1"
    return location


def require_actor(request: Request, db: Db, user_session: CurrentSession) -> Actor:
    """The fully signed-in actor, or a redirect to whichever sign-in step is missing."""
    if user_session is None:
        raise SigninRequired(_signin_location(request))
    if not user_session.mfa_verified:
        step = "/signin/mfa" if user_session.user.mfa_enabled else "/mfa/enroll"
        raise SigninRequired(step)
    actor = actor_for(db, user_session.user)
    request.state.actor = actor
    request.state.db = db  # the layout counts unread notifications in this session
    return actor


CurrentActor = Annotated[Actor, Depends(require_actor)]


async def csrf_protect(request: Request, ctx: Ctx) -> None:
    """Every state-changing request carries a token matching this browser's cookie.

    ``/api/`` is exempt: its routes authenticate with a Bearer token only and never read
    cookies, so a forged cross-site request carries no credential they accept.
    """
    if request.method in ("GET", "HEAD", "OPTIONS") or request.url.path.startswith("/api/"):
        return
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    header_token = request.headers.get(CSRF_HEADER)
    if header_token is None:
        if content_type not in FORM_TYPES:
            raise UnsupportedMediaType(
                f"Content-Type must be a form ({FORM_TYPES[0]}), not '{content_type or 'none'}'."
            )
        form = await request.form()
        submitted = form.get(CSRF_FIELD)
        token = submitted if isinstance(submitted, str) else None
    else:
        token = header_token
    if not csrf_valid(ctx.settings.secret_key, request.cookies.get(CSRF_COOKIE), token):
        raise CsrfFailed(
            "csrf_token: the form's security token is missing or expired. "
            "Reload the page and submit again."
        )


def mark_rollback(request: Request) -> None:
    """Make the unit of work roll back (a form is re-shown with errors)."""
    request.state.rollback = True


async def submitted_form(request: Request) -> FormData:
    """The parsed form body, read on the event loop so the route itself can be a plain
    ``def`` and do its database work in the thread pool, never on the loop."""
    return await request.form()


SubmittedForm = Annotated[FormData, Depends(submitted_form)]
