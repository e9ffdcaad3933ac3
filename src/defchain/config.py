"""One typed settings object, read from ``DEFCHAIN_*`` environment variables.

It refuses unsafe configurations at start-up rather than running with them: outside
demo mode the secret key must be set and strong.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SECRET_KEY_LENGTH = 32
WEAK_SECRET_KEYS = frozenset({"changeme", "secret", "dev", "development", "insecure", "password"})


class ConfigError(Exception):
    """The configuration is unsafe or invalid; the message is one line for the operator.

    Not a ``ValueError``: pydantic would wrap that in a multi-line ``ValidationError``.
    """


class Settings(BaseSettings):
    """Everything the application reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="DEFCHAIN_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///var/defchain.db",
        description="SQLAlchemy URL. SQLite by default; postgresql+psycopg://... for agencies.",
    )
    demo: bool = Field(default=False, description="Demo mode: MFA optional, cookies over http.")
    secret_key: str = Field(default="", description="Signs CSRF tokens; at least 32 characters.")
    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    session_max_hours: int = Field(default=12, ge=1, le=72)
    lockout_threshold: int = Field(default=5, ge=1, le=100)
    lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    public_rate_limit_per_minute: int = Field(
        default=10,
        ge=1,
        le=10_000,
        description="Public tip page: POSTs per client per minute (keyed hash, memory only).",
    )
    pipeline: bool = Field(
        default=True,
        description="Link, triage and route each report right after the commit that stored it.",
    )
    sweep_interval: float = Field(
        default=60.0,
        ge=0,
        description="Seconds between sweeps of the chain's breaks in one worker; 0: no sweep.",
    )
    cookie_secure: bool | None = Field(
        default=None, description="Force the Secure cookie flag; default: on unless demo."
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    smtp_host: str = Field(default="", description="SMTP server for e-mail; empty: no e-mail.")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_from: str = Field(default="defense-chain@localhost", description="From address.")
    smtp_starttls: bool = Field(default=True, description="Upgrade the connection (STARTTLS).")
    smtp_user: str = ""
    smtp_password: str = ""
    base_url: str = Field(
        default="http://127.0.0.1:8000", description="How users reach the app (links in e-mail)."
    )

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> Settings:
        if self.demo and not self.secret_key:
            # Demo mode on a laptop: a random key per process is fine (sessions end on restart).
            self.secret_key = secrets.token_urlsafe(48)
        if not self.demo:
            key = self.secret_key
            if not key:
                raise ConfigError(
                    "DEFCHAIN_SECRET_KEY is not set: set it to a random value of at least "
                    f"{MIN_SECRET_KEY_LENGTH} characters (or DEFCHAIN_DEMO=1 for a demo)."
                )
            if (
                len(key) < MIN_SECRET_KEY_LENGTH
                or key.lower() in WEAK_SECRET_KEYS
                or (len(set(key)) < 8)
            ):
                raise ConfigError(
                    "DEFCHAIN_SECRET_KEY is too weak: use a random value of at least "
                    f"{MIN_SECRET_KEY_LENGTH} characters, e.g. from "
                    "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
                )
        return self

    @property
    def mfa_required(self) -> bool:
        """Every staff role needs MFA outside demo mode."""
        return not self.demo

    @property
    def secure_cookies(self) -> bool:
        """Cookies carry Secure unless a demo runs over plain http."""
        return self.cookie_secure if self.cookie_secure is not None else not self.demo

    def sqlite_path(self) -> Path | None:
        """The database file when the URL is a SQLite file URL."""
        prefix = "sqlite:///"
        if self.database_url.startswith(prefix) and ":memory:" not in self.database_url:
            return Path(self.database_url[len(prefix) :])
        return None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests build their own ``Settings`` instead)."""
    return Settings()
