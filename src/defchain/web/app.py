"""The application factory: settings, database, middleware, routes, error pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response

from defchain import audit
from defchain.access.auth import AuthPolicy
from defchain.chain.pipeline import Pipeline
from defchain.chain.sweep import SweepResult
from defchain.chain.sweeper import Sweeper, SweepLock
from defchain.clock import Clock, SystemClock
from defchain.config import Settings, get_settings
from defchain.db import make_engine, make_session_factory
from defchain.errors import DomainError
from defchain.groupcommit import GroupWriter
from defchain.notify import MailWorker, SmtpMailer
from defchain.triage.service import Processed
from defchain.web.deps import AppContext, SigninRequired, csrf_protect
from defchain.web.routes import (
    accounts,
    admin,
    api,
    audit_log,
    case_erpo,
    case_lifecycle,
    case_records,
    firearm_laws,
    firearms,
    home,
    meetings,
    notifications,
    public,
    report_import,
    reports,
    routing,
    signin,
    teams,
)
from defchain.web.routes import assessment as assessment_pages
from defchain.web.routes import cases as case_pages
from defchain.web.routes import people as people_pages
from defchain.web.routes import triage as triage_pages
from defchain.web.security import (
    BodyLimitMiddleware,
    CsrfCookieMiddleware,
    SecurityHeadersMiddleware,
)
from defchain.web.templating import render

STATIC_DIR = Path(__file__).parent / "static"


def create_app(
    settings: Settings | None = None, *, engine: Engine | None = None, clock: Clock | None = None
) -> FastAPI:
    """Build the web application (``uvicorn --factory defchain.web.app:create_app``)."""
    settings = settings or get_settings()
    engine = engine or make_engine(settings.database_url)
    app = FastAPI(
        title="Defense Chain",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        dependencies=[Depends(csrf_protect)],
        lifespan=_lifespan,
    )
    app.state.ctx = AppContext(
        settings=settings,
        session_factory=make_session_factory(engine),
        clock=clock or SystemClock(),
        auth_policy=AuthPolicy(
            mfa_required=settings.mfa_required,
            lockout_threshold=settings.lockout_threshold,
            lockout_minutes=settings.lockout_minutes,
            idle_minutes=settings.session_idle_minutes,
            max_hours=settings.session_max_hours,
        ),
        # Looks the factory up per batch: tests swap in one bound to their connection.
        writer=GroupWriter(
            lambda: app.state.ctx.session_factory(),
            begin=audit.lock_chain,
            after_commit=lambda: _wake_pipeline(app),
        ),
        mailer=_mailer(settings),
    )
    app.state.ctx.mail_worker = _mail_worker(app)
    app.state.ctx.pipeline = _pipeline(app) if settings.pipeline else None
    app.state.ctx.sweeper = _sweeper(app, engine) if settings.sweep_interval > 0 else None
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # The API first: routes are matched in order, and intake under load is its hot path.
    app.include_router(api.router)
    for module in (signin, home, accounts, admin, routing, teams, audit_log, public, people_pages):
        app.include_router(module.router)
    case_modules = (assessment_pages, case_lifecycle, case_erpo, case_records, meetings)
    for module in (*case_modules, firearm_laws):
        app.include_router(module.router)
    app.include_router(case_pages.router)
    for module in (report_import, triage_pages, reports, notifications):  # import before {id}
        app.include_router(module.router)
    app.include_router(firearms.router)
    _install_csrf_cookie(app, secure=settings.secure_cookies)
    _install_error_pages(app)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        path_limits={"/report": max(public.REPORT_BODY_LIMIT, settings.max_body_bytes)},
    )
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.secure_cookies)
    return app


def _wake_pipeline(app: FastAPI) -> None:
    """After the writer's commit: triage what it stored, off the request's path."""
    pipeline = app.state.ctx.pipeline
    if pipeline is not None:
        pipeline.wake()


def _pipeline(app: FastAPI) -> Pipeline:
    """Link, triage and route new reports in a thread of this process."""
    ctx: AppContext = app.state.ctx

    def after_round(processed: list[Processed]) -> None:
        if ctx.mail_worker is not None and any(p.notified for p in processed):
            ctx.mail_worker.wake()  # a P1 alert goes out now, not at the next interval

    return Pipeline(lambda: app.state.ctx.session_factory(), ctx.clock, after_round=after_round)


def _sweeper(app: FastAPI, engine: Engine) -> Sweeper:
    """Every minute, in the one worker holding the sweep lock: escalate the breaks."""
    ctx: AppContext = app.state.ctx

    def after(result: SweepResult) -> None:
        if ctx.mail_worker is not None and result.notified:
            ctx.mail_worker.wake()

    return Sweeper(
        lambda: app.state.ctx.session_factory(),
        ctx.clock,
        SweepLock(engine, ctx.settings.sqlite_path()),
        interval=ctx.settings.sweep_interval,
        after=after,
    )


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    ctx: AppContext = app.state.ctx
    if ctx.pipeline is not None:
        ctx.pipeline.start()  # and takes the reports still waiting since the last run
        ctx.pipeline.wake()
    if ctx.sweeper is not None:
        ctx.sweeper.start()
    if app.state.ctx.mail_worker is not None:
        app.state.ctx.mail_worker.start()
    yield
    # Requests have drained (uvicorn waits for them); commit what is queued, then stop.
    app.state.ctx.writer.close()
    if ctx.sweeper is not None:
        ctx.sweeper.close()
    if ctx.pipeline is not None:
        ctx.pipeline.close()  # a report it did not reach waits for the next start
    if app.state.ctx.mail_worker is not None:
        app.state.ctx.mail_worker.close()  # what is still pending goes out after a restart


def _mailer(settings: Settings) -> SmtpMailer | None:
    """E-mail delivery when ``DEFCHAIN_SMTP_HOST`` is set; otherwise in-app only."""
    if not settings.smtp_host:
        return None
    return SmtpMailer(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.smtp_from,
        starttls=settings.smtp_starttls,
        user=settings.smtp_user,
        password=settings.smtp_password,
    )


def _mail_worker(app: FastAPI) -> MailWorker | None:
    """The process's mail worker when e-mail is configured (started by the lifespan)."""
    ctx: AppContext = app.state.ctx
    if ctx.mailer is None:
        return None
    # Looks the factory up per transaction: tests swap in one bound to their connection.
    return MailWorker(
        lambda: app.state.ctx.session_factory(), ctx.mailer, ctx.clock, ctx.settings.base_url
    )


def _install_csrf_cookie(app: FastAPI, *, secure: bool) -> None:
    app.add_middleware(CsrfCookieMiddleware, secure=secure)


def _install_error_pages(app: FastAPI) -> None:
    @app.exception_handler(SigninRequired)
    async def _signin(request: Request, exc: SigninRequired) -> Response:
        if request.headers.get("hx-request"):
            return Response(status_code=204, headers={"HX-Redirect": exc.location})
        return RedirectResponse(exc.location, status_code=303)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        return _error(
            request,
            exc.status_code,
            exc.message,
            errors=_field_errors(exc),
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        problems: list[str] = []
        fields: dict[str, str] = {}
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
            field = ".".join(loc) or "request"
            problems.append(f"{field}: {err.get('msg')}")
            fields.setdefault(field, str(err.get("msg")))
        return _error(request, 422, "; ".join(problems), errors=fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        messages = {404: "This page does not exist.", 405: "This page does not accept that."}
        detail = exc.detail if isinstance(exc.detail, str) else ""
        return _error(request, exc.status_code, messages.get(exc.status_code, detail))


def _field_errors(exc: DomainError) -> dict[str, str]:
    """``{field: problem}`` of a domain error (the API answers with it)."""
    errors = getattr(exc, "errors", None)
    if isinstance(errors, dict):
        return errors
    if exc.field:
        return {exc.field: exc.message.removeprefix(f"{exc.field}:").strip()}
    return {}


def _error(
    request: Request,
    status: int,
    message: str,
    *,
    errors: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    if request.url.path.startswith("/api/"):
        # The API answers in JSON whatever the client accepts, naming the fields at fault.
        from starlette.responses import JSONResponse

        body = {"detail": message, "errors": errors or {}}
        return JSONResponse(body, status_code=status, headers=headers)
    accept = request.headers.get("accept", "")
    if "application/json" in accept and "text/html" not in accept:
        from starlette.responses import JSONResponse

        return JSONResponse({"detail": message}, status_code=status)
    return render(request, "error.html", {"status": status, "message": message}, status_code=status)
