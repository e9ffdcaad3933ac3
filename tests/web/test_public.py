"""The public side of intake: the tip page, attachments, passphrase, follow-up thread,
languages, warning signs, abuse protection, and the admin settings behind them."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from fastapi import FastAPI
from PIL import Image
from pypdf import PdfReader, PdfWriter
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from defchain.access import Actor, Jurisdiction
from defchain.access.schemas import JurisdictionIn
from defchain.access.service import create_jurisdiction
from defchain.audit import AuditEvent
from defchain.intake import Attachment, Report, TipMessage, service
from defchain.notify import Notification
from defchain.web.ratelimit import RateLimiter
from defchain.web.routes.public import FOLLOWUP_COOKIE
from defchain.web.security import signed_token
from tests.web.conftest import SECRET, Browser

UA = "Mozilla/5.0 (X11) SpecialAgent/9.9"
CLIENT_IP = "203.0.113.77"


@pytest.fixture
def intake(cast: Any, db: Session) -> Any:
    """The cast's jurisdiction sends public tips to agency A."""
    cast.jurisdiction.intake_agency_id = cast.agency_a.id
    db.flush()
    return cast


def tip(**overrides: str) -> dict[str, str]:
    values = {
        "danger_now": "no",
        "subject_name": "Jordan Example",
        "subject_nickname": "JJ",
        "subject_school": "Westfield High",
        "subject_workplace": "",
        "subject_online_handle": "@jj_example",
        "narrative": "He posted that he will shoot up the gym on Friday.",
        "occurred_at_text": "Yesterday evening",
        "location": "Group chat",
        "weapons": "yes",
        "weapons_text": "His father's rifle",
        "date_or_target": "yes",
        "date_or_target_text": "Friday, the gym",
        "how_known": "He sent it to me.",
        "website": "",
    }
    values.update(overrides)
    return values


def send(client: Browser, data: dict[str, str], files: Any = None, **kwargs: Any) -> Any:
    return client.form("/report", data, files=files, **kwargs)


def reports(db: Session) -> list[Report]:
    return list(db.scalars(select(Report).order_by(Report.id)))


def shown_code(html: str) -> str:
    match = re.search(r'id="tip-code">([A-Z0-9-]+)<', html)
    assert match, "no tip code on the page"
    return match.group(1)


def shown_token(html: str) -> str:
    match = re.search(r'name="token" value="([0-9a-f]+)"', html)
    assert match, "no token on the page"
    return match.group(1)


def field_errors(html: str) -> dict[str, str]:
    return dict(re.findall(r'class="usa-error-message" id="([\w-]+)-error">([^<]+)<', html))


def jpeg_with_gps() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "SpyCam Inc"
    exif[0x8825] = {1: "N", 2: (40.0, 26.0, 46.0), 3: "W", 4: (79.0, 58.0, 56.0)}
    out = io.BytesIO()
    Image.new("RGB", (30, 20), "blue").save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def pdf_by(author: str) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    writer.add_metadata({"/Author": author})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --- the tip page ------------------------------------------------------------------------


def test_tip_is_stored_as_web_tip_to_the_minute_without_address_or_browser(
    intake: Any, anon: Browser, db: Session, clock: Any
) -> None:
    clock.advance(seconds=37, microseconds=4321)
    response = send(anon, tip(), headers={"user-agent": UA, "x-forwarded-for": CLIENT_IP})
    assert response.status_code == 200, response.text
    [report] = reports(db)
    assert shown_code(response.text) == report.tip_code
    assert (report.kind, report.channel, report.agency_id) == ("tip", "web", intake.agency_a.id)
    assert report.received_at.second == 0 and report.received_at.microsecond == 0
    assert report.subject["name"] == "Jordan Example"
    assert report.subject["online_handle"] == "@jj_example"
    assert report.details["weapons"] == "yes" and report.details["date_or_target"] == "yes"
    assert report.details["how_known"] == "He sent it to me."
    assert report.reporter is None and report.danger_now is False
    # No column of the row, and no audit event about it, holds the address or browser.
    row = {c.key: getattr(report, c.key) for c in inspect(Report).mapper.column_attrs}
    events = db.scalars(select(AuditEvent).where(AuditEvent.subject_type == "report")).all()
    stored = repr(row) + repr([(e.actor_label, e.changes, e.at) for e in events])
    for trace in (CLIENT_IP, "testclient", "SpecialAgent", "Mozilla"):
        assert trace not in stored
    assert all(e.at.second == 0 for e in events)


def test_danger_now_shows_call_911_and_still_stores_the_report(
    intake: Any, anon: Browser, db: Session
) -> None:
    response = send(anon, tip(danger_now="yes"))
    assert response.status_code == 200
    assert "Call 911 now" in response.text
    assert "usa-alert--emergency" in response.text
    [report] = reports(db)
    assert report.danger_now is True


def test_a_validation_error_keeps_what_was_typed_names_fields_and_stores_nothing(
    intake: Any, anon: Browser, db: Session
) -> None:
    data = tip(narrative="   ", location="x" * 501, subject_name="Sam <Somebody>")
    response = send(anon, data)
    assert response.status_code == 422
    errors = field_errors(response.text)
    assert errors["narrative"].startswith("What did they say or do?: ")
    assert "500" in errors["location"] and errors["location"].startswith("Where did it happen?")
    assert 'value="Sam &lt;Somebody&gt;"' in response.text
    assert "His father&#39;s rifle</textarea>" in response.text
    assert 'value="x' + "x" * 499 in response.text
    assert 'id="weapons-yes" type="radio" name="weapons" value="yes" checked' in response.text
    assert reports(db) == []


def test_a_rejected_form_with_files_asks_for_them_again(intake: Any, anon: Browser) -> None:
    files = [("attachments", ("photo.jpg", jpeg_with_gps(), "image/jpeg"))]
    response = send(anon, tip(narrative=""), files=files)
    assert response.status_code == 422
    assert "choose your files again" in response.text


def test_honeypot_answers_like_success_but_stores_nothing(
    intake: Any, anon: Browser, db: Session
) -> None:
    response = send(anon, tip(website="http://cheap-pills.example"))
    assert response.status_code == 200
    assert shown_code(response.text)
    assert "Choose a passphrase" in response.text
    assert reports(db) == []


def test_jurisdiction_select_only_when_several_take_tips(
    intake: Any, anon: Browser, db: Session, clock: Any
) -> None:
    page = anon.get("/report").text
    assert f'type="hidden" name="jurisdiction_id" value="{intake.jurisdiction.id}"' in page
    other = create_jurisdiction(
        db,
        actor=Actor.system("test"),
        now=clock.now(),
        data=JurisdictionIn(
            name="Other County",
            state="OH",
            timezone="America/New_York",
            intake_agency_id=intake.agency_b.id,
        ),
    )
    page = anon.get("/report").text
    assert '<select class="usa-select" id="jurisdiction_id"' in page
    assert f'<option value="{other.id}">Other County</option>' in page
    response = send(anon, tip(jurisdiction_id=""))
    assert response.status_code == 422
    assert "jurisdiction_id" in field_errors(response.text)
    response = send(anon, tip(jurisdiction_id=str(other.id)))
    assert response.status_code == 200
    assert reports(db)[0].agency_id == intake.agency_b.id


def test_without_an_intake_agency_the_page_says_where_else_to_report(
    cast: Any, anon: Browser, db: Session
) -> None:
    for response in (anon.get("/report"), send(anon, tip())):
        assert response.status_code == 200
        assert "Reports are not taken online here" in response.text
        assert "tips.fbi.gov" in response.text and "911" in response.text
    assert reports(db) == []


def test_rate_limit_answers_429_in_plain_words_and_keeps_no_address(
    intake: Any, anon: Browser, app: FastAPI
) -> None:
    limiter = RateLimiter(secret_key=SECRET, limit=3)
    app.state.public_rate_limiter = limiter
    for _ in range(3):
        assert send(anon, tip(narrative="")).status_code == 422
    response = send(anon, tip())
    assert response.status_code == 429
    assert "Please wait a minute" in response.text and response.headers["retry-after"] == "60"
    assert anon.form("/report/followup", {"tip_code": "x", "passphrase": "y"}).status_code == 429
    assert "testclient" not in repr(limiter._hits)
    assert all(re.fullmatch(r"[0-9a-f]{64}", key) for key in limiter._hits)


def test_the_default_rate_limit_comes_from_settings(
    intake: Any, anon: Browser, app: FastAPI
) -> None:
    app.state.ctx.settings.public_rate_limit_per_minute = 2
    assert [send(anon, tip(narrative="")).status_code for _ in range(3)] == [422, 422, 429]


# --- attachments -----------------------------------------------------------------------


def test_a_photo_is_stored_without_its_exif_gps(intake: Any, anon: Browser, db: Session) -> None:
    files = [("attachments", ("IMG_0001.JPG", jpeg_with_gps(), "image/jpeg"))]
    response = send(anon, tip(), files=files)
    assert response.status_code == 200, field_errors(response.text)
    [attachment] = db.scalars(select(Attachment)).all()
    assert attachment.filename == "IMG_0001.JPG" and attachment.content_type == "image/jpeg"
    image = Image.open(io.BytesIO(attachment.data))
    assert dict(image.getexif()) == {}
    assert b"SpyCam" not in attachment.data
    assert attachment.size == len(attachment.data)
    assert attachment.created_at.second == 0


def test_a_pdf_is_stored_without_its_author(intake: Any, anon: Browser, db: Session) -> None:
    files = [("attachments", ("notes.pdf", pdf_by("Jane Tipster"), "application/pdf"))]
    assert send(anon, tip(), files=files).status_code == 200
    [attachment] = db.scalars(select(Attachment)).all()
    reader = PdfReader(io.BytesIO(attachment.data))
    assert reader.metadata is None or "/Author" not in reader.metadata
    assert b"Jane Tipster" not in attachment.data


def test_a_jpg_that_is_really_a_zip_is_refused_naming_the_file(
    intake: Any, anon: Browser, db: Session
) -> None:
    files = [
        ("attachments", ("fine.png", _png(), "image/png")),
        ("attachments", ("cat.jpg", b"PK\x03\x04" + b"\x00" * 64, "image/jpeg")),
    ]
    response = send(anon, tip(), files=files)
    assert response.status_code == 422
    error = field_errors(response.text)["attachments"]
    assert "cat.jpg" in error and "fine.png" not in error
    assert reports(db) == [] and db.scalars(select(Attachment)).all() == []


def test_an_11_mb_file_is_refused(intake: Any, anon: Browser, db: Session) -> None:
    big = jpeg_with_gps() + b"\x00" * (11 * 1024 * 1024)
    response = send(anon, tip(), files=[("attachments", ("big.jpg", big, "image/jpeg"))])
    assert response.status_code == 422
    assert "big.jpg" in field_errors(response.text)["attachments"]
    assert "10 MB" in field_errors(response.text)["attachments"]
    assert reports(db) == []


def test_at_most_five_files(intake: Any, anon: Browser, db: Session) -> None:
    files = [("attachments", (f"p{i}.png", _png(), "image/png")) for i in range(6)]
    response = send(anon, tip(), files=files)
    assert response.status_code == 422
    assert "at most 5" in field_errors(response.text)["attachments"]
    assert reports(db) == []


def test_only_the_tip_page_gets_the_larger_body_limit(intake: Any, anon: Browser) -> None:
    two_mb = "x" * (2 * 1024 * 1024)
    assert anon.form("/signin", {"username": two_mb}).status_code == 413
    photo = ("attachments", ("p.jpg", jpeg_with_gps() + b"\0" * 3_000_000, "image/jpeg"))
    response = send(anon, tip(), files=[photo] * 3)  # about 9 MB in one request
    assert response.status_code == 200, response.text[:300]


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "green").save(out, "PNG")
    return out.getvalue()


# --- passphrase --------------------------------------------------------------------------


def test_the_tipster_chooses_a_passphrase_for_the_code_just_given(
    intake: Any, anon: Browser, db: Session
) -> None:
    page = send(anon, tip()).text
    code, token = shown_code(page), shown_token(page)
    mismatch = {"tip_code": code, "token": token, "passphrase": "blue kettle morning"}
    response = anon.form("/report/passphrase", {**mismatch, "passphrase_again": "other words"})
    assert response.status_code == 422 and "not the same" in response.text
    assert shown_code(response.text) == code  # the code stays on screen
    response = anon.form(
        "/report/passphrase", {**mismatch, "passphrase_again": "blue kettle morning"}
    )
    assert response.status_code == 200 and "Your passphrase is saved" in response.text
    [report] = reports(db)
    assert report.passphrase_hash and report.passphrase_hash.startswith("$argon2")
    again = anon.form("/report/passphrase", {**mismatch, "passphrase_again": "blue kettle morning"})
    assert again.status_code == 422 and "already chosen" in again.text


def test_a_forged_token_cannot_set_someone_elses_passphrase(
    intake: Any, anon: Browser, db: Session
) -> None:
    victim = shown_code(send(anon, tip()).text)
    mine = shown_code(send(anon, tip()).text)
    phrase = {"passphrase": "taken over now", "passphrase_again": "taken over now"}
    for token in (
        "0" * 64,
        signed_token(SECRET, "tip", mine),
        signed_token("wrong", "tip", victim),
    ):
        response = anon.form("/report/passphrase", {"tip_code": victim, "token": token, **phrase})
        assert response.status_code == 403
    report = db.scalar(select(Report).where(Report.tip_code == victim))
    assert report is not None and report.passphrase_hash is None


# --- follow-up ------------------------------------------------------------------------


@pytest.fixture
def tipped(intake: Any, anon: Browser, db: Session, clock: Any) -> Report:
    """A public tip with the passphrase 'blue kettle morning' and a staff question."""
    code = shown_code(send(anon, tip()).text)
    report = db.scalar(select(Report).where(Report.tip_code == code))
    assert report is not None
    service.set_passphrase(db, report=report, passphrase="blue kettle morning", now=clock.now())
    clock.advance(minutes=5)
    service.staff_message(
        db,
        actor=intake.actor("analyst_a"),
        report=report,
        body="Thank you. Did he say which gym?",
        now=clock.now(),
    )
    clock.advance(minutes=5)
    db.flush()
    return report


def open_thread(client: Browser, report: Report, passphrase: str = "blue kettle morning") -> Any:
    code = (report.tip_code or "").lower().replace("-", " ")  # typed loosely
    return client.form("/report/followup", {"tip_code": code, "passphrase": passphrase})


def test_wrong_passphrase_gets_the_same_generic_answer_as_an_unknown_code(
    tipped: Report, anon: Browser
) -> None:
    wrong = open_thread(anon, tipped, "not my passphrase")
    unknown = anon.form("/report/followup", {"tip_code": "2345-6789-ABCD", "passphrase": "x" * 9})
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "That tip code and passphrase do not match." in response.text
    assert FOLLOWUP_COOKIE not in wrong.cookies


def test_five_failures_lock_the_code(tipped: Report, anon: Browser, app: FastAPI) -> None:
    app.state.public_rate_limiter = RateLimiter(secret_key=SECRET, limit=100)
    for _ in range(5):
        open_thread(anon, tipped, "not my passphrase")
    response = open_thread(anon, tipped)
    assert response.status_code == 401 and "Too many attempts" in response.text


def test_followup_shows_status_and_thread_but_no_case_details(
    tipped: Report, anon: Browser, intake: Any
) -> None:
    response = open_thread(anon, tipped)
    assert response.status_code == 303 and response.headers["location"] == "/report/followup"
    cookie = response.cookies[FOLLOWUP_COOKIE]
    assert tipped.tip_code in cookie
    assert "httponly" in response.headers["set-cookie"].lower()
    assert "samesite=lax" in response.headers["set-cookie"].lower()
    page = anon.get("/report/followup").text
    assert "<strong>received</strong>" in page
    assert "Did he say which gym?" in page and "Staff" in page
    for secret in ("shoot up the gym", "Jordan Example", "Westfield", "Analyst A", "rifle"):
        assert secret not in page


def test_followup_cookie_is_signed_and_short_lived(
    tipped: Report, anon: Browser, clock: Any
) -> None:
    open_thread(anon, tipped)
    assert "Did he say which gym?" in anon.get("/report/followup").text
    real = anon.cookies.get(FOLLOWUP_COOKIE)
    assert real
    anon.cookies.set(FOLLOWUP_COOKIE, real.replace(tipped.tip_code or "", "2345-6789-ABCD"))
    assert "Did he say which gym?" not in anon.get("/report/followup").text
    anon.cookies.set(FOLLOWUP_COOKIE, real)
    clock.advance(minutes=16)
    page = anon.get("/report/followup").text
    assert "Did he say which gym?" not in page and 'name="passphrase"' in page


def test_tipster_reply_is_stored_and_notifies_the_agency_analyst(
    tipped: Report, anon: Browser, db: Session, intake: Any
) -> None:
    open_thread(anon, tipped)
    response = anon.form("/report/followup/message", {"message": "Yes, the Westfield gym."})
    assert response.status_code == 303
    assert response.headers["location"] == "/report/followup?sent=1"
    reply = db.scalar(select(TipMessage).where(TipMessage.author == "tipster"))
    assert reply is not None and reply.body == "Yes, the Westfield gym."
    notified = db.scalars(select(Notification.user_id)).all()
    assert intake.analyst_a.id in notified
    page = anon.get("/report/followup?sent=1").text
    assert page.index("Did he say which gym?") < page.index("Yes, the Westfield gym.")
    assert "Your message was sent." in page


def test_an_empty_reply_is_refused_and_a_reply_without_the_cookie_goes_to_the_form(
    tipped: Report, anon: Browser, db: Session
) -> None:
    response = anon.form("/report/followup/message", {"message": "hello"})
    assert response.status_code == 303 and "expired=1" in response.headers["location"]
    open_thread(anon, tipped)
    response = anon.form("/report/followup/message", {"message": "   "})
    assert response.status_code == 422 and "message" in field_errors(response.text)
    count = db.scalar(select(func.count(TipMessage.id)).where(TipMessage.author == "tipster"))
    assert count == 0


# --- languages -------------------------------------------------------------------------


def test_spanish_by_query_is_remembered_and_staff_pages_stay_english(
    intake: Any, anon: Browser
) -> None:
    response = anon.get("/report?lang=es")
    assert '<html lang="es">' in response.text
    assert "Reportar una inquietud" in response.text and "¿Hay alguien en peligro" in response.text
    assert response.cookies.get("dc_lang") == "es"
    anon.cookies.set("dc_lang", "es")
    assert '<html lang="es">' in anon.get("/report/followup").text
    signin = anon.get("/signin").text
    assert '<html lang="en"' in signin and "Report a concern" in signin


def test_accept_language_chooses_spanish_and_unknown_languages_fall_back_to_english(
    intake: Any, anon: Browser
) -> None:
    page = anon.get("/report", headers={"accept-language": "es-MX,es;q=0.9,en;q=0.5"}).text
    assert '<html lang="es">' in page
    page = anon.get("/report", headers={"accept-language": "de-DE,fr;q=0.8"}).text
    assert '<html lang="en">' in page and "Report a concern" in page
    assert '<html lang="en">' in anon.get("/report?lang=xx").text


def test_spanish_validation_errors_and_submission(intake: Any, anon: Browser) -> None:
    anon.cookies.set("dc_lang", "es")
    response = send(anon, tip(narrative=""))
    assert "¿Qué dijo o qué hizo?: cuente qué dijo o hizo la persona" in response.text
    response = send(anon, tip(danger_now="yes"))
    assert "Llame al 911 ahora" in response.text and "Su código de reporte" in response.text


# --- warning signs -------------------------------------------------------------------


def test_default_warning_signs_explain_intent_preparation_and_how_to_report(
    cast: Any, anon: Browser
) -> None:
    page = anon.get("/warning-signs").text
    for words in (
        "serious intent",
        "getting ready",
        "911",
        "tips.fbi.gov",
        "988",
        'href="/report"',
    ):
        assert words in page
    spanish = anon.get("/warning-signs?lang=es").text
    assert "Señales de intención seria" in spanish and "988" in spanish


def test_custom_markdown_is_rendered_and_raw_html_is_escaped(
    cast: Any, anon: Browser, db: Session
) -> None:
    cast.jurisdiction.warning_signs_md = (
        "## Call us\n\n**Test County** tip line: 555-0100\n\n<script>alert('x')</script>\n\n"
        "[bad](javascript:alert(1))"
    )
    db.flush()
    page = anon.get(f"/warning-signs?j={cast.jurisdiction.id}").text
    assert "<h2>Call us</h2>" in page and "<strong>Test County</strong>" in page
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page
    assert 'href="javascript:' not in page
    assert "Signs of serious intent" not in page


def test_several_jurisdictions_offer_a_choice(cast: Any, anon: Browser, db: Session) -> None:
    other = Jurisdiction(name="Other County", state="OH", timezone="America/Chicago")
    other.created_at = cast.jurisdiction.created_at
    other.warning_signs_md = "Other County's own page"
    db.add(other)
    db.flush()
    page = anon.get("/warning-signs").text
    assert f'href="/warning-signs?j={other.id}"' in page and "Signs of serious intent" in page
    assert "<p>Other County's own page</p>" in anon.get(f"/warning-signs?j={other.id}").text


# --- administration --------------------------------------------------------------------


def test_admin_sets_intake_agency_and_warning_signs_audited(
    cast: Any, browser_for: Any, db: Session
) -> None:
    admin = browser_for(cast.admin.id)
    form = admin.get(f"/admin/jurisdictions/{cast.jurisdiction.id}/edit").text
    assert 'name="intake_agency_id"' in form and 'name="warning_signs_md"' in form
    data = {
        "name": "Test County",
        "state": "OH",
        "county": "Test",
        "timezone": "America/New_York",
        "intake_agency_id": str(cast.agency_a.id),
        "warning_signs_md": "# Our page",
    }
    response = admin.form(f"/admin/jurisdictions/{cast.jurisdiction.id}/edit", data)
    assert response.status_code == 303
    db.refresh(cast.jurisdiction)
    assert cast.jurisdiction.intake_agency_id == cast.agency_a.id
    assert cast.jurisdiction.warning_signs_md == "# Our page"
    event = db.scalar(
        select(AuditEvent)
        .where(AuditEvent.tag == "access:jurisdiction:updated")
        .order_by(AuditEvent.seq.desc())
    )
    assert event is not None
    assert event.changes["intake_agency_id"] == [None, cast.agency_a.id]
    assert event.changes["warning_signs_md"] == [None, "# Our page"]
    bad = admin.form(
        f"/admin/jurisdictions/{cast.jurisdiction.id}/edit",
        {**data, "intake_agency_id": "999999", "warning_signs_md": "changed"},
    )
    assert bad.status_code == 422 and "intake_agency_id" in bad.text
    assert 'id="intake_agency_id-error"' in bad.text
    assert ">changed</textarea>" in bad.text
