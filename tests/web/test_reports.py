"""Staff report pages: a form per kind, the inbox, the report page and its actions,
attachment downloads and notifications."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from defchain import notify
from defchain.audit import AuditEvent
from defchain.intake import Attachment, Report, TipMessage, parse_report, service
from tests.conftest import receive_public_tip
from tests.web.conftest import TOKEN, field_errors

# Valid form submissions, one per kind, as a browser sends them (dotted field names).
VALID: dict[str, dict[str, Any]] = {
    "tip": {
        "channel": "walk_in",
        "narrative": "Visitor says her nephew posted a photo of a rifle with 'Friday'",
        "subject.name": "Dorian Example",
        "subject.approximate_age": "17",
        "subject.date_of_birth": "2008-04",
        "reporter.name": "Pat Caller",
        "reporter.phone": "(555) 555-0142",
        "details.weapons": "yes",
        "details.how_known": "She saw the post herself",
    },
    "sar": {
        "details.categories": ["PHOTO", "SURVL"],
        "details.site": "Riverside water treatment plant, north gate",
        "details.why_suspicious": "Man photographed the gate keypad and guard rotation for an hour",
        "details.other_factors": "He asked staff when the shift change happens and fled when asked",
        "location": "North gate",
    },
    "nics_denial": {
        "details.denied_at": "2026-01-04T15:30",
        "details.transaction_number": "NTN-0042-ABCD",
        "details.denial_category": "felony_conviction",
        "details.purchaser.name": "Quinn Fictitious",
        "details.purchaser.date_of_birth": "1990-02-03",
        "details.dealer.name": "Example Arms (fictitious)",
        "details.dealer.address": "1 Main St, Testville",
        "details.agencies_notified": "ATF field office\nState police",
    },
    "purchase_attempt": {
        "details.attempted_at": "2026-01-03T11:00",
        "details.sought": "Two identical 9 mm pistols",
        "details.behavior": "A companion picked the guns and handed over cash",
        "details.straw_indicators": ["companion_chooses", "companion_pays"],
        "details.dealer.name": "Example Arms (fictitious)",
        "details.purchaser.name": "Robin Fictitious",
    },
    "wellness_check": {
        "details.officer": "Officer Example #123",
        "details.checked_at": "2026-01-04T22:15",
        "details.contact_made": "true",
        "details.observed_state": "Agitated, had not slept",
        "details.weapons_access_reported": "yes",
        "details.referral_made": "true",
        "details.referral_to": "County crisis team",
        "details.officer_concern": "high",
    },
    "referral": {
        "details.organization_type": "school",
        "details.organization_name": "Westfield High School (fictitious)",
        "details.referrer_role": "Assistant principal",
        "details.behaviors": "Essay about attacking classmates, fixation on past shooters",
        "subject.school": "Westfield High",
    },
    "direct_threat": {
        "details.recipient": "City council member (fictitious)",
        "details.medium": "email",
        "details.threat_text": "You will pay for the vote on Tuesday",
        "details.received_at": "2026-01-05T01:00",
        "details.target_named": "yes",
    },
}

# What each valid submission must have stored in ``details``.
STORED: dict[str, dict[str, Any]] = {
    "tip": {"weapons": "yes", "how_known": "She saw the post herself"},
    "sar": {
        "categories": ["PHOTO", "SURVL"],
        "site": "Riverside water treatment plant, north gate",
    },
    "nics_denial": {
        "transaction_number": "NTN-0042-ABCD",
        "denial_category": "felony_conviction",
        "agencies_notified": ["ATF field office", "State police"],
        # 15:30 in New York (the test jurisdiction's zone) is 20:30 UTC.
        "denied_at": "2026-01-04T20:30:00Z",
    },
    "purchase_attempt": {"straw_indicators": ["companion_chooses", "companion_pays"]},
    "wellness_check": {
        "officer": "Officer Example #123",
        "contact_made": True,
        "referral_made": True,
        "hold_initiated": False,
        "officer_concern": "high",
    },
    "referral": {"organization_type": "school", "referrer_role": "Assistant principal"},
    "direct_threat": {"medium": "email", "target_named": "yes"},
}


def _count(db: Any) -> int:
    return int(db.scalar(select(func.count(Report.id))) or 0)


def _stored(db: Any, response: Any) -> Report:
    assert response.status_code == 303, response.text[-600:]
    match = re.fullmatch(r"/reports(?:/|\?saved=)(\d+)", response.headers["location"])
    assert match, response.headers["location"]
    report = db.get(Report, int(match.group(1)))
    assert report is not None
    return report


@pytest.mark.parametrize("kind", sorted(VALID))
def test_each_kind_is_stored_with_its_kind_channel_agency_and_details(
    kind: str, cast: Any, db: Any, browser_for: Any
) -> None:
    analyst = browser_for(cast.analyst_a.id)

    report = _stored(db, analyst.form(f"/reports/new/{kind}", VALID[kind]))

    assert report.kind == kind
    assert report.channel == ("walk_in" if kind == "tip" else "staff")
    assert report.agency_id == cast.agency_a.id
    assert report.created_by_user_id == cast.analyst_a.id
    for key, value in STORED[kind].items():
        stored = report.details[key]
        if key.endswith("_at"):  # the same instant, whatever offset it is written with
            stored, value = datetime.fromisoformat(stored), datetime.fromisoformat(value)
        assert stored == value, key
    # A NICS denial is labelled cji, which the analyst is not cleared for.
    expected = 404 if kind == "nics_denial" else 200
    assert analyst.get(f"/reports/{report.id}").status_code == expected


def test_an_author_without_the_clearance_is_told_where_the_report_went(
    cast: Any, db: Any, browser_for: Any
) -> None:
    analyst = browser_for(cast.analyst_a.id)
    response = analyst.form("/reports/new/nics_denial", VALID["nics_denial"])
    report = _stored(db, response)
    assert response.headers["location"] == f"/reports?saved={report.id}"
    assert f"Report #{report.id} was saved" in analyst.get(response.headers["location"]).text


def test_the_report_page_shows_what_the_form_stored_with_plain_labels(
    cast: Any, db: Any, browser_for: Any
) -> None:
    analyst = browser_for(cast.analyst_a.id)
    report = _stored(db, analyst.form("/reports/new/sar", VALID["sar"]))

    html = analyst.get(f"/reports/{report.id}").text

    assert "Photography" in html and "Observation or surveillance" in html
    assert "Riverside water treatment plant, north gate" in html
    assert "PHOTO" not in html  # codes are stored, labels are shown


def test_tip_with_contact_keeps_the_caller_and_anonymous_drops_it(
    cast: Any, db: Any, browser_for: Any
) -> None:
    analyst = browser_for(cast.analyst_a.id)
    named = _stored(db, analyst.form("/reports/new/tip", VALID["tip"]))
    anonymous = _stored(
        db, analyst.form("/reports/new/tip", {**VALID["tip"], "reporter.anonymous": "true"})
    )

    assert named.reporter is not None and named.reporter["name"] == "Pat Caller"
    assert named.subject["approximate_age"] == 17
    assert anonymous.reporter is None


def test_nics_denials_get_the_cji_label_by_default(cast: Any, db: Any, browser_for: Any) -> None:
    analyst = browser_for(cast.analyst_a.id)
    report = _stored(db, analyst.form("/reports/new/nics_denial", VALID["nics_denial"]))
    assert report.labels == ["cji"]


@pytest.mark.parametrize(
    ("kind", "change", "field", "message"),
    [
        ("sar", {"details.other_factors": ""}, "details.other_factors", "protected activity"),
        ("sar", {"details.categories": []}, "details.categories", "choose at least one"),
        ("sar", {"details.why_suspicious": "odd"}, "details.why_suspicious", "at least 20"),
        ("wellness_check", {"details.officer": ""}, "details.officer", "is required"),
        ("wellness_check", {"details.contact_made": ""}, "details.contact_made", "is required"),
        (
            "direct_threat",
            {"details.received_at": "2026-02-01T10:00"},
            "details.received_at",
            "must not be in the future",
        ),
        ("nics_denial", {"details.transaction_number": "x"}, "details.transaction_number", ""),
        ("tip", {"narrative": ""}, "narrative", "say what the person said or did"),
        ("tip", {"channel": "api"}, "channel", "choose phone or walk-in"),
        ("tip", {"subject.date_of_birth": "05/2008"}, "subject.date_of_birth", "YYYY"),
    ],
)
def test_an_invalid_form_names_the_field_keeps_the_input_and_stores_nothing(
    kind: str,
    change: dict[str, Any],
    field: str,
    message: str,
    cast: Any,
    db: Any,
    browser_for: Any,
) -> None:
    analyst = browser_for(cast.analyst_a.id)
    before = _count(db)
    submitted = {k: v for k, v in {**VALID[kind], **change}.items() if v != ""}

    response = analyst.form(f"/reports/new/{kind}", submitted)

    assert response.status_code == 422
    html = response.text
    error_id = "f-" + field.replace(".", "-") + "-error"
    assert f'id="{error_id}"' in html, field_errors(html)
    assert any(message in e for e in field_errors(html)), field_errors(html)
    assert "Nothing was saved" in html
    # What was typed is still there (one text value from the submission).
    kept = next(v for k, v in submitted.items() if isinstance(v, str) and len(v) > 12)
    assert kept.replace("'", "&#39;") in html
    assert _count(db) == before


def test_an_unknown_kind_is_not_found(cast: Any, browser_for: Any) -> None:
    analyst = browser_for(cast.analyst_a.id)
    assert analyst.get("/reports/new/gossip").status_code == 404
    assert analyst.form("/reports/new/gossip", {"narrative": "x"}).status_code == 404


def test_an_unknown_field_is_refused_by_name(cast: Any, db: Any, browser_for: Any) -> None:
    analyst = browser_for(cast.analyst_a.id)
    response = analyst.form("/reports/new/referral", {**VALID["referral"], "details.ssn": "1"})
    assert response.status_code == 422
    assert "details.ssn: is not a known field" in response.text


# --- the inbox ------------------------------------------------------------------------


def _receive(db: Any, actor: Any, clock: Any, **data: Any) -> Report:
    report_in = parse_report(data, now=clock.now())
    return service.receive(db, data=report_in, source=service.Source(actor=actor), now=clock.now())


def _listed(html: str) -> set[int]:
    return {int(i) for i in re.findall(r'href="/reports/(\d+)"', html)}


@pytest.fixture
def three(cast: Any, db: Any, clock: Any) -> dict[str, Report]:
    analyst = cast.actor("analyst_a")
    tip = _receive(
        db, analyst, clock, kind="tip", channel="phone",
        narrative="Jayden said he will bring his father's rifle to the gym",
    )  # fmt: skip
    clock.advance(minutes=5)
    sar = _receive(
        db, analyst, clock, kind="sar", channel="staff",
        details={
            "categories": ["TESTSEC"],
            "site": "City hall",
            "why_suspicious": "Tried every locked door of the building twice",
        },
    )  # fmt: skip
    clock.advance(minutes=5)
    elsewhere = _receive(
        db, cast.actor("member_b"), clock, kind="tip", channel="walk_in",
        narrative="Student at agency B said something about Jayden",
    )  # fmt: skip
    return {"tip": tip, "sar": sar, "elsewhere": elsewhere}


def test_inbox_lists_newest_first_only_the_reports_in_scope(
    cast: Any, browser_for: Any, three: dict[str, Report]
) -> None:
    html = browser_for(cast.analyst_a.id).get("/reports").text
    ids = [int(i) for i in re.findall(r'href="/reports/(\d+)"', html)]
    assert ids == [three["sar"].id, three["tip"].id]
    assert "bring his father" in html  # the excerpt


def test_inbox_filters_by_kind_channel_status_and_agency(
    cast: Any, browser_for: Any, three: dict[str, Report]
) -> None:
    admin = browser_for(cast.admin.id)
    assert _listed(admin.get("/reports").text) == {r.id for r in three.values()}
    assert _listed(admin.get("/reports?kind=sar").text) == {three["sar"].id}
    assert _listed(admin.get("/reports?channel=walk_in").text) == {three["elsewhere"].id}
    agency_b = admin.get(f"/reports?agency_id={cast.agency_b.id}").text
    assert _listed(agency_b) == {three["elsewhere"].id}
    assert _listed(admin.get("/reports?status=closed").text) == set()


def test_inbox_full_text_search(cast: Any, browser_for: Any, three: dict[str, Report]) -> None:
    analyst = browser_for(cast.analyst_a.id)
    assert _listed(analyst.get("/reports?q=rifle").text) == {three["tip"].id}
    assert _listed(analyst.get("/reports?q=locked+door").text) == {three["sar"].id}
    # "Jayden" is also in agency B's report, which the analyst may not see.
    assert _listed(analyst.get("/reports?q=Jayden").text) == {three["tip"].id}


def test_inbox_agency_filter_offers_only_agencies_with_visible_reports(
    cast: Any, browser_for: Any, three: dict[str, Report]
) -> None:
    html = browser_for(cast.analyst_a.id).get("/reports").text
    assert cast.agency_a.name in html
    assert cast.agency_b.name not in html


def test_inbox_pages(cast: Any, db: Any, clock: Any, browser_for: Any) -> None:
    analyst = cast.actor("analyst_a")
    for n in range(27):
        clock.advance(minutes=1)
        _receive(db, analyst, clock, kind="tip", channel="phone", narrative=f"Tip number {n}")
    client = browser_for(cast.analyst_a.id)
    first, second = client.get("/reports").text, client.get("/reports?page=2").text
    assert len(_listed(first)) == 25 and len(_listed(second)) == 2
    assert not _listed(first) & _listed(second)
    assert "Tip number 26" in first and "Tip number 0" in second


def test_labelled_reports_are_hidden_from_uncleared_users(
    cast: Any, db: Any, clock: Any, browser_for: Any
) -> None:
    denial = _receive(
        db,
        cast.actor("analyst_a"),
        clock,
        kind="nics_denial",
        channel="staff",
        details={
            "denied_at": "2026-01-04T10:00:00Z",
            "transaction_number": "NTN-1",
            "denial_category": "fugitive",
            "purchaser": {"name": "Quinn Fictitious"},
            "dealer": {"name": "Example Arms"},
        },
    )
    analyst = browser_for(cast.analyst_a.id)
    admin = browser_for(cast.admin.id)
    assert denial.id not in _listed(analyst.get("/reports").text)
    assert analyst.get(f"/reports/{denial.id}").status_code == 404
    assert admin.get(f"/reports/{denial.id}").status_code == 404  # admins need clearance too

    cast.analyst_a.clearances = ["cji"]
    db.flush()
    assert denial.id in _listed(analyst.get("/reports").text)
    assert analyst.get(f"/reports/{denial.id}").status_code == 200


# --- the report page and its actions --------------------------------------------------


@pytest.fixture
def web_tip(cast: Any, db: Any, clock: Any) -> Report:
    report = receive_public_tip(db, cast, clock, narrative="He showed a gun in the group chat")
    service.tipster_message(db, report=report, body="I can tell you more", now=clock.now())
    return report


def _events(db: Any, tag: str, report: Report) -> list[AuditEvent]:
    query = select(AuditEvent).where(
        AuditEvent.tag == tag,
        AuditEvent.subject_type == "report",
        AuditEvent.subject_id == str(report.id),
    )
    return list(db.scalars(query).all())


def test_viewing_a_report_is_audited_each_time(
    cast: Any, db: Any, browser_for: Any, web_tip: Report
) -> None:
    analyst = browser_for(cast.analyst_a.id)
    analyst.get(f"/reports/{web_tip.id}")
    analyst.get(f"/reports/{web_tip.id}")
    views = _events(db, "intake:report:viewed", web_tip)
    assert [e.actor_id for e in views] == [cast.analyst_a.id, cast.analyst_a.id]
    browser_for(cast.member_b.id).get(f"/reports/{web_tip.id}")  # 404: not a read
    assert len(_events(db, "intake:report:viewed", web_tip)) == 2


def test_the_report_page_shows_the_thread_and_timeline(
    cast: Any, browser_for: Any, web_tip: Report
) -> None:
    html = browser_for(cast.analyst_a.id).get(f"/reports/{web_tip.id}").text
    assert "I can tell you more" in html
    assert web_tip.tip_code is not None and web_tip.tip_code in html
    assert "Received" in html and "Message from the tipster" in html


def test_claim_status_and_reply_are_stored_and_audited(
    cast: Any, db: Any, browser_for: Any, web_tip: Report
) -> None:
    lead = browser_for(cast.lead_a.id)
    assert lead.form(f"/reports/{web_tip.id}/claim").status_code == 303
    assert lead.form(f"/reports/{web_tip.id}/status", {"status": "closed"}).status_code == 303
    reply = lead.form(f"/reports/{web_tip.id}/messages", {"message": "Thank you, which chat?"})
    assert reply.status_code == 303

    db.refresh(web_tip)
    assert (web_tip.owner_user_id, web_tip.status) == (cast.lead_a.id, "closed")
    staff = db.scalars(select(TipMessage).where(TipMessage.author == "staff")).all()
    assert [(m.body, m.staff_user_id) for m in staff] == [
        ("Thank you, which chat?", cast.lead_a.id)
    ]
    for tag in ("intake:report:owner_set", "intake:report:status_set", "intake:message:to_tipster"):
        assert [e.actor_id for e in _events(db, tag, web_tip)] == [cast.lead_a.id], tag
    html = lead.get(f"/reports/{web_tip.id}").text
    assert "Thank you, which chat?" in html and "Lead A" in html


def test_an_empty_reply_is_refused_and_a_bad_status_named(
    cast: Any, db: Any, browser_for: Any, web_tip: Report
) -> None:
    analyst = browser_for(cast.analyst_a.id)
    empty = analyst.form(f"/reports/{web_tip.id}/messages", {"message": "   "})
    assert empty.status_code == 422 and "write a message first" in empty.text
    bad = analyst.form(f"/reports/{web_tip.id}/status", {"status": "archived"})
    assert bad.status_code == 422 and "choose a status" in bad.text
    assert not _events(db, "intake:message:to_tipster", web_tip)
    assert db.get(Report, web_tip.id).status == "new"


def test_replying_to_a_report_without_a_tipster_is_refused(
    cast: Any, db: Any, clock: Any, browser_for: Any
) -> None:
    report = _receive(
        db, cast.actor("analyst_a"), clock, kind="tip", channel="phone", narrative="A call"
    )
    response = browser_for(cast.analyst_a.id).form(
        f"/reports/{report.id}/messages", {"message": "Hello?"}
    )
    assert response.status_code == 422
    assert "no anonymous tipster" in response.text


# --- attachments ----------------------------------------------------------------------


def _attach(db: Any, clock: Any, report: Report) -> Attachment:
    item = Attachment(
        report_id=report.id,
        filename="screen shot.png",
        content_type="image/png",
        size=11,
        sha256="0" * 64,
        data=b"\x89PNG-bytes",
        created_at=clock.now(),
    )
    db.add(item)
    db.flush()
    return item


def test_attachments_download_as_attachments_to_readers_only(
    cast: Any, db: Any, clock: Any, browser_for: Any, web_tip: Report
) -> None:
    item = _attach(db, clock, web_tip)
    url = f"/reports/{web_tip.id}/attachments/{item.id}"

    response = browser_for(cast.analyst_a.id).get(url)

    assert response.status_code == 200
    assert response.content == b"\x89PNG-bytes"
    assert response.headers["content-disposition"] == 'attachment; filename="screen_shot.png"'
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-type"] == "image/png"
    assert [e.changes for e in _events(db, "intake:attachment:downloaded", web_tip)] == [
        {"attachment_id": [None, item.id]}
    ]
    assert browser_for(cast.member_b.id).get(url).status_code == 404
    assert browser_for(cast.oversight.id).get(url).status_code == 403


def test_an_attachment_is_reached_only_through_its_own_report(
    cast: Any, db: Any, clock: Any, browser_for: Any, web_tip: Report
) -> None:
    other = _receive(db, cast.actor("analyst_a"), clock, kind="tip", channel="phone", narrative="x")
    item = _attach(db, clock, web_tip)
    analyst = browser_for(cast.analyst_a.id)
    assert analyst.get(f"/reports/{other.id}/attachments/{item.id}").status_code == 404


# --- notifications --------------------------------------------------------------------


def test_notifications_page_badge_and_marking_read(
    cast: Any, db: Any, clock: Any, browser_for: Any, web_tip: Report
) -> None:
    # web_tip's tipster message told agency A's intake analyst.
    mine = db.scalars(
        select(notify.Notification).where(notify.Notification.user_id == cast.analyst_a.id)
    ).all()
    assert [n.link for n in mine] == [f"/reports/{web_tip.id}"]
    clock.advance(minutes=1)
    notify.notify_user(db, user_id=cast.analyst_a.id, tag="t", subject="Second", now=clock.now())
    analyst = browser_for(cast.analyst_a.id)

    home = analyst.get("/home").text
    assert "Notifications (2)" in home
    page = analyst.get("/notifications").text
    assert page.index("Second") < page.index("Tipster replied")  # newest first
    assert page.count('class="dc-unread"') == 2

    assert analyst.form(f"/notifications/{mine[0].id}/read").status_code == 303
    assert "Notifications (1)" in analyst.get("/home").text
    assert analyst.get("/notifications").text.count('class="dc-unread"') == 1


def test_nobody_can_mark_someone_elses_notification(
    cast: Any, db: Any, clock: Any, browser_for: Any
) -> None:
    note = notify.notify_user(db, user_id=cast.lead_a.id, tag="t", subject="Hers", now=clock.now())
    for who in (cast.analyst_a, cast.admin):
        assert browser_for(who.id).form(f"/notifications/{note.id}/read").status_code == 404
    db.refresh(note)
    assert note.read_at is None
    assert "Hers" not in browser_for(cast.analyst_a.id).get("/notifications").text


def test_opening_the_report_reads_its_notifications(
    cast: Any, db: Any, clock: Any, browser_for: Any, web_tip: Report
) -> None:
    other = notify.notify_user(db, user_id=cast.analyst_a.id, tag="t", subject="x", now=clock.now())
    analyst = browser_for(cast.analyst_a.id)
    assert "Notifications (2)" in analyst.get("/home").text

    html = analyst.get(f"/reports/{web_tip.id}").text

    assert "Notifications (1)" in html  # the tipster's reply is read, the other one not
    db.refresh(other)
    assert other.read_at is None


# --- the import page ------------------------------------------------------------------

IMPORT_CSV = (
    "narrative,subject.name,details.weapons\n"
    "Caller says a student will bring a knife to the dance,Demo Person One,yes\n"
    ",Demo Person Two,maybe\n"
    "Neighbor heard threats about the mall opening,Demo Person Three,unknown\n"
)


def _upload(client: Any, *, skip_bad: bool) -> Any:
    data = {"csrf_token": TOKEN, "kind": "tip", "fmt": "csv"}
    if skip_bad:
        data["skip_bad"] = "true"
    files = {"file": ("tips.csv", IMPORT_CSV.encode(), "text/csv")}
    return client.post("/reports/import", data=data, files=files)


def test_import_is_all_or_nothing_and_names_each_bad_line(
    cast: Any, db: Any, browser_for: Any
) -> None:
    analyst = browser_for(cast.analyst_a.id)
    before = _count(db)

    response = _upload(analyst, skip_bad=False)

    assert response.status_code == 200
    assert "Imported 0 reports; 1 row rejected" in response.text
    row = re.search(r"<tbody><tr><td>(\d+)</td><td>([^<]+)</td>", response.text)
    assert row and row.group(1) == "3"
    assert "narrative" in row.group(2) and "details.weapons" in row.group(2)
    assert _count(db) == before

    response = _upload(analyst, skip_bad=True)
    assert "Imported 2 reports; 1 row rejected" in response.text
    imported = db.scalars(select(Report).where(Report.channel == "import")).all()
    assert sorted(r.subject["name"] for r in imported) == ["Demo Person One", "Demo Person Three"]
    assert {r.agency_id for r in imported} == {cast.agency_a.id}


def test_import_without_a_file_or_kind_names_both(cast: Any, browser_for: Any) -> None:
    response = browser_for(cast.analyst_a.id).form("/reports/import", {"fmt": "csv"})
    assert response.status_code == 422
    assert "Kind: choose a kind of report" in response.text
    assert "File: choose a file" in response.text
