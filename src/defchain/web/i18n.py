"""Translations of the public pages (gettext catalogs through Babel).

Catalogs live in ``web/translations/<lang>/LC_MESSAGES/messages.po`` with the compiled
``.mo`` beside them; ``make translations`` extracts, updates and compiles them, and a
new folder there adds a language. Staff pages stay in English: the Jinja environment
has English (null) translations installed globally, and ``gettext_context`` gives a
public page its own language per request.
"""

from __future__ import annotations

import gettext as gettext_module
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

from babel import Locale, UnknownLocaleError
from babel.support import Translations
from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from markupsafe import Markup

TRANSLATIONS_DIR = Path(__file__).parent / "translations"
DEFAULT_LANGUAGE = "en"
LANG_COOKIE = "dc_lang"
LANG_PARAM = "lang"


def N_(message: str) -> str:
    """Mark a string for extraction without translating it now."""
    return message


@lru_cache(maxsize=1)
def available_languages() -> tuple[str, ...]:
    """English plus every language with a compiled catalog."""
    found = sorted(
        p.parent.parent.name
        for p in TRANSLATIONS_DIR.glob("*/LC_MESSAGES/messages.mo")
        if p.parent.parent.name != DEFAULT_LANGUAGE
    )
    return (DEFAULT_LANGUAGE, *found)


def language_name(lang: str) -> str:
    """A language's name in that language, e.g. ``Español``."""
    try:
        name = Locale.parse(lang).get_display_name(lang) or lang
    except (UnknownLocaleError, ValueError):
        return lang
    return name[:1].upper() + name[1:]


@lru_cache(maxsize=16)
def translations(lang: str) -> gettext_module.NullTranslations:
    """The catalog of ``lang``; English falls back to the message ids themselves."""
    if lang == DEFAULT_LANGUAGE or lang not in available_languages():
        return gettext_module.NullTranslations()
    loaded: gettext_module.NullTranslations = Translations.load(
        str(TRANSLATIONS_DIR), [lang], domain="messages"
    )
    return loaded


def parse_accept_language(header: str) -> list[str]:
    """Primary language subtags from an Accept-Language header, best first."""
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip().lower()
        if not tag or tag == "*":
            continue
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        if quality > 0:
            weighted.append((-quality, index, tag.split("-")[0]))
    return [tag for _, _, tag in sorted(weighted)]


def choose_language(query: str | None, cookie: str | None, accept_language: str) -> str:
    """``?lang=`` first, then the remembered choice, then the browser's preference."""
    available = available_languages()
    for candidate in (query, cookie):
        if candidate and candidate.lower() in available:
            return candidate.lower()
    for tag in parse_accept_language(accept_language):
        if tag in available:
            return tag
    return DEFAULT_LANGUAGE


def _newstyle(func: Callable[..., str]) -> Callable[..., str]:
    """Jinja's "newstyle" gettext: autoescaped, with ``%(name)s`` variables."""

    @pass_context
    def call(context: Context, message: str, *args: Any, **variables: Any) -> str:
        text = context.call(func, message, *args)
        if context.eval_ctx.autoescape:
            text = Markup(text)  # noqa: S704 - a translator's text; variables are escaped
        if variables:
            return cast(str, text % variables)
        return cast(str, text)

    return call


def gettext_context(lang: str) -> dict[str, Any]:
    """Template variables that make ``_()`` and ``{% trans %}`` speak ``lang``."""
    catalog = translations(lang)

    def ngettext(singular: str, plural: str, n: int) -> str:
        return catalog.ngettext(singular, plural, n)

    return {
        "gettext": _newstyle(catalog.gettext),
        "ngettext": _newstyle(ngettext),
        "lang": lang,
    }


def install(env: Environment) -> None:
    """Add the i18n extension with English for every template that is not told otherwise."""
    env.add_extension("jinja2.ext.i18n")
    cast(Any, env).install_null_translations(newstyle=True)
