"""Choosing the language of the public pages."""

from __future__ import annotations

from defchain.web import i18n


def test_accept_language_is_ordered_by_quality() -> None:
    header = "en;q=0.4, es-MX, fr;q=0.9, *;q=0.1, de;q=0"
    assert i18n.parse_accept_language(header) == ["es", "fr", "en"]
    assert i18n.parse_accept_language("") == []
    assert i18n.parse_accept_language("es;q=abc") == []


def test_query_then_cookie_then_header_then_english() -> None:
    assert set(i18n.available_languages()) >= {"en", "es"}
    assert i18n.choose_language("es", "en", "en") == "es"
    assert i18n.choose_language(None, "es", "en") == "es"
    assert i18n.choose_language("xx", None, "fr, es;q=0.5") == "es"
    assert i18n.choose_language(None, None, "fr") == "en"


def test_spanish_catalog_is_complete_and_english_is_identity() -> None:
    assert i18n.translations("es").gettext("Report a concern") == "Reportar una inquietud"
    assert i18n.translations("en").gettext("Report a concern") == "Report a concern"
    assert i18n.language_name("es") == "Español"


def test_every_public_string_is_translated_in_the_compiled_spanish_catalog() -> None:
    """Fails when a page gains a string and `make translations` was not run."""
    from pathlib import Path

    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po

    root = Path(__file__).resolve().parents[2]
    keywords = {"_": None, "N_": None, "translate": (2,), "AttachmentRefused": None}
    method_map = [
        ("src/defchain/web/routes/public.py", "python"),
        ("src/defchain/web/public_pages.py", "python"),
        ("src/defchain/intake/attachments.py", "python"),
        ("src/defchain/web/templates/public/**.html", "jinja2"),
    ]
    options = {"src/defchain/web/templates/public/**.html": {"extensions": "jinja2.ext.i18n"}}
    found = {
        message if isinstance(message, str) else message[0]
        for _, _, message, _, _ in extract_from_dir(
            root,
            method_map,
            options,
            keywords=keywords,  # type: ignore[arg-type]
        )
    }
    assert "Report a concern" in found and "choose at most %(n)s files" in found
    po_path = i18n.TRANSLATIONS_DIR / "es" / "LC_MESSAGES" / "messages.po"
    with po_path.open("rb") as handle:
        catalog = read_po(handle)
    spanish = i18n.translations("es")
    missing = sorted(m for m in found if not catalog.get(m) or not catalog.get(m).string)
    assert not missing, f"untranslated in es: {missing}"
    stale = sorted(m for m in found if spanish.gettext(m) != catalog.get(m).string)
    assert not stale, f"messages.mo is older than messages.po (run make translations): {stale}"
