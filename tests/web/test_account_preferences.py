"""A user's own notification preferences on the account page: on duty and quiet hours.

Saved and audited for the user themself; bad input re-shows the form naming the field,
keeps what was typed and writes nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from defchain.audit import AuditEvent

from .conftest import field_errors


def _events(db: Any) -> int:
    return int(db.scalar(select(func.count(AuditEvent.id))))


def test_the_account_page_shows_the_preferences_form(cast: Any, browser_for: Any) -> None:
    page = browser_for(cast.analyst_a.id).get("/account").text
    assert 'action="/account/preferences"' in page
    assert "On duty (receive P1 alerts for my agency at once)" in page
    assert 'name="quiet_start"' in page and 'type="time"' in page
    assert "America/New_York" in page  # quiet hours are in the agency's local time


def test_a_user_saves_their_preferences_and_it_is_audited(
    cast: Any, browser_for: Any, db: Any
) -> None:
    client = browser_for(cast.lead_a.id)
    response = client.form(
        "/account/preferences", {"on_duty": "on", "quiet_start": "22:00", "quiet_end": "06:30"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/account?saved=1"
    db.refresh(cast.lead_a)
    assert (cast.lead_a.on_duty, cast.lead_a.quiet_start, cast.lead_a.quiet_end) == (
        True,
        "22:00",
        "06:30",
    )
    event = db.scalar(select(AuditEvent).where(AuditEvent.tag == "access:user:preferences_changed"))
    assert event.actor_id == cast.lead_a.id and event.subject_id == str(cast.lead_a.id)
    assert event.changes["on_duty"] == [False, True]
    page = client.get("/account?saved=1").text
    assert "preferences were saved" in page
    assert 'value="22:00"' in page and 'value="06:30"' in page
    assert 'id="on_duty" type="checkbox" name="on_duty" checked' in page

    # Unticking the box and clearing both times turns them off.
    assert (
        client.form("/account/preferences", {"quiet_start": "", "quiet_end": ""}).status_code == 303
    )
    db.refresh(cast.lead_a)
    assert (cast.lead_a.on_duty, cast.lead_a.quiet_start, cast.lead_a.quiet_end) == (False, "", "")


def test_a_bad_time_names_the_field_keeps_the_input_and_writes_nothing(
    cast: Any, browser_for: Any, db: Any
) -> None:
    before = _events(db)
    response = browser_for(cast.analyst_a.id).form(
        "/account/preferences", {"on_duty": "on", "quiet_start": "25:99", "quiet_end": "07:00"}
    )
    assert response.status_code == 422
    errors = field_errors(response.text)
    assert any(e.startswith("Quiet hours start:") and "time of day" in e for e in errors)
    assert 'value="25:99"' in response.text and 'value="07:00"' in response.text
    db.refresh(cast.analyst_a)
    assert (cast.analyst_a.on_duty, cast.analyst_a.quiet_end) == (False, "")
    assert _events(db) == before


def test_a_start_without_an_end_names_quiet_end(cast: Any, browser_for: Any, db: Any) -> None:
    before = _events(db)
    response = browser_for(cast.analyst_a.id).form(
        "/account/preferences", {"on_duty": "on", "quiet_start": "22:00"}
    )
    assert response.status_code == 422
    assert "quiet_end" in response.text  # the summary names the field
    assert any(e.startswith("Quiet hours end:") for e in field_errors(response.text))
    db.refresh(cast.analyst_a)
    assert cast.analyst_a.on_duty is False and cast.analyst_a.quiet_start == ""
    assert _events(db) == before


def test_unknown_fields_are_refused(cast: Any, browser_for: Any, db: Any) -> None:
    response = browser_for(cast.analyst_a.id).form(
        "/account/preferences", {"on_duty": "on", "user_id": str(cast.admin.id)}
    )
    assert response.status_code == 422
    assert "User: is not a field of this form" in response.text
    db.refresh(cast.admin)
    db.refresh(cast.analyst_a)
    assert cast.admin.on_duty is False and cast.analyst_a.on_duty is False


def test_preferences_change_only_the_signed_in_user(cast: Any, browser_for: Any, db: Any) -> None:
    # An administrator saving the form sets their own preferences, nobody else's.
    assert (
        browser_for(cast.admin.id).form("/account/preferences", {"on_duty": "on"}).status_code
        == 303
    )
    db.refresh(cast.admin)
    db.refresh(cast.analyst_a)
    assert cast.admin.on_duty is True and cast.analyst_a.on_duty is False


def test_signed_out_visitors_are_sent_to_sign_in(anon: Any) -> None:
    response = anon.form("/account/preferences", {"on_duty": "on"})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/signin")
