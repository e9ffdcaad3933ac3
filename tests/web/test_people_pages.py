"""The person registry's pages: the review queue, a review item side by side, a person's
page, and deciding, merging, splitting and undoing through the web."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from defchain.audit import AuditEvent
from defchain.intake import Report
from defchain.people import (
    Identifier,
    MergeProposal,
    Person,
    PersonChange,
    ReportLink,
    ReviewItem,
)
from defchain.people import service as people
from defchain.people.rules import Decision
from tests.conftest import receive_public_tip
from tests.people.test_service import JAYDEN, MODEL
from tests.web.conftest import field_errors

JAY = {"nickname": "Jay", "school": "Westfield High School"}  # a grey-zone pair with JAYDEN
PRIYA = {"name": "Priya Example", "school": "Eastlake Middle School"}


def use_test_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Score with ``MODEL`` everywhere the service reaches for the shipped model."""
    monkeypatch.setattr(people, "default_model", lambda: replace(MODEL))


@pytest.fixture(autouse=True)
def _model(monkeypatch: pytest.MonkeyPatch) -> None:
    use_test_model(monkeypatch)


@dataclass
class Registry:
    """Two persons (Jayden from two reports' worth of identifiers, Priya), a report
    about "Jay" waiting for review, and the reports behind them (all at agency A)."""

    jayden: Person
    priya: Person
    jayden_report: Report
    priya_report: Report
    jay_report: Report
    item: ReviewItem
    jayden_link: ReportLink


def linked_report(db: Session, cast: Any, clock: Any, **subject: Any) -> people.LinkOutcome:
    """A public tip at agency A about ``subject``, linked with the test model."""
    report = receive_public_tip(
        db, cast, clock, narrative="Said he would bring a rifle to the assembly.", subject=subject
    )
    return people.link_report(
        db, report=report, who=cast.actor("analyst_a"), now=clock.now(), model=MODEL
    )


def make_registry(db: Session, cast: Any, clock: Any) -> Registry:
    first = linked_report(db, cast, clock, **JAYDEN)
    other = linked_report(db, cast, clock, **PRIYA)
    clock.advance(minutes=5)
    grey = linked_report(db, cast, clock, **JAY)
    assert first.decision is Decision.NEW and other.decision is Decision.NEW
    assert grey.decision is Decision.REVIEW and grey.review_item_id is not None
    item = db.get_one(ReviewItem, grey.review_item_id)
    link = db.scalars(select(ReportLink).where(ReportLink.person_id == first.person_id)).one()
    return Registry(
        jayden=db.get_one(Person, first.person_id),
        priya=db.get_one(Person, other.person_id),
        jayden_report=db.get_one(Report, link.report_id),
        priya_report=db.get_one(
            Report,
            db.scalars(
                select(ReportLink.report_id).where(ReportLink.person_id == other.person_id)
            ).one(),
        ),
        jay_report=db.get_one(Report, item.report_id),
        item=item,
        jayden_link=link,
    )


@pytest.fixture
def registry(db: Session, cast: Any, clock: Any) -> Registry:
    return make_registry(db, cast, clock)


def main_text(html: str) -> str:
    """The visible words of <main>, tags stripped and spaces collapsed."""
    body = html.split('<main id="main-content"', 1)[1].split("</main>", 1)[0]
    return " ".join(re.sub(r"<[^>]+>", " ", body).split())


# --- the queue and one review item -----------------------------------------------------


def test_the_queue_lists_open_items_and_the_review_page_compares_field_by_field(
    browser_for: Any, cast: Any, registry: Registry
) -> None:
    client = browser_for(cast.analyst_a.id)
    queue = client.get("/people/review")
    assert queue.status_code == 200
    assert f'href="/people/review/{registry.item.id}"' in queue.text
    assert "1 report waiting for review" in main_text(queue.text)
    assert 'href="/people/review"' in queue.text  # the navigation item

    page = client.get(f"/people/review/{registry.item.id}")
    assert page.status_code == 200
    text = main_text(page.text)
    assert f"person #{registry.jayden.id}, Jayden R. Morales" in text
    # Given name: the report's nickname against the person's given name, a nickname match.
    row = re.search(r"Given name or nickname</th>(.*?)</tr>", page.text, re.S)
    assert row is not None
    cells = main_text('<main id="main-content">' + row.group(1) + "</main>")
    assert "Jay" in cells and "Jayden" in cells and "nickname" in cells and "+3.9" in cells
    school = re.search(r"School or employer</th>(.*?)</tr>", page.text, re.S)
    assert school is not None and "exact" in school.group(1) and "+9.6" in school.group(1)
    # Date of birth is missing on the report's side: shown, and it weighs nothing.
    dob = re.search(r"Date of birth</th>(.*?)</tr>", page.text, re.S)
    assert dob is not None and "not compared" in dob.group(1) and "<td>0</td>" in dob.group(1)
    assert f'value="{registry.jayden.id}"' in page.text and 'value="new"' in page.text
    assert 'name="reason"' in page.text and 'name="csrf_token"' in page.text


def test_outsiders_neither_see_the_item_nor_open_it(
    browser_for: Any, cast: Any, registry: Registry
) -> None:
    client = browser_for(cast.member_b.id)
    queue = client.get("/people/review")
    assert queue.status_code == 200
    assert "Nothing waits for review" in queue.text
    assert client.get(f"/people/review/{registry.item.id}").status_code == 404


# --- deciding --------------------------------------------------------------------------


def test_deciding_same_person_links_the_report_and_the_person_page_shows_it(
    browser_for: Any, cast: Any, registry: Registry, db: Session
) -> None:
    client = browser_for(cast.analyst_a.id)
    response = client.form(
        f"/people/review/{registry.item.id}/decide",
        {"choice": str(registry.jayden.id), "reason": "Same school; classmates call him Jay."},
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == (
        f"/people/{registry.jayden.id}?decided={registry.item.id}"
    )
    db.expire_all()
    assert registry.item.outcome == "linked" and registry.item.person_id == registry.jayden.id
    page = client.get(response.headers["location"])
    text = main_text(page.text)
    assert "Decision on review" in text
    assert (
        "Jay" in re.findall(r"<caption>Nickname or alias</caption>.*?</table>", page.text, re.S)[0]
    )
    assert f'href="/reports/{registry.jay_report.id}"' in page.text
    assert "Same school; classmates call him Jay." in text  # the link's reason and timeline
    assert "Review decided" in text
    # The report page now names the person.
    report_page = client.get(f"/reports/{registry.jay_report.id}")
    assert f'href="/people/{registry.jayden.id}"' in report_page.text
    tags = set(db.scalars(select(AuditEvent.tag)))
    assert "people:review:decided" in tags


def test_deciding_a_new_person(
    browser_for: Any, cast: Any, registry: Registry, db: Session
) -> None:
    client = browser_for(cast.lead_a.id)
    response = client.form(
        f"/people/review/{registry.item.id}/decide",
        {"choice": "new", "reason": "A different Jay: he goes to the evening classes."},
    )
    assert response.status_code == 303
    db.expire_all()
    assert registry.item.outcome == "new_person"
    assert registry.item.person_id not in (registry.jayden.id, registry.priya.id)


@pytest.mark.parametrize(
    ("data", "field", "status"),
    [
        ({"choice": "new", "reason": "  "}, "Reason", 422),
        ({"reason": "Same school."}, "Decision", 422),
        ({"choice": "abc", "reason": "Same school."}, "Decision", 422),
        ({"choice": "999999", "reason": "Same school."}, "Decision", 422),
    ],
)
def test_bad_decisions_come_back_naming_the_field_and_write_nothing(
    browser_for: Any,
    cast: Any,
    registry: Registry,
    db: Session,
    data: dict[str, str],
    field: str,
    status: int,
) -> None:
    events_before = len(db.scalars(select(AuditEvent.id)).all())
    client = browser_for(cast.analyst_a.id)
    response = client.form(f"/people/review/{registry.item.id}/decide", data)
    assert response.status_code == status
    assert any(e.startswith(f"{field}:") for e in field_errors(response.text)), response.text
    assert 'id="error-summary"' in response.text
    if data.get("reason", "").strip():
        assert data["reason"] in response.text  # what was typed is kept
    db.expire_all()
    assert registry.item.outcome == "open"
    assert (
        db.scalars(select(ReportLink).where(ReportLink.report_id == registry.jay_report.id)).all()
        == []
    )
    assert len(db.scalars(select(AuditEvent.id)).all()) == events_before


def test_an_item_decided_twice_is_refused(browser_for: Any, cast: Any, registry: Registry) -> None:
    client = browser_for(cast.analyst_a.id)
    data = {"choice": "new", "reason": "Not him."}
    assert client.form(f"/people/review/{registry.item.id}/decide", data).status_code == 303
    again = client.form(f"/people/review/{registry.item.id}/decide", data)
    assert again.status_code == 409
    assert "already decided" in again.text
    page = client.get(f"/people/review/{registry.item.id}")
    assert 'id="decided"' in page.text and 'id="decide-form"' not in page.text


def test_without_the_csrf_token_nothing_is_decided(
    browser_for: Any, cast: Any, registry: Registry, db: Session
) -> None:
    client = browser_for(cast.analyst_a.id)
    response = client.post(
        f"/people/review/{registry.item.id}/decide",
        data={"choice": "new", "reason": "x"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    db.expire_all()
    assert registry.item.outcome == "open"


# --- the person page ---------------------------------------------------------------------


def test_opening_a_person_is_audited(
    browser_for: Any, cast: Any, registry: Registry, db: Session
) -> None:
    client = browser_for(cast.member_b.id)
    page = client.get(f"/people/{registry.jayden.id}")
    assert page.status_code == 200
    viewed = db.scalars(
        select(AuditEvent).where(
            AuditEvent.tag == "people:person:viewed",
            AuditEvent.subject_id == str(registry.jayden.id),
        )
    ).all()
    assert [e.actor_id for e in viewed] == [cast.member_b.id]


def test_reports_of_other_agencies_are_counted_not_shown(
    browser_for: Any, cast: Any, registry: Registry
) -> None:
    outsider = browser_for(cast.member_b.id).get(f"/people/{registry.jayden.id}")
    text = main_text(outsider.text)
    assert "Jayden R. Morales" in text  # the registry is shared
    assert "1 more linked report you cannot open" in text
    assert f'href="/reports/{registry.jayden_report.id}"' not in outsider.text
    assert "A report you cannot open" in text  # where an identifier came from
    insider = browser_for(cast.analyst_a.id).get(f"/people/{registry.jayden.id}")
    assert f'href="/reports/{registry.jayden_report.id}"' in insider.text
    assert "cannot open" not in main_text(insider.text)


def test_identifiers_with_a_label_the_user_is_not_cleared_for_are_withheld(
    browser_for: Any, cast: Any, registry: Registry, db: Session, clock: Any
) -> None:
    db.add(
        Identifier(
            person_id=registry.jayden.id,
            kind="address",
            value="12 Hidden Lane, Columbus OH 43004",
            normalized="12 hidden ln|43004",
            source_type="import",
            source_id="case-42",
            labels=["health"],
            created_at=clock.now(),
        )
    )
    db.flush()
    uncleared = browser_for(cast.analyst_a.id).get(f"/people/{registry.jayden.id}")
    assert "12 Hidden Lane" not in uncleared.text
    assert "1 withheld" in main_text(uncleared.text)
    cast.analyst_a.clearances = ["health"]
    db.flush()
    cleared = browser_for(cast.analyst_a.id).get(f"/people/{registry.jayden.id}")
    assert "12 Hidden Lane" in cleared.text and "withheld" not in main_text(cleared.text)
    assert "Import, record case-42" in main_text(cleared.text)


def test_a_non_numeric_or_unknown_person_is_not_found(
    browser_for: Any, cast: Any, registry: Registry
) -> None:
    client = browser_for(cast.analyst_a.id)
    assert client.get("/people/999999").status_code == 404
    assert client.get("/people/abc").status_code == 422


def test_the_report_page_says_when_its_subject_is_in_review(
    browser_for: Any, cast: Any, registry: Registry
) -> None:
    page = browser_for(cast.analyst_a.id).get(f"/reports/{registry.jay_report.id}")
    assert f'href="/people/review/{registry.item.id}"' in page.text
    assert "In review" in page.text


# --- merge, split and undo ---------------------------------------------------------------


def test_merge_through_the_web_then_the_merged_person_leads_to_the_survivor_and_undo(
    browser_for: Any, cast: Any, registry: Registry, db: Session
) -> None:
    client = browser_for(cast.lead_a.id)
    keep, gone = registry.jayden.id, registry.priya.id
    response = client.form(
        f"/people/{keep}/merge", {"merge_id": str(gone), "reason": "One student, two records."}
    )
    assert response.status_code == 303, response.text
    db.expire_all()
    assert db.get_one(Person, gone).merged_into_id == keep
    followed = client.get(f"/people/{gone}")
    assert followed.status_code == 200
    text = main_text(followed.text)
    assert f"Person #{gone} was merged into #{keep}" in text
    assert "Priya Example" in text and "Merged (#" in text
    assert "One student, two records." in text
    change = db.scalars(select(PersonChange).where(PersonChange.kind == "merge")).one()
    undone = client.form(
        f"/people/changes/{change.id}/undo",
        {"reason": "Two students after all.", "person_id": str(keep)},
    )
    assert undone.status_code == 303, undone.text
    db.expire_all()
    assert db.get_one(Person, gone).merged_into_id is None
    assert undone.headers["location"].startswith(f"/people/{gone}")


@pytest.mark.parametrize(
    ("data", "field", "status"),
    [
        ({"merge_id": "abc", "reason": "same"}, "Person to merge", 422),
        ({"merge_id": "", "reason": "same"}, "Person to merge", 422),
        ({"merge_id": "999999", "reason": "same"}, "Person to merge", 404),
        ({"merge_id": "{self}", "reason": "same"}, "Person to merge", 422),
        ({"merge_id": "{other}", "reason": ""}, "Reason", 422),
    ],
)
def test_bad_merges_come_back_naming_the_field_and_write_nothing(
    browser_for: Any,
    cast: Any,
    registry: Registry,
    db: Session,
    data: dict[str, str],
    field: str,
    status: int,
) -> None:
    ids = {"self": registry.jayden.id, "other": registry.priya.id}
    payload = {k: v.format(**ids) for k, v in data.items()}
    client = browser_for(cast.analyst_a.id)
    response = client.form(f"/people/{registry.jayden.id}/merge", payload)
    assert response.status_code == status, response.text
    assert any(e.startswith(f"{field}:") for e in field_errors(response.text)), response.text
    assert '<details class="margin-bottom-2" open>' in response.text  # the form is open
    db.expire_all()
    assert db.get_one(Person, registry.priya.id).merged_into_id is None
    assert db.scalars(select(PersonChange)).all() == []


def test_split_through_the_web_and_its_undo(
    browser_for: Any, cast: Any, registry: Registry, db: Session
) -> None:
    client = browser_for(cast.analyst_a.id)
    person = registry.jayden
    phone = next(i for i in person.identifiers if i.kind == "phone")
    response = client.form(
        f"/people/{person.id}/split",
        {"identifier_ids": str(phone.id), "reason": "The phone is his brother's."},
    )
    assert response.status_code == 303, response.text
    db.expire_all()
    change = db.scalars(select(PersonChange).where(PersonChange.kind == "split")).one()
    assert db.get_one(Identifier, phone.id).person_id == change.to_person_id
    page = client.get(response.headers["location"])
    assert f'href="/people/{change.to_person_id}"' in page.text
    assert "The phone is his brother&#39;s." in page.text
    undone = client.form(
        f"/people/changes/{change.id}/undo", {"reason": "It is his.", "person_id": str(person.id)}
    )
    assert undone.status_code == 303
    db.expire_all()
    assert db.get_one(Identifier, phone.id).person_id == person.id
    history = main_text(client.get(f"/people/{person.id}").text)
    assert "Split" in history and "Undone" in history and "It is his." in history


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"reason": "Not his."}, "Identifiers to split off"),
        ({"identifier_ids": "x", "reason": "Not his."}, "Identifiers to split off"),
        ({"identifier_ids": "999999", "reason": "Not his."}, "Identifiers to split off"),
        ({"link_ids": "999999", "reason": "Not his."}, "Reports to split off"),
        ({"identifier_ids": "{phone}", "reason": ""}, "Reason"),
    ],
)
def test_bad_splits_come_back_naming_the_field_and_write_nothing(
    browser_for: Any,
    cast: Any,
    registry: Registry,
    db: Session,
    data: dict[str, str],
    field: str,
) -> None:
    phone = next(i for i in registry.jayden.identifiers if i.kind == "phone")
    payload = {k: v.format(phone=phone.id) for k, v in data.items()}
    response = browser_for(cast.analyst_a.id).form(f"/people/{registry.jayden.id}/split", payload)
    assert response.status_code == 422, response.text
    assert any(e.startswith(f"{field}:") for e in field_errors(response.text)), response.text
    db.expire_all()
    assert db.scalars(select(PersonChange)).all() == []
    assert db.get_one(Identifier, phone.id).person_id == registry.jayden.id


def test_undo_a_change_needs_a_reason_and_an_existing_change(
    browser_for: Any, cast: Any, registry: Registry, db: Session, clock: Any
) -> None:
    change = people.merge(
        db, actor=cast.actor("lead_a"), keep_id=registry.jayden.id,
        merge_id=registry.priya.id, reason="same", now=clock.now(),
    )  # fmt: skip
    client = browser_for(cast.analyst_a.id)
    missing = client.form(
        f"/people/changes/{change.id}/undo", {"reason": " ", "person_id": str(registry.jayden.id)}
    )
    assert missing.status_code == 422
    assert "Reason: say why." in field_errors(missing.text)
    assert client.form("/people/changes/999999/undo", {"reason": "x"}).status_code == 404
    db.expire_all()
    assert change.undone_by_id is None


def test_undoing_a_link_sends_the_report_back_to_review(
    browser_for: Any, cast: Any, registry: Registry, db: Session
) -> None:
    client = browser_for(cast.analyst_a.id)
    link = registry.jayden_link
    bad = client.form(f"/people/links/{link.id}/undo", {"reason": ""})
    assert bad.status_code == 422 and "Reason: say why." in field_errors(bad.text)
    db.expire_all()
    assert link.undone_at is None
    response = client.form(f"/people/links/{link.id}/undo", {"reason": "A different Jayden."})
    assert response.status_code == 303
    assert re.fullmatch(r"/people/review/\d+", response.headers["location"])
    db.expire_all()
    assert link.undone_at is not None
    # The link stays, marked undone; an outsider cannot even find an active link.
    outsider = browser_for(cast.member_b.id)
    assert outsider.form(f"/people/links/{link.id}/undo", {"reason": "x"}).status_code == 404


def test_possible_duplicates_are_decided_on_their_own_page(
    browser_for: Any, cast: Any, registry: Registry, db: Session
) -> None:
    keep, other = registry.jayden.id, registry.priya.id
    people.propose_merges(
        db,
        pairs=[people.Pair(other, keep, 0.93, {"surname": 8.9, "dob": 12.1})],
        who=cast.actor("admin"),
        now=datetime.now(UTC),
    )
    client = browser_for(cast.lead_a.id)
    page = client.get("/people/proposals")
    assert page.status_code == 200
    text = main_text(page.text)
    assert "93.0%" in text and f"(#{keep})" in text and f"(#{other})" in text
    proposal = db.scalars(select(MergeProposal)).one()
    refused = client.form(f"/people/proposals/{proposal.id}/decide", {"choice": "merge"})
    assert refused.status_code == 422 and "Reason: say why." in refused.text
    db.expire_all()
    assert db.get_one(Person, other).merged_into_id is None and proposal.outcome == "open"
    done = client.form(
        f"/people/proposals/{proposal.id}/decide",
        {"choice": "merge", "reason": "Same student, two records."},
    )
    assert done.status_code == 303 and done.headers["location"] == f"/people/{keep}"
    db.expire_all()
    assert db.get_one(Person, other).merged_into_id == keep
    assert db.get_one(MergeProposal, proposal.id).outcome == "merged"
    assert "No possible duplicates" in client.get("/people/proposals").text
