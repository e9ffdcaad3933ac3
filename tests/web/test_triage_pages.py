"""The staff pages for triage: the report's triage panel and its forms, the triage queue
with clusters collapsed, a cluster's page, hand-offs, the chain's breaks, deadlines."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from defchain.clock import FrozenClock
from defchain.intake import Report
from defchain.triage import ClusterMember, DeadlineOverride, HandOff, TriageDecision
from defchain.triage import service as triage
from tests.conftest import Cast, receive_public_tip
from tests.web.conftest import field_errors

# Intent plus preparation, every other question answered "no": P2, nothing left open.
SERIOUS = {
    "threat_to_others": "yes",
    "preparation": "yes",
    "weapons": "no",
    "date_or_target": "no",
    "self_harm": "no",
    "grievance": "no",
    "setting": "public_place",
}
SIGHTING = (
    "A man in a red jacket was seen carrying a rifle case into the Riverside Mall "
    "parking garage on level three near the north entrance this afternoon."
)


def tip(db: Session, cast: Cast, clock: FrozenClock, **fields: Any) -> Report:
    """A public tip at agency A, through the triage pipeline."""
    fields.setdefault("narrative", "He said he would hurt people at the mall next week.")
    report = receive_public_tip(db, cast, clock, **fields)
    triage.process_pending(db, now=clock.now())
    return report


def decisions(db: Session, report: Report) -> int:
    query = select(func.count(TriageDecision.id)).where(TriageDecision.report_id == report.id)
    return int(db.scalar(query) or 0)


def text_of(html: str) -> str:
    """The page's words without tags, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_a_danger_now_tip_shows_the_p1_banner_with_its_reason(
    db: Session, cast: Cast, clock: FrozenClock, browser_for: Any
) -> None:
    report = tip(db, cast, clock, danger_now="yes")
    page = browser_for(cast.analyst_a.id).get(f"/reports/{report.id}")
    assert page.status_code == 200
    assert 'id="p1-alert"' in page.text
    words = text_of(page.text)
    assert "call 911 / dispatch now" in words
    assert "The reporter says someone is in danger right now." in words
    assert "P1 imminent" in words
    # The chain of the report is a table with its steps.
    assert "Acknowledged" in words and "Triaged by a person" in words


def test_accepting_the_suggestion_needs_no_reason(
    db: Session, cast: Cast, clock: FrozenClock, browser_for: Any
) -> None:
    report = tip(db, cast, clock, details=SERIOUS)
    client = browser_for(cast.analyst_a.id)
    page = client.get(f"/reports/{report.id}")
    assert re.search(r'id="priority-P2"[^>]*checked', page.text), "the suggestion is chosen"
    assert "They threatened to hurt others and have done something to prepare." in page.text
    response = client.form(f"/reports/{report.id}/triage", {"priority": "P2", "reason": ""})
    assert response.status_code == 303, response.text[-500:]
    db.refresh(report)
    assert report.triage_state == "decided" and report.priority == "P2"
    assert decisions(db, report) == 1
    words = text_of(client.get(f"/reports/{report.id}").text)
    assert "decided by Analyst A" in words and "the suggestion accepted" in words


def test_an_override_without_a_reason_is_refused_and_nothing_is_stored(
    db: Session, cast: Cast, clock: FrozenClock, browser_for: Any
) -> None:
    report = tip(db, cast, clock, details=SERIOUS)
    client = browser_for(cast.analyst_a.id)
    response = client.form(f"/reports/{report.id}/triage", {"priority": "P4", "reason": ""})
    assert response.status_code == 422
    errors = field_errors(response.text)
    assert any(e.startswith("Reason:") for e in errors), errors
    assert 'id="reason-error"' in response.text
    assert re.search(r'id="priority-P4"[^>]*checked', response.text), "what was chosen stays"
    db.expire_all()
    assert decisions(db, report) == 0
    assert db.get(Report, report.id).triage_state == "suggested"  # type: ignore[union-attr]
    # With a reason the override is saved.
    response = client.form(
        f"/reports/{report.id}/triage",
        {"priority": "P3", "reason": "The caller later said it was a joke between friends."},
    )
    assert response.status_code == 303
    assert decisions(db, report) == 1


def test_a_hand_off_moves_the_report_and_the_other_agency_acknowledges_it(
    db: Session, cast: Cast, clock: FrozenClock, browser_for: Any
) -> None:
    report = tip(db, cast, clock, details=SERIOUS)
    analyst = browser_for(cast.analyst_a.id)
    refused = analyst.form(
        f"/reports/{report.id}/handoff",
        {"kind": "owner", "to_agency_id": str(cast.agency_b.id), "handoff_reason": ""},
    )
    assert refused.status_code == 422
    assert 'id="handoff_reason-error"' in refused.text
    assert db.scalar(select(func.count(HandOff.id))) == 0
    response = analyst.form(
        f"/reports/{report.id}/handoff",
        {
            "kind": "owner",
            "to_agency_id": str(cast.agency_b.id),
            "to_team_id": str(cast.team.id),
            "handoff_reason": "The student attends a school of the district.",
        },
    )
    assert response.status_code == 303, response.text[-500:]
    db.refresh(report)
    assert report.agency_id == cast.agency_b.id
    handoff = db.scalars(select(HandOff).where(HandOff.report_id == report.id)).one()

    member = browser_for(cast.member_b.id)
    waiting = member.get("/handoffs")
    assert waiting.status_code == 200
    assert f"/reports/{report.id}" in waiting.text
    assert "The student attends a school of the district." in waiting.text
    assert f"/reports/{report.id}" not in analyst.get("/handoffs").text  # not agency A's
    clock.advance(minutes=5)
    ack = member.form(f"/handoffs/{handoff.id}/acknowledge", {"next": "https://evil.example/"})
    assert ack.status_code == 303 and ack.headers["location"] == "/handoffs"
    db.refresh(handoff)
    assert handoff.acknowledged_at is not None
    assert f"/reports/{report.id}" not in member.get("/handoffs").text
    words = text_of(member.get(f"/reports/{report.id}").text)
    assert "Agency A Police Department → Agency B School District" in words
    assert "by Member B" in words


def test_acknowledging_a_report_on_its_page(
    db: Session, cast: Cast, clock: FrozenClock, browser_for: Any
) -> None:
    report = tip(db, cast, clock, details=SERIOUS)
    client = browser_for(cast.analyst_a.id)
    assert 'id="acknowledge-form"' in client.get(f"/reports/{report.id}").text
    assert client.form(f"/reports/{report.id}/acknowledge").status_code == 303
    assert 'id="acknowledge-form"' not in client.get(f"/reports/{report.id}").text


def test_the_queue_collapses_a_cluster_and_its_page_decides_all(
    db: Session, cast: Cast, clock: FrozenClock, browser_for: Any
) -> None:
    reports = []
    for _ in range(3):
        reports.append(tip(db, cast, clock, narrative=SIGHTING, details=SERIOUS))
        clock.advance(minutes=2)
    alone = tip(db, cast, clock, danger_now="yes", narrative="Someone is in danger at home.")
    cluster_ids = {db.get(ClusterMember, r.id).cluster_id for r in reports}  # type: ignore[union-attr]
    assert len(cluster_ids) == 1
    cluster_id = cluster_ids.pop()

    client = browser_for(cast.analyst_a.id)
    page = client.get("/triage")
    assert page.status_code == 200
    assert page.text.count(f'href="/triage/clusters/{cluster_id}"') == 1
    for report in reports:
        assert f'href="/reports/{report.id}"' not in page.text
    words = text_of(page.text)
    assert "Cluster of 3 tips" in words
    assert words.index(f"#{alone.id}") < words.index("Cluster of 3 tips"), "P1 first"

    cluster = client.get(f"/triage/clusters/{cluster_id}")
    assert cluster.status_code == 200
    for report in reports:
        assert f'href="/reports/{report.id}"' in cluster.text
    assert "Similar words to" in cluster.text
    refused = client.form(f"/triage/clusters/{cluster_id}/decide", {"priority": "P2"})
    assert refused.status_code == 422 and 'id="reason-error"' in refused.text
    assert sum(decisions(db, r) for r in reports) == 0
    done = client.form(
        f"/triage/clusters/{cluster_id}/decide",
        {"priority": "P2", "reason": "One sighting reported three times."},
    )
    assert done.status_code == 303
    assert all(decisions(db, r) == 1 for r in reports)
    assert "Priority saved for 3 reports" in client.get(done.headers["location"]).text
    assert f"/triage/clusters/{cluster_id}" not in client.get("/triage").text

    # Someone who may read none of its members: it does not exist for them.
    assert browser_for(cast.user_c.id).get(f"/triage/clusters/{cluster_id}").status_code == 404


def test_breaks_show_a_late_p1_link(
    db: Session, cast: Cast, clock: FrozenClock, browser_for: Any
) -> None:
    report = tip(db, cast, clock, danger_now="yes")
    client = browser_for(cast.analyst_a.id)
    assert f"/reports/{report.id}" not in client.get("/chain/breaks").text
    clock.advance(minutes=20)
    page = client.get("/chain/breaks")
    assert page.status_code == 200
    words = text_of(page.text)
    assert f"Report #{report.id}" in words
    assert "Acknowledged" in words and "Late" in words
    assert "5 min late" in words  # acknowledged within 15 minutes: 20 - 15
    assert f"/reports/{report.id}" not in browser_for(cast.user_c.id).get("/chain/breaks").text
    assert browser_for(cast.oversight.id).get("/chain/breaks").status_code == 403
    # The report page tags the late step in words, not colour alone.
    assert ">Late<" in client.get(f"/reports/{report.id}").text


def test_deadlines_refuse_a_bad_duration_naming_the_field(
    db: Session, cast: Cast, clock: FrozenClock, browser_for: Any
) -> None:
    admin = browser_for(cast.admin.id)
    page = admin.get("/admin/deadlines")
    assert page.status_code == 200 and "P2.assessed = 12h" in page.text
    form = {"jurisdiction_id": str(cast.jurisdiction.id), "overrides": "P2.assessed = soon"}
    refused = admin.form("/admin/deadlines", form)
    assert refused.status_code == 422
    errors = field_errors(refused.text)
    assert any("P2.assessed:" in e for e in errors), errors
    assert "P2.assessed = soon" in refused.text  # what was typed stays
    assert db.get(DeadlineOverride, cast.jurisdiction.id) is None
    for bad in ("P2 assessed 12h", "P9.assessed = 12h", "P2.received = 1h"):
        response = admin.form("/admin/deadlines", {**form, "overrides": bad})
        assert response.status_code == 422, bad
    saved = admin.form("/admin/deadlines", {**form, "overrides": "P2.assessed = 12h"})
    assert saved.status_code == 303
    row = db.get(DeadlineOverride, cast.jurisdiction.id)
    assert row is not None and row.overrides == {"P2": {"assessed": "12h"}}
    assert "P2.assessed = 12h" in admin.get("/admin/deadlines").text
    assert browser_for(cast.lead_a.id).get("/admin/deadlines").status_code == 403


def test_closing_a_report_ends_its_open_links(
    db: Session, cast: Cast, clock: FrozenClock, browser_for: Any
) -> None:
    report = tip(db, cast, clock, danger_now="yes")
    client = browser_for(cast.analyst_a.id)
    assert client.form(f"/reports/{report.id}/status", {"status": "closed"}).status_code == 303
    clock.advance(days=3)
    assert f"/reports/{report.id}" not in client.get("/chain/breaks").text
    # Closed with a disposition: out of the triage queue, and no more call to dispatch.
    assert f"/reports/{report.id}" not in client.get("/triage").text
    assert 'id="p1-alert"' not in client.get(f"/reports/{report.id}").text


def test_the_navigation_offers_triage_to_staff(cast: Cast, browser_for: Any) -> None:
    assert 'href="/triage"' in browser_for(cast.analyst_a.id).get("/home").text
    assert 'href="/triage"' not in browser_for(cast.auditor.id).get("/home").text
