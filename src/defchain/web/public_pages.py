"""Plumbing of the public pages: language, layout, translated messages, rate limit.

Shared by ``web/routes/public.py``. Nothing here reads the client's address except
``limited``, which hands it straight to the keyed-hash rate limiter.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from starlette.responses import Response

from defchain.intake.attachments import AttachmentRefused
from defchain.web import i18n
from defchain.web.deps import AppContext, mark_rollback
from defchain.web.i18n import N_
from defchain.web.ratelimit import RateLimiter
from defchain.web.templating import render

# Plain-word statuses, translated on the page (msgids are intake.PUBLIC_STATUS's words).
STATUS_WORDS = (N_("received"), N_("being looked into"), N_("closed"))
# Messages from the intake service, listed so that they are extracted for translation.
SERVICE_MESSAGES = (
    N_("That tip code and passphrase do not match."),
    N_("Too many attempts. Try again in 15 minutes."),
    N_("is required"),
    N_("say what the person said or did"),
    N_("must not be in the future"),
    N_("must be at least 8 characters"),
    N_("must be at most 200 characters"),
    N_("a passphrase was already chosen for this tip code."),
    N_("write a message first."),
    N_("at most 5000 characters."),
    N_("choose where this happened."),
    N_("this jurisdiction does not take reports here."),
)
_AT_MOST = re.compile(r"^String should have at most (\d+) characters?$")

# POST-only paths: the language switch leads to the page a visitor would go back to.
SWITCH_TARGET = {
    "/report/passphrase": "/report/followup",
    "/report/followup/message": "/report/followup",
}


def language(request: Request) -> str:
    """The visitor's language: ``?lang=``, the remembered choice, the browser, English."""
    return i18n.choose_language(
        request.query_params.get(i18n.LANG_PARAM),
        request.cookies.get(i18n.LANG_COOKIE),
        request.headers.get("accept-language", ""),
    )


def page(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    """Render a public page in the visitor's language (remembered when chosen)."""
    lang = language(request)
    path = SWITCH_TARGET.get(request.url.path, request.url.path)
    query = {k: v for k, v in request.query_params.items() if k in ("j",)}
    values: dict[str, Any] = {
        "languages": [
            (code, i18n.language_name(code), f"{path}?{urlencode({**query, 'lang': code})}")
            for code in i18n.available_languages()
        ],
        **i18n.gettext_context(lang),
        **(context or {}),
    }
    response = render(request, template, values, status_code=status_code)
    chosen = request.query_params.get(i18n.LANG_PARAM)
    if chosen == lang and request.cookies.get(i18n.LANG_COOKIE) != lang:
        ctx: AppContext = request.app.state.ctx
        response.set_cookie(
            i18n.LANG_COOKIE,
            lang,
            max_age=365 * 24 * 3600,
            httponly=True,
            secure=ctx.settings.secure_cookies,
            samesite="lax",
            path="/",
        )
    return response


def translate(request: Request, message: str) -> str:
    """Translate a message into this request's language (Python side)."""
    return i18n.translations(language(request)).gettext(message)


def error_text(request: Request, message: str) -> str:
    """A validation message in the visitor's language (pydantic's own made plain)."""
    match = _AT_MOST.match(message)
    if match:
        return translate(request, "must be at most %(n)s characters") % {"n": match.group(1)}
    if message.startswith("Input should be"):
        return translate(request, "choose one of the answers")
    return translate(request, message)


def limited(request: Request, ctx: AppContext) -> Response | None:
    """The 429 page when this client (by keyed hash, never by address) is over the limit."""
    limiter: RateLimiter | None = getattr(request.app.state, "public_rate_limiter", None)
    if limiter is None:
        limiter = RateLimiter(
            secret_key=ctx.settings.secret_key, limit=ctx.settings.public_rate_limit_per_minute
        )
        request.app.state.public_rate_limiter = limiter
    address = request.client.host if request.client else "unknown"
    if limiter.allow(address, now=ctx.clock.now()):
        return None
    mark_rollback(request)
    response = page(request, "public/too_many.html", status_code=429)
    response.headers["retry-after"] = "60"
    return response


def refusal(request: Request, exc: AttachmentRefused) -> str:
    """Why an attachment was refused, in the visitor's language."""
    return (
        translate(request, exc.template) % exc.params
        if exc.params
        else translate(request, exc.template)
    )
