"""The public side of intake, no sign-in: the tip page, the tipster's follow-up, and
each jurisdiction's warning-signs page.

Nothing here reads, logs or stores the client's address or user agent; the rate limit
sees only a keyed hash of the address, in memory (``web.ratelimit``). Public pages have
their own layout (``public/base_public.html``), speak English or Spanish
(``web.i18n``), and work without JavaScript.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from markdown_it import MarkdownIt
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.responses import RedirectResponse, Response

from defchain.access import Jurisdiction
from defchain.errors import DomainError
from defchain.intake import PUBLIC_STATUS, Report, ReportInvalid, Status, parse_report, service
from defchain.intake.attachments import (
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS,
    AttachmentRefused,
    Cleaned,
)
from defchain.intake.attachments import clean as clean_attachment
from defchain.intake.rules import new_tip_code, normalize_tip_code, passphrase_problem
from defchain.web.deps import AppContext, Ctx, Db, SubmittedForm, mark_rollback
from defchain.web.public_pages import (
    error_text,
    language,
    limited,
    page,
    refusal,
    translate,
)
from defchain.web.security import signed_token, signed_token_valid

router = APIRouter()

HONEYPOT = "website"
FOLLOWUP_COOKIE = "dc_tip"
FOLLOWUP_MINUTES = 15
TIP_TOKEN_PURPOSE = "tip"  # noqa: S105 - an HMAC purpose label, not a secret
FOLLOWUP_PURPOSE = "followup"
# The tip page carries up to five attachments of 10 MB each (web.app raises its body limit).
REPORT_BODY_LIMIT = MAX_ATTACHMENTS * MAX_ATTACHMENT_BYTES + 2 * 1024 * 1024

TEXT_FIELDS = (
    "jurisdiction_id",
    "danger_now",
    "subject_name",
    "subject_nickname",
    "subject_school",
    "subject_workplace",
    "subject_online_handle",
    "narrative",
    "occurred_at_text",
    "location",
    "weapons",
    "weapons_text",
    "date_or_target",
    "date_or_target_text",
    "how_known",
    "threat_to_others",
    "preparation",
    "self_harm",
    "grievance",
    "setting",
)
SUBJECT_FIELDS = ("name", "nickname", "school", "workplace", "online_handle")
DETAIL_FIELDS = (
    "weapons",
    "weapons_text",
    "date_or_target",
    "date_or_target_text",
    "how_known",
    "threat_to_others",
    "preparation",
    "self_harm",
    "grievance",
    "setting",
)
YES_NO_UNKNOWN = ("yes", "no", "unknown")

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


def _intake_places(db: Session) -> list[tuple[int, str]]:
    """The jurisdictions whose public tips have an agency to go to: (id, name)."""
    query = select(Jurisdiction.id, Jurisdiction.name).where(
        Jurisdiction.intake_agency_id.is_not(None)
    )
    return [(id_, name) for id_, name in db.execute(query.order_by(Jurisdiction.name))]


# --- the tip page ----------------------------------------------------------------------


def _report_page(
    request: Request,
    places: list[tuple[int, str]],
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    files_dropped: bool = False,
) -> Response:
    if not places:
        return page(request, "public/not_taking.html")
    return page(
        request,
        "public/report.html",
        {
            "jurisdictions": [(str(id_), name) for id_, name in places],
            "values": values,
            "errors": errors or {},
            "files_dropped": files_dropped,
            "max_attachments": MAX_ATTACHMENTS,
        },
        status_code=422 if errors else 200,
    )


@router.get("/report")
def report_form(request: Request, db: Db) -> Response:
    """The guided tip form (or a page saying where else to report)."""
    places = _intake_places(db)
    values: dict[str, Any] = {
        "weapons": "unknown",
        "date_or_target": "unknown",
        "threat_to_others": "unknown",
        "preparation": "unknown",
        "self_harm": "unknown",
        "grievance": "unknown",
        "setting": "unknown",
    }
    if len(places) == 1:
        values["jurisdiction_id"] = str(places[0][0])
    return _report_page(request, places, values)


def _report_data(values: dict[str, str]) -> dict[str, Any]:
    """The form's answers as the ``ReportIn`` envelope of a web tip."""
    jurisdiction = values.get("jurisdiction_id", "")
    return {
        "kind": "tip",
        "channel": "web",
        "danger_now": values.get("danger_now") == "yes",
        "narrative": values.get("narrative", ""),
        "occurred_at_text": values.get("occurred_at_text", ""),
        "location": values.get("location", ""),
        "jurisdiction_id": int(jurisdiction) if jurisdiction.isdigit() else None,
        "subject": {f: values.get(f"subject_{f}", "") for f in SUBJECT_FIELDS},
        # An unanswered question keeps the schema's default ("unknown", or empty text).
        "details": {f: values[f] for f in DETAIL_FIELDS if values.get(f)},
    }


def _field_of(path: str) -> str:
    """The form field behind a ``ReportInvalid`` path (``subject.name`` → ``subject_name``)."""
    if path.startswith("subject."):
        return "subject_" + path.removeprefix("subject.")
    if path.startswith("details."):
        return path.removeprefix("details.")
    return path if path in TEXT_FIELDS else "form"


@dataclass
class _Upload:
    filename: str
    data: bytes


async def _uploads(request: Request) -> list[_Upload]:
    form = await request.form()
    uploads: list[_Upload] = []
    for item in form.getlist("attachments"):
        if not isinstance(item, UploadFile) or not item.filename:
            continue  # the empty part a browser sends when no file was chosen
        data = await item.read(MAX_ATTACHMENT_BYTES + 1)
        uploads.append(_Upload(item.filename, data))
    return uploads


def _clean_uploads(
    uploads: list[_Upload],
) -> tuple[list[tuple[str, Cleaned]], list[AttachmentRefused]]:
    """Every upload checked by content and stripped of metadata, or why it was refused."""
    if len(uploads) > MAX_ATTACHMENTS:
        return [], [AttachmentRefused("choose at most %(n)s files", n=MAX_ATTACHMENTS)]
    cleaned: list[tuple[str, Cleaned]] = []
    refused: list[AttachmentRefused] = []
    for upload in uploads:
        try:
            cleaned.append((upload.filename, clean_attachment(upload.filename, upload.data)))
        except AttachmentRefused as exc:
            refused.append(exc)
    return cleaned, refused


@dataclass(frozen=True)
class _Tip:
    """One submitted tip page, read and its files cleaned, waiting for the writer."""

    values: dict[str, str]
    honeypot: bool
    attachments: list[tuple[str, Cleaned]]
    attachments_refused: bool
    now: datetime


@dataclass
class _TipOutcome:
    places: list[tuple[int, str]]  # the jurisdictions that take public tips
    values: dict[str, str]
    code: str | None = None  # stored (or a honeypot's decoy code)
    danger: bool = False
    problem: ReportInvalid | DomainError | None = None


@router.post("/report")
async def report_submit(
    request: Request,
    ctx: Ctx,
    form: SubmittedForm,
    uploads: Annotated[list[_Upload], Depends(_uploads)],
) -> Response:
    """Store a tip (durably, before the tip code is shown) with its cleaned attachments.

    Files are checked and cleaned first, in the thread pool and outside any transaction;
    then the process's group writer stores this tip with every other one waiting, in one
    transaction, and this answers after that transaction has committed.
    """
    if too_many := limited(request, ctx):
        return too_many
    values = {k: v for k in TEXT_FIELDS if isinstance(v := form.get(k, ""), str)}
    cleaned, refused = await run_in_threadpool(_clean_uploads, uploads) if uploads else ([], [])
    tip = _Tip(values, bool(form.get(HONEYPOT)), cleaned, bool(refused), ctx.clock.now())
    outcome = await ctx.writer.run_batched(_store_tips, tip)
    if outcome.code is not None:
        return _submitted(request, ctx, outcome.code, danger=outcome.danger)
    if not outcome.places:
        return _report_page(request, [], outcome.values)
    errors: dict[str, str] = {}
    if isinstance(outcome.problem, ReportInvalid):
        errors = {_field_of(p): error_text(request, m) for p, m in outcome.problem.errors.items()}
    elif outcome.problem is not None:
        problem = outcome.problem
        field = problem.field if problem.field in TEXT_FIELDS else "form"
        errors[field] = error_text(request, problem.message.removeprefix(f"{problem.field}: "))
    if refused:
        errors["attachments"] = " ".join(refusal(request, exc) for exc in refused)
    return _report_page(request, outcome.places, outcome.values, errors, bool(uploads))


def _store_tips(session: Session, tips: list[_Tip]) -> list[_TipOutcome]:
    """The writer's batch: check each tip, then store every valid one at once."""
    places = _intake_places(session)
    outcomes: list[_TipOutcome] = []
    entries: list[tuple[_TipOutcome, _Tip, service.Incoming]] = []
    for tip in tips:
        values = dict(tip.values)
        if len(places) == 1 and not values.get("jurisdiction_id"):
            values["jurisdiction_id"] = str(places[0][0])
        outcome = _TipOutcome(places, values)
        outcomes.append(outcome)
        if not places:
            continue
        if tip.honeypot:  # a bot: it sees what a person would, and nothing is stored
            outcome.code, outcome.danger = new_tip_code(), values.get("danger_now") == "yes"
            continue
        try:
            data = parse_report(_report_data(values), now=tip.now)
        except ReportInvalid as exc:
            outcome.problem = exc
            continue
        if not tip.attachments_refused:
            entries.append((outcome, tip, service.Incoming(data, service.PUBLIC, tip.now)))
    stored = service.receive_batch(session, [entry for _, _, entry in entries])
    for (outcome, tip, _), result in zip(entries, stored, strict=True):
        if isinstance(result, DomainError):
            outcome.problem = result
            continue
        report, _ = result
        for filename, cleaned in tip.attachments:
            service.add_attachment(
                session, report=report, filename=filename, cleaned=cleaned, now=tip.now
            )
        outcome.code, outcome.danger = report.tip_code, report.danger_now
    return outcomes


def _submitted(
    request: Request,
    ctx: AppContext,
    code: str,
    *,
    danger: bool,
    errors: dict[str, str] | None = None,
) -> Response:
    """The tip code and the passphrase form (no language switch: it would lose the code)."""
    context = {
        "tip_code": code,
        "token": signed_token(ctx.settings.secret_key, TIP_TOKEN_PURPOSE, code),
        "danger": danger,
        "errors": errors or {},
        "no_language_switch": True,
    }
    return page(request, "public/submitted.html", context, 422 if errors else 200)


# --- the passphrase --------------------------------------------------------------------


@router.post("/report/passphrase")
def passphrase_submit(
    request: Request,
    db: Db,
    ctx: Ctx,
    tip_code: Annotated[str, Form(max_length=40)] = "",
    token: Annotated[str, Form(max_length=128)] = "",
    passphrase: Annotated[str, Form(max_length=400)] = "",
    passphrase_again: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    """The tipster chooses a passphrase for the code this browser was just given."""
    code = normalize_tip_code(tip_code)
    if not signed_token_valid(ctx.settings.secret_key, TIP_TOKEN_PURPOSE, code, token):
        mark_rollback(request)
        return page(request, "public/passphrase_refused.html", status_code=403)
    report = db.scalar(select(Report).where(Report.tip_code == code))
    error = None
    if passphrase != passphrase_again:
        error = translate(request, "the two passphrases are not the same")
    elif report is None:  # a honeypot answer: the same rules, nothing to store
        problem = passphrase_problem(passphrase)
        error = error_text(request, problem) if problem else None
    else:
        try:
            service.set_passphrase(db, report=report, passphrase=passphrase, now=ctx.clock.now())
        except DomainError as exc:
            error = error_text(request, exc.message.removeprefix("passphrase: "))
    if error is not None:
        mark_rollback(request)
        danger = bool(report and report.danger_now)
        return _submitted(request, ctx, code, danger=danger, errors={"passphrase": error})
    return page(request, "public/passphrase_set.html")


# --- follow-up -------------------------------------------------------------------------


def _followup_cookie(secret_key: str, code: str, expires: datetime) -> str:
    body = f"{code}.{int(expires.timestamp())}"
    return f"{body}.{signed_token(secret_key, FOLLOWUP_PURPOSE, body)}"


def _followup_code(request: Request, ctx: AppContext) -> str | None:
    """The tip code of a live, untampered follow-up cookie."""
    raw = request.cookies.get(FOLLOWUP_COOKIE, "")
    body, _, signature = raw.rpartition(".")
    code, _, expires = body.partition(".")
    if not signed_token_valid(ctx.settings.secret_key, FOLLOWUP_PURPOSE, body, signature):
        return None
    if not expires.isdigit() or int(expires) <= ctx.clock.now().timestamp():
        return None
    return code


def _followup_report(request: Request, db: Session, ctx: AppContext) -> Report | None:
    code = _followup_code(request, ctx)
    if code is None:
        return None
    return db.scalar(select(Report).where(Report.tip_code == code))


def _thread_page(
    request: Request,
    db: Session,
    report: Report,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    """Status in plain words and the message thread: never any detail of the case."""
    lang = language(request)
    jurisdiction = db.get(Jurisdiction, report.jurisdiction_id)
    zone = ZoneInfo(jurisdiction.timezone if jurisdiction else "UTC")
    messages = [
        {
            "from_staff": m.author == "staff",
            "body": m.body,
            "at": format_datetime(m.created_at, "d MMM y, HH:mm", tzinfo=zone, locale=lang),
        }
        for m in report.messages
    ]
    status = PUBLIC_STATUS.get(Status(report.status), PUBLIC_STATUS[Status.NEW])
    context = {
        "status_word": translate(request, status),
        "messages": messages,
        "errors": errors or {},
        "values": values or {},
        "sent": request.query_params.get("sent") == "1",
    }
    return page(request, "public/thread.html", context, status_code=422 if errors else 200)


@router.get("/report/followup")
def followup_page(request: Request, db: Db, ctx: Ctx) -> Response:
    """The tip code and passphrase form, or the thread while the follow-up cookie lives."""
    report = _followup_report(request, db, ctx)
    if report is not None:
        return _thread_page(request, db, report)
    return page(request, "public/followup.html", {"values": {}, "errors": {}})


@router.post("/report/followup")
def followup_submit(
    request: Request,
    db: Db,
    ctx: Ctx,
    tip_code: Annotated[str, Form(max_length=40)] = "",
    passphrase: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    """Check the code and passphrase; a short-lived signed cookie opens the thread."""
    if too_many := limited(request, ctx):
        return too_many
    now = ctx.clock.now()
    result = service.open_followup(db, tip_code=tip_code, passphrase=passphrase, now=now)
    if result.report is None or result.report.tip_code is None:
        # Not rolled back: failed attempts must count towards the lockout.
        context = {"values": {"tip_code": tip_code}, "failure": translate(request, result.message)}
        return page(request, "public/followup.html", context, status_code=401)
    expires = now + timedelta(minutes=FOLLOWUP_MINUTES)
    response = RedirectResponse("/report/followup", status_code=303)
    response.set_cookie(
        FOLLOWUP_COOKIE,
        _followup_cookie(ctx.settings.secret_key, result.report.tip_code, expires),
        max_age=FOLLOWUP_MINUTES * 60,
        httponly=True,
        secure=ctx.settings.secure_cookies,
        samesite="lax",
        path="/report/followup",
    )
    return response


@router.post("/report/followup/message")
def followup_message(
    request: Request,
    db: Db,
    ctx: Ctx,
    message: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    """The tipster writes to staff; the report's owner is notified."""
    if too_many := limited(request, ctx):
        return too_many
    report = _followup_report(request, db, ctx)
    if report is None:
        return RedirectResponse("/report/followup?expired=1", status_code=303)
    try:
        service.tipster_message(db, report=report, body=message, now=ctx.clock.now())
    except DomainError as exc:
        mark_rollback(request)
        error = error_text(request, exc.message.removeprefix("message: "))
        return _thread_page(request, db, report, {"message": error}, {"message": message})
    return RedirectResponse("/report/followup?sent=1", status_code=303)


# --- warning signs ---------------------------------------------------------------------


@router.get("/warning-signs")
def warning_signs(request: Request, db: Db, j: int | None = None) -> Response:
    """A jurisdiction's warning-signs page (its own Markdown, or the default text)."""
    everywhere = list(db.scalars(select(Jurisdiction).order_by(Jurisdiction.name)))
    chosen = next((x for x in everywhere if x.id == j), None)
    if chosen is None and len(everywhere) == 1:
        chosen = everywhere[0]
    custom = None
    if chosen is not None and chosen.warning_signs_md:
        # Raw HTML is off: a <script> in the Markdown is shown as text, never run.
        custom = Markup(_markdown.render(chosen.warning_signs_md))  # noqa: S704
    context = {
        "jurisdiction": chosen,
        "choices": everywhere if chosen is None and len(everywhere) > 1 else [],
        "custom": custom,
    }
    return page(request, "public/warning_signs.html", context)
