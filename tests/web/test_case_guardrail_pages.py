"""The case page's guardrails through the web: the closure checklist, a refused close
that lists every missing condition, a close that succeeds, forms that name the bad field
and save nothing, the admin case-settings page, and who may do what."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from defchain import cases
from defchain.audit import AuditEvent
from defchain.cases import Case, care, lifecycle
from defchain.cases.models import CaseChange, CaseSettings, CheckIn
from defchain.people import Person, firearms
from tests.web.conftest import field_errors
from tests.web.test_people_pages import main_text


@pytest.fixture
def case(db: Session, cast: Any, clock: Any) -> Case:
    """Agency A's case on team T about Jayden, led by lead_a, assessed high then low."""
    jayden = Person(display_name="Jayden Example", created_at=clock.now())
    db.add(jayden)
    db.flush()
    opened = cases.open_case(
        db, cast.actor("lead_a"), title="Threats at the game", team_id=cast.team.id,
        person_ids=[jayden.id], now=clock.now(),
    )  # fmt: skip
    return opened


def assess(db: Session, cast: Any, clock: Any, case: Case, level: str) -> None:
    cases.record_concern(
        db, cast.actor("lead_a"), case, level=level, stage=None, assessed_at=clock.now()
    )


def missing(html: str) -> list[str]:
    """The conditions listed in ``#closure-missing``."""
    box = html.split('id="closure-missing"', 1)[1].split("</ul>", 1)[0]
    return re.findall(r"<li><strong>([^<]+)</strong>", box)


def summary(html: str) -> list[str]:
    """The lines of the page's error summary."""
    box = html.split('id="error-summary"', 1)[1].split("</ul>", 1)[0]
    return [" ".join(line.split()) for line in re.findall(r"<li>([^<]+)</li>", box)]


def count(db: Session, model: type) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def test_the_page_shows_the_panel_and_the_whole_checklist(
    browser_for: Any, cast: Any, db: Session, clock: Any, case: Case
) -> None:
    assess(db, cast, clock, case, "high")
    page = browser_for(cast.lead_a.id).get(f"/cases/{case.id}")
    assert page.status_code == 200
    assert 'id="guardrails"' in page.text and 'id="closure-missing"' not in page.text
    checklist = page.text.split('id="closure-checklist"', 1)[1].split("</ul>", 1)[0]
    conditions = re.findall(r'data-condition="([^"]+)" data-met="(yes|no)"', checklist)
    assert conditions == [
        ("current low assessment", "no"),
        ("no open task", "yes"),
        ("firearm access", "no"),
        ("plan outcome", "no"),
        ("lead sign-off", "no"),
        ("second sign-off", "no"),
        ("monitoring plan", "no"),
    ]
    text = main_text(page.text)
    assert "the latest assessment found high concern" in text
    for action in ("status", "close", "lead", "plan-outcome", "transfer", "sign-off", "checkins"):
        assert f'action="/cases/{case.id}/{action}"' in page.text, action
    assert "Schedule the default plan (30, 90, 180 days)" in text


def test_the_next_review_shows_overdue(
    browser_for: Any, cast: Any, db: Session, clock: Any, case: Case
) -> None:
    assess(db, cast, clock, case, "imminent")
    clock.advance(days=2)
    page = browser_for(cast.lead_a.id).get(f"/cases/{case.id}")
    review = page.text.split('id="g-next-review"', 1)[1].split("</dd>", 1)[0]
    assert "Overdue" in review and "dc-danger" in review


def test_a_refused_close_lists_every_missing_condition_and_saves_nothing(
    browser_for: Any, cast: Any, db: Session, clock: Any, case: Case
) -> None:
    assess(db, cast, clock, case, "high")
    changes, audits = count(db, CaseChange), count(db, AuditEvent)
    client = browser_for(cast.lead_a.id)
    response = client.form(f"/cases/{case.id}/close", {"reason": "Nothing more to do"})
    assert response.status_code == 422
    assert missing(response.text) == [
        "current low assessment",
        "firearm access",
        "plan outcome",
        "lead sign-off",
        "second sign-off",
        "monitoring plan",
    ]
    assert "Close the case: the case cannot close yet" in main_text(response.text)
    db.refresh(case)
    assert case.status == "assessing"
    assert (count(db, CaseChange), count(db, AuditEvent)) == (changes, audits)


def test_close_when_every_condition_is_met(
    browser_for: Any, cast: Any, db: Session, clock: Any, case: Case
) -> None:
    assess(db, cast, clock, case, "high")
    clock.advance(days=1)
    assess(db, cast, clock, case, "low")
    lead, member = browser_for(cast.lead_a.id), browser_for(cast.member_b.id)
    (subject,) = cases.subjects_of(db, case)
    steps = [
        (lead, f"/subjects/{subject.id}/firearm-access",
         {"status": "none_known", "source": "Parent interview"}),
        (lead, "/plan-outcome", {"outcome": "Counseling done, mentor in place."}),
        (lead, "/checkins", {"plan": "default"}),
        (lead, "/sign-off", {"note": "Agreed"}),
        (member, "/sign-off", {"note": ""}),
    ]  # fmt: skip
    for client, path, data in steps:
        response = client.form(f"/cases/{case.id}{path}", data)
        assert response.status_code == 303, (path, field_errors(response.text))
        assert response.headers["location"] == f"/cases/{case.id}#guardrails"
    assert count(db, CheckIn) == 3
    response = lead.form(f"/cases/{case.id}/close", {"reason": "Low concern, plan done"})
    assert response.status_code == 303
    db.refresh(case)
    assert case.status == "closed"
    page = lead.get(f"/cases/{case.id}")
    assert f'action="/cases/{case.id}/close"' not in page.text
    assert f'action="/cases/{case.id}/reopen"' in page.text


@pytest.mark.parametrize(
    ("path", "data", "error"),
    [
        ("/status", {"status": "closedish"}, "Status: "),
        ("/status", {"status": "monitoring"}, "Status: an open case cannot become monitoring"),
        ("/close", {"reason": ""}, "Why the case can close: say why"),
        ("/reopen", {"reason": "Why not"}, "Re-open: "),
        ("/lead", {"lead_user_id": "", "reason": "Handing over"}, "New lead: choose the new lead"),
        ("/lead", {"lead_user_id": "{user_c}", "reason": "Handing over"}, "New lead: User C "),
        ("/lead", {"lead_user_id": "{member_b}", "reason": ""}, "Reason: say why"),
        ("/plan-outcome", {"outcome": " "}, "Outcome: say why"),
        ("/transfer", {"transfer_note": ""}, "Transfer: say why"),
        ("/checkins", {"due_on": "next week"}, "Check-in date: enter a date"),
        ("/checkins", {"due_on": "2020-01-01"}, "Check-in dates: a check-in is scheduled"),
        ("/chronic", {"chronic": "on", "reason": ""}, "Reason: say why"),
        (
            "/care-items",
            {"kind": "medication", "agency_id": "1", "review_every_days": "30"},
            "Chronic case: only",
        ),
    ],
)
def test_bad_input_names_the_field_and_saves_nothing(
    browser_for: Any, cast: Any, db: Session, case: Case, path: str, data: dict, error: str
) -> None:
    ids = {"user_c": cast.user_c.id, "member_b": cast.member_b.id}
    data = {k: v.format(**ids) for k, v in data.items()}
    changes, audits = count(db, CaseChange), count(db, AuditEvent)
    response = browser_for(cast.lead_a.id).form(f"/cases/{case.id}{path}", data)
    assert response.status_code in (409, 422)
    # Named at the form when it is on the page, and always in the summary at the top.
    shown = field_errors(response.text) + summary(response.text)
    assert any(e.startswith(error) for e in shown), shown
    assert (count(db, CaseChange), count(db, AuditEvent)) == (changes, audits)
    db.refresh(case)
    assert (case.status, case.lead_user_id) == ("open", cast.lead_a.id)


def test_firearm_access_errors_name_the_field(
    browser_for: Any, cast: Any, db: Session, case: Case
) -> None:
    (subject,) = cases.subjects_of(db, case)
    client = browser_for(cast.lead_a.id)
    path = f"/cases/{case.id}/subjects/{subject.id}/firearm-access"
    response = client.form(path, {"status": "known", "source": "Neighbour", "detail": ""})
    assert response.status_code == 422
    assert "Detail: say what is known about the access" in field_errors(response.text)
    assert firearms.latest(db, subject.id) is None
    other = Person(display_name="Not a subject", created_at=case.created_at)
    db.add(other)
    db.flush()
    wrong = client.form(f"/cases/{case.id}/subjects/{other.id}/firearm-access", {"status": "known"})
    assert wrong.status_code == 404


def test_a_checkin_is_recorded_done(
    browser_for: Any, cast: Any, db: Session, clock: Any, case: Case
) -> None:
    (row,) = lifecycle.schedule_checkins(
        db, cast.actor("lead_a"), case, dates=[clock.now() + timedelta(days=1)],
        owner_user_id=None, now=clock.now(),
    )  # fmt: skip
    client = browser_for(cast.member_b.id)
    empty = client.form(f"/cases/{case.id}/checkins/{row.id}/done", {"outcome": ""})
    assert empty.status_code == 422
    assert "What the check-in found: say why (at least 5 characters)" in field_errors(empty.text)
    done = client.form(f"/cases/{case.id}/checkins/{row.id}/done", {"outcome": "Doing well"})
    assert done.status_code == 303
    db.refresh(row)
    assert row.status == "done" and row.done_by_user_id == cast.member_b.id


def test_the_long_term_plan_through_the_page(
    browser_for: Any, cast: Any, db: Session, clock: Any, case: Case
) -> None:
    client = browser_for(cast.lead_a.id)
    started = client.form(
        f"/cases/{case.id}/chronic",
        {"chronic": "on", "with_after_hold": "on", "reason": "Released after a 72-hour hold"},
    )
    assert started.status_code == 303
    page = main_text(client.get(f"/cases/{case.id}").text)
    assert "Follow-up appointment made?" in page and "Medication continuity?" in page
    item = care.care_items(db, case)[0]
    bad = client.form(
        f"/cases/{case.id}/care-items/{item.id}", {"action": "review", "answer": "perhaps"}
    )
    assert bad.status_code == 422 and "Answer: choose yes, no or unknown" in field_errors(bad.text)
    reviewed = client.form(
        f"/cases/{case.id}/care-items/{item.id}",
        {"action": "review", "answer": "yes", "note": "Booked for Monday"},
    )
    assert reviewed.status_code == 303
    db.refresh(item)
    assert (item.answer, item.next_review_at) == ("yes", clock.now() + timedelta(days=7))
    added = client.form(
        f"/cases/{case.id}/care-items",
        {"kind": "housing", "title": "", "agency_id": str(cast.agency_c.id),
         "review_every_days": "abc"},
    )  # fmt: skip
    assert added.status_code == 422
    assert "Review every (days): a whole number of days" in field_errors(added.text)
    assert len(care.care_items(db, case)) == 4


def test_who_may_use_the_guardrails(browser_for: Any, cast: Any, db: Session, case: Case) -> None:
    for path, data in (("/close", {"reason": "Nothing left here"}), ("/sign-off", {})):
        assert browser_for(cast.user_c.id).form(f"/cases/{case.id}{path}", data).status_code == 404
        assert (
            browser_for(cast.oversight.id).form(f"/cases/{case.id}{path}", data).status_code == 403
        )
    assert count(db, CaseChange) == 0 and lifecycle.signoffs(db, case) == []


# --- the admin page --------------------------------------------------------------------------


def test_case_settings_page_saves_and_names_bad_fields(
    browser_for: Any, cast: Any, db: Session
) -> None:
    admin = browser_for(cast.admin.id)
    page = admin.get("/admin/case-settings")
    assert page.status_code == 200
    assert 'href="/admin/case-settings"' in page.text  # the navigation entry
    assert 'value="90"' in page.text and 'id="tripwire-reopen"' in page.text
    form = {
        "jurisdiction_id": str(cast.jurisdiction.id),
        "review_imminent": "1",
        "review_high": "60",
        "review_moderate": "30",
        "review_low": "",
        "tripwire": "flag",
    }
    refused = admin.form("/admin/case-settings", form)
    assert refused.status_code == 422
    errors = field_errors(refused.text)
    assert "Low concern: is required" in errors
    assert db.get(CaseSettings, cast.jurisdiction.id) is None
    form |= {"review_low": "90", "review_high": "5"}
    saved = admin.form("/admin/case-settings", form)
    assert saved.status_code == 303
    row = db.get(CaseSettings, cast.jurisdiction.id)
    assert row is not None and row.review_days["high"] == 5 and row.tripwire == "flag"
    again = admin.get(saved.headers["location"])
    assert 'id="case-settings-saved"' in again.text and 'value="5"' in again.text


def test_only_administrators_reach_case_settings(browser_for: Any, cast: Any) -> None:
    for name in ("lead_a", "oversight", "auditor"):
        client = browser_for(cast.user(name).id)
        assert client.get("/admin/case-settings").status_code == 403
        assert 'href="/admin/case-settings"' not in client.get("/home").text


def test_a_missed_care_review_shows_among_the_late_steps_to_case_readers(
    browser_for: Any, cast: Any, db: Session, clock: Any, case: Case
) -> None:
    lead = cast.actor("lead_a")
    care.set_chronic(db, lead, case, chronic=True, reason="Long-term plan", now=clock.now())
    item = care.add_care_item(
        db, lead, case, kind="medication", agency_id=cast.agency_a.id, review_every_days=14,
        now=clock.now(),
    )  # fmt: skip
    clock.advance(days=15)
    page = browser_for(cast.lead_a.id).get("/chain/breaks").text
    table = page.split('id="chain-breaks"', 1)[1].split("</table>", 1)[0]
    assert f'href="/cases/{case.id}#guardrails"' in table
    assert f"Care-plan review #{item.id} on case #{case.id}" in table
    other = browser_for(cast.user_c.id).get("/chain/breaks").text
    assert f"Care-plan review #{item.id}" not in other
