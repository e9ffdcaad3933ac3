"""Settings fail fast on unsafe configurations."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

from defchain.config import MIN_SECRET_KEY_LENGTH, ConfigError, Settings

STRONG_KEY = "k3J9-vQ2xR7_mWp4Lz8NcYt6HbUa1EoS"  # 32 characters, 32 distinct


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test sets reaches Settings (the test runner's own vars are ignored)."""
    for name in list(os.environ):
        if name.startswith("DEFCHAIN_"):
            monkeypatch.delenv(name)


def test_default_database_is_a_sqlite_file() -> None:
    settings = Settings(secret_key=STRONG_KEY)
    assert settings.database_url.startswith("sqlite:///")
    assert settings.sqlite_path() == Path("var/defchain.db")


def test_postgres_url_has_no_sqlite_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFCHAIN_DATABASE_URL", "postgresql+psycopg://u@db/defchain")
    monkeypatch.setenv("DEFCHAIN_SECRET_KEY", STRONG_KEY)
    settings = Settings()
    assert settings.database_url == "postgresql+psycopg://u@db/defchain"
    assert settings.sqlite_path() is None


def test_missing_secret_outside_demo_is_a_one_line_config_error() -> None:
    with pytest.raises(ConfigError) as raised:
        Settings()
    message = str(raised.value)
    assert "DEFCHAIN_SECRET_KEY" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "weak_key",
    [
        pytest.param("changeme", id="known-weak"),
        pytest.param("CHANGEME", id="known-weak-upper"),
        pytest.param("x" * (MIN_SECRET_KEY_LENGTH - 1), id="short-repetitive"),
        pytest.param(secrets.token_urlsafe(64)[: MIN_SECRET_KEY_LENGTH - 1], id="short-random"),
        pytest.param("a" * 64, id="one-char-repeated"),
        pytest.param("abcd" * 16, id="few-distinct-chars"),
    ],
)
def test_weak_secret_is_refused(weak_key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFCHAIN_SECRET_KEY", weak_key)
    with pytest.raises(ConfigError, match="DEFCHAIN_SECRET_KEY is too weak"):
        Settings()


def test_strong_secret_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    key = secrets.token_urlsafe(48)
    monkeypatch.setenv("DEFCHAIN_SECRET_KEY", key)
    assert Settings().secret_key == key


def test_secret_of_exactly_minimum_length_is_accepted() -> None:
    assert len(STRONG_KEY) == MIN_SECRET_KEY_LENGTH
    assert Settings(secret_key=STRONG_KEY).secret_key == STRONG_KEY


def test_demo_mode_generates_a_strong_secret_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFCHAIN_DEMO", "1")
    first, second = Settings(), Settings()
    assert len(first.secret_key) >= MIN_SECRET_KEY_LENGTH
    assert len(set(first.secret_key)) >= 8
    assert first.secret_key != second.secret_key


def test_demo_mode_keeps_a_given_secret() -> None:
    assert Settings(demo=True, secret_key="short but demo").secret_key == "short but demo"


def test_outside_demo_mfa_is_required_and_cookies_are_secure() -> None:
    settings = Settings(secret_key=STRONG_KEY)
    assert settings.mfa_required is True
    assert settings.secure_cookies is True


def test_demo_relaxes_mfa_and_cookie_security() -> None:
    settings = Settings(demo=True)
    assert settings.mfa_required is False
    assert settings.secure_cookies is False


@pytest.mark.parametrize(("demo", "forced"), [(True, True), (False, False)])
def test_cookie_secure_overrides_the_default(demo: bool, forced: bool) -> None:
    settings = Settings(demo=demo, secret_key=STRONG_KEY, cookie_secure=forced)
    assert settings.secure_cookies is forced
