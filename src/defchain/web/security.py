"""CSRF tokens, body-size limits and security headers."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSRF_COOKIE = "dc_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_COOKIE = "dc_session"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def new_csrf_seed() -> str:
    """The random value kept in the CSRF cookie."""
    return secrets.token_urlsafe(24)


def csrf_token(secret_key: str, seed: str) -> str:
    """The form token: an HMAC of the cookie's seed (signed double-submit)."""
    return hmac.new(secret_key.encode(), f"csrf:{seed}".encode(), hashlib.sha256).hexdigest()


def csrf_valid(secret_key: str, seed: str | None, token: str | None) -> bool:
    """Whether a submitted token matches the browser's cookie."""
    if not seed or not token:
        return False
    return hmac.compare_digest(csrf_token(secret_key, seed), token)


class SecurityHeadersMiddleware:
    """Adds CSP (no inline script, no framing), nosniff and friends to every response."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS:
                    if name not in present:
                        headers.append((name, value))
                if self.hsts:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                if not scope["path"].startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def signed_token(secret_key: str, purpose: str, value: str) -> str:
    """An HMAC proving the server issued ``value`` for ``purpose`` (e.g. a tip code)."""
    message = f"{purpose}:{value}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def signed_token_valid(secret_key: str, purpose: str, value: str, token: str | None) -> bool:
    """Whether ``token`` is ``signed_token(secret_key, purpose, value)``."""
    if not token:
        return False
    return hmac.compare_digest(signed_token(secret_key, purpose, value), token)


class BodyLimitMiddleware:
    """Refuses bodies over ``max_bytes`` with 413 before the app reads them whole.

    ``path_limits`` gives exact paths a different limit (the public tip page carries
    attachments); every other path keeps ``max_bytes``.
    """

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, path_limits: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.default_max_bytes = max_bytes
        self.path_limits = dict(path_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.path_limits.get(scope["path"], self.default_max_bytes)
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
            await _too_large(send, max_bytes, scope["path"])
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except* BodyTooLarge:
            # except*: Starlette's BaseHTTPMiddleware reads the body in a task group, so the
            # error may arrive wrapped in an ExceptionGroup.
            await _too_large(send, max_bytes, scope["path"])


class BodyTooLarge(Exception):
    """The streamed body passed the limit."""


async def _too_large(send: Send, max_bytes: int, path: str) -> None:
    message = f"Request body too large: the limit is {max_bytes:,} bytes."
    content_type = b"text/plain; charset=utf-8"
    body = message.encode()
    if path.startswith("/api/"):  # the API answers in JSON, naming the field
        errors = {"body": f"must be at most {max_bytes} bytes"}
        body = json.dumps({"detail": message, "errors": errors}).encode()
        content_type = b"application/json"
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class CsrfCookieMiddleware:
    """Gives every browser a random CSRF seed cookie (``dc_csrf``) on its first visit.

    A plain ASGI middleware (not Starlette's BaseHTTPMiddleware, which costs a task and
    a stream per request): the seed is put in ``scope["state"]`` for the templates and
    the cookie is added to the response start when the browser had none. The JSON API
    and static files get no cookie.
    """

    def __init__(self, app: ASGIApp, *, secure: bool) -> None:
        self.app = app
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        seed = _cookie(Headers(scope=scope).get("cookie", ""), CSRF_COOKIE)
        fresh = not seed
        state = scope.setdefault("state", {})
        state["csrf_seed"] = seed or new_csrf_seed()
        if not fresh or scope["path"].startswith(("/static/", "/api/")):
            await self.app(scope, receive, send)
            return
        attributes = "; HttpOnly; Path=/; SameSite=lax" + ("; Secure" if self.secure else "")
        cookie = f"{CSRF_COOKIE}={state['csrf_seed']}{attributes}".encode("latin-1")

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie)]
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value
    return None
