"""Password hashing (argon2 via pwdlib), TOTP (pyotp) and token helpers."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
import segno
from pwdlib import PasswordHash

_hasher = PasswordHash.recommended()
# Verified against when the username is unknown, so timing does not reveal which
# usernames exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

TOTP_ISSUER = "Defense Chain"


def hash_password(password: str) -> str:
    """An argon2id hash."""
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """Constant-work check; an absent hash still costs one verification."""
    if password_hash is None:
        _hasher.verify(password, _DUMMY_HASH)
        return False
    try:
        return _hasher.verify(password, password_hash)
    except Exception:
        return False


def new_totp_secret() -> str:
    """A random base32 TOTP secret."""
    return pyotp.random_base32()


def totp_uri(secret: str, username: str) -> str:
    """The otpauth:// URI an authenticator app scans."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=TOTP_ISSUER)


def totp_qr_data_uri(secret: str, username: str) -> str:
    """The enrolment QR code as an SVG data URI (no inline script or style needed)."""
    return str(segno.make(totp_uri(secret, username), error="m").svg_data_uri(scale=5))


def totp_code(secret: str, at: datetime) -> str:
    """The code an authenticator shows at ``at`` (tests and the demo use it)."""
    return str(pyotp.TOTP(secret).at(at))


def verify_totp(secret: str, code: str, *, at: datetime, last_step: int) -> int | None:
    """The accepted time step, or ``None``.

    Accepts the current step and one either side for clock drift, and refuses a step
    at or before ``last_step`` so a code cannot be replayed.
    """
    code = "".join(ch for ch in code if ch.isdigit())
    if len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    current = int(at.timestamp()) // totp.interval
    for step in (current - 1, current, current + 1):
        if step <= last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def new_session_token() -> str:
    """A random cookie value."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What is stored in place of a session token."""
    return hashlib.sha256(token.encode()).hexdigest()


def format_secret(secret: str) -> str:
    """A TOTP secret in groups of four for typing by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
