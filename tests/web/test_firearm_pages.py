"""The firearms pages through the web: the follow-up queue and its figures, one
follow-up's steps in order (each form naming its bad field and saving nothing), the
agency's follow-up window, the banned-person watch, the report and person pages' links,
and the oversight summary's figures."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from defchain import firearms
from defchain.cases import Case
from defchain.firearms import FollowUp, FollowUpStep, Prohibition
from defchain.firearms.service import followup_of_report
from defchain.ledger import ChainLink
from tests.firearms.helpers import attempt, denial, link_and_follow, person
from tests.web.conftest import field_errors
from tests.web.test_people_pages import main_text


@pytest.fixture(autouse=True)
def cleared(db: Session, cast: Any) -> None:
    """NICS denials carry the ``cji`` label: lead_a and the analyst are cleared for it."""
    cast.lead_a.clearances = ["cji"]
    cast.analyst_a.clearances = ["cji"]
    db.flush()


def count(db: Session, model: type) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def linked_denial(db: Session, cast: Any, clock: Any, number: str = "NTN-2026-000123") -> FollowUp:
    report = denial(db, cast, clock, number)
    link_and_follow(db, clock, report, person(db, clock))
    found = followup_of_report(db, report.id)
    assert found is not None
    return found


def test_the_queue_lists_open_follow_ups_soonest_due_first_and_marks_late_ones(
    browser_for: Any, cast: Any, db: Session, clock: Any
) -> None:
    first = linked_denial(db, cast, clock, "NTN-1")
    clock.advance(days=2)
    second = linked_denial(db, cast, clock, "NTN-2")
    clock.advance(days=2)  # the first (3-day window) is late, the second is not
    page = browser_for(cast.lead_a.id).get("/firearms")
    assert page.status_code == 200
    table = page.text.split('id="followup-queue"', 1)[1].split("</table>", 1)[0]
    assert table.index(f"Follow-up #{first.id}") < table.index(f"Follow-up #{second.id}")
    rows = table.split("<tr")[2:]
    assert "Late" in rows[0] and "Late" not in rows[1]
    assert page.text.count('class="dc-late"') == 1
    assert "0 of 4" in table
    assert 'id="fig-denials">2<' in page.text


def test_the_queue_shows_only_what_the_reader_may_see(
    browser_for: Any, cast: Any, db: Session, clock: Any
) -> None:
    linked_denial(db, cast, clock)
    # member_b (agency B, no cji clearance) sees neither the follow-up nor its figure.
    page = browser_for(cast.member_b.id).get("/firearms")
    assert page.status_code == 200
    assert "Follow-up #" not in page.text
    assert 'id="fig-denials">0<' in page.text
    assert browser_for(cast.oversight.id).get("/firearms").status_code == 403


def test_each_step_in_order_then_the_outcome_closes_the_follow_up(
    browser_for: Any, cast: Any, db: Session, clock: Any
) -> None:
    followup = linked_denial(db, cast, clock)
    client = browser_for(cast.lead_a.id)
    page = client.get(f"/firearms/followups/{followup.id}")
    assert page.status_code == 200
    text = main_text(page.text)
    assert "ATF field office" in text and "State Police" in text  # agencies to deconflict
    assert 'id="form-deconflict"' in page.text and 'id="form-decide"' not in page.text
    url = f"/firearms/followups/{followup.id}"
    for step in ("deconflict", "prior_reports"):
        done = client.form(f"{url}/step", data={"step": step, "note": f"{step} done: none"})
        assert done.status_code == 303, done.text
    decided = client.form(f"{url}/decide", data={"decision": "interview", "note": "Talk to him"})
    assert decided.status_code == 303
    finished = client.form(f"{url}/outcome", data={"outcome": "Interviewed; no access found."})
    assert finished.status_code == 303
    db.refresh(followup)
    assert followup.status == "done" and followup.decision == "interview"
    page = client.get(url)
    assert "Outcome recorded" in page.text and "Interviewed; no access found." in page.text
    assert page.text.count(">Done</span>") == 4
    assert "<form" not in page.text.split('id="followup-steps"', 1)[1]
    links = db.scalars(
        select(ChainLink).where(
            ChainLink.subject_type == "followup", ChainLink.subject_id == followup.id
        )
    ).all()
    assert {link.link for link in links} == {"deconflict", "prior_reports", "decide", "outcome"}
    assert all(link.done_at is not None for link in links)


@pytest.mark.parametrize(
    ("path", "data", "field", "message"),
    [
        ("step", {"step": "deconflict", "note": "  "}, "What was done", "say what was done"),
        ("step", {"step": "prior_reports", "note": "checked"}, "Step", "first deconflict"),
        ("step", {"step": "teleport", "note": "x"}, "Step", "no step"),
        ("decide", {"decision": "interview"}, "Step", "first deconflict"),
        ("outcome", {"outcome": "done"}, "Step", "first deconflict"),
    ],
)
def test_a_bad_step_names_the_field_and_saves_nothing(
    browser_for: Any,
    cast: Any,
    db: Session,
    clock: Any,
    path: str,
    data: dict[str, str],
    field: str,
    message: str,
) -> None:
    followup = linked_denial(db, cast, clock)
    before = count(db, FollowUpStep)
    page = browser_for(cast.lead_a.id).form(f"/firearms/followups/{followup.id}/{path}", data=data)
    assert page.status_code == 422
    assert 'id="error-summary"' in page.text
    summary = page.text.split('id="error-summary"', 1)[1].split("</ul>", 1)[0]
    assert f"<li>{field}: " in summary and message in summary
    assert count(db, FollowUpStep) == before


def test_a_bad_decision_is_refused_with_its_field(
    browser_for: Any, cast: Any, db: Session, clock: Any
) -> None:
    followup = linked_denial(db, cast, clock)
    client = browser_for(cast.lead_a.id)
    url = f"/firearms/followups/{followup.id}"
    for step in ("deconflict", "prior_reports"):
        client.form(f"{url}/step", data={"step": step, "note": "done"})
    page = client.form(f"{url}/decide", data={"decision": "shrug"})
    assert page.status_code == 422
    assert any(e.startswith("Decision:") for e in field_errors(page.text))
    db.refresh(followup)
    assert followup.decision is None and count(db, FollowUpStep) == 2


def test_deciding_to_open_a_case_opens_it_and_goes_there(
    browser_for: Any, cast: Any, db: Session, clock: Any
) -> None:
    followup = linked_denial(db, cast, clock)
    client = browser_for(cast.lead_a.id)
    url = f"/firearms/followups/{followup.id}"
    for step in ("deconflict", "prior_reports"):
        client.form(f"{url}/step", data={"step": step, "note": "done"})
    page = client.form(f"{url}/decide", data={"decision": "open_case", "note": "Threats too"})
    assert page.status_code == 303
    case = db.scalar(select(Case).order_by(Case.id.desc()))
    assert case is not None and page.headers["location"] == f"/cases/{case.id}"
    assert case.lead_user_id == cast.lead_a.id


def test_a_purchase_attempt_shows_its_straw_purchase_indicators(
    browser_for: Any, cast: Any, db: Session, clock: Any
) -> None:
    report = attempt(db, cast, clock)
    link_and_follow(db, clock, report, person(db, clock))
    followup = followup_of_report(db, report.id)
    assert followup is not None
    page = browser_for(cast.lead_a.id).get(f"/firearms/followups/{followup.id}")
    box = page.text.split('id="straw-indicators"', 1)[1].split("</ul>", 1)[0]
    assert box.count("<li>") == 2


def test_the_report_page_links_its_follow_up(
    browser_for: Any, cast: Any, db: Session, clock: Any
) -> None:
    followup = linked_denial(db, cast, clock)
    page = browser_for(cast.lead_a.id).get(f"/reports/{followup.report_id}")
    assert f'href="/firearms/followups/{followup.id}"' in page.text


def test_the_follow_up_window_is_set_per_agency_and_bad_values_are_refused(
    browser_for: Any, cast: Any, db: Session, clock: Any
) -> None:
    admin = browser_for(cast.admin.id)
    for bad, message in (("0", "between 1 and 60"), ("soon", "whole number"), ("61", "60")):
        page = admin.form("/firearms/policy", data={"agency_id": cast.agency_a.id,
                                                    "followup_days": bad})  # fmt: skip
        assert page.status_code == 422, bad
        assert any("Follow-up window" in e and message in e for e in field_errors(page.text))
    assert count(db, firearms.FirearmPolicy) == 0
    page = admin.form("/firearms/policy", data={"agency_id": "", "followup_days": "5"})
    assert any(e.startswith("Agency:") for e in field_errors(page.text))
    saved = admin.form("/firearms/policy", data={"agency_id": cast.agency_a.id,
                                                 "followup_days": "7"})  # fmt: skip
    assert saved.status_code == 303
    followup = linked_denial(db, cast, clock)
    assert followup.due_at == clock.now() + timedelta(days=7)
    lead = browser_for(cast.lead_a.id)
    refused = lead.form("/firearms/policy", data={"agency_id": cast.agency_a.id,
                                                  "followup_days": "2"})  # fmt: skip
    assert refused.status_code == 403


def test_the_watch_records_and_lifts_a_prohibition(
    browser_for: Any, cast: Any, db: Session, clock: Any
) -> None:
    robin = person(db, clock)
    client = browser_for(cast.lead_a.id)
    page = client.form("/firearms/watch", data={
        "person_id": str(robin.id), "kind": "dv_order", "source": "Test County court, DV-001",
        "starts_on": clock.now().date().isoformat(), "ends_on": "",
    })  # fmt: skip
    assert page.status_code == 303, page.text
    assert firearms.on_watch(db, robin.id, clock.now())
    listed = client.get(f"/firearms/watch?person_id={robin.id}")
    assert "On the watch now" in listed.text and "DV-001" in listed.text
    assert "On the watch" in client.get(f"/people/{robin.id}").text
    row = db.scalar(select(Prohibition))
    assert row is not None
    refused = client.form(f"/firearms/prohibitions/{row.id}/lift", data={"reason": " "})
    assert refused.status_code == 422
    assert any(e.startswith("Reason:") for e in field_errors(refused.text))
    lifted = client.form(f"/firearms/prohibitions/{row.id}/lift", data={"reason": "Vacated"})
    assert lifted.status_code == 303
    db.expire_all()
    assert not firearms.on_watch(db, robin.id, clock.now())


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"person_id": "abc"}, "Person number"),
        ({"person_id": "999999"}, "Person number"),
        ({"kind": "rumour"}, "Kind of prohibition"),
        ({"kind": "agency_marked"}, "Kind of prohibition"),  # a school has no such authority
        ({"source": ""}, "Order or record"),
        ({"starts_on": "31/12/2026"}, "Starts"),
        ({"ends_on": "2020-01-01"}, "Ends"),
    ],
)
def test_a_bad_prohibition_names_the_field_and_saves_nothing(
    browser_for: Any, cast: Any, db: Session, clock: Any, change: dict[str, str], field: str
) -> None:
    cast.agency_a.kind = "school_district"  # no authority to mark anyone prohibited
    db.flush()
    robin = person(db, clock)
    data = {
        "person_id": str(robin.id), "kind": "dv_order", "source": "Court order DV-002",
        "starts_on": clock.now().date().isoformat(), "ends_on": "", **change,
    }  # fmt: skip
    page = browser_for(cast.lead_a.id).form("/firearms/watch", data=data)
    assert page.status_code == 422
    assert any(e.startswith(f"{field}:") for e in field_errors(page.text)), field_errors(page.text)
    assert count(db, Prohibition) == 0


def test_oversight_sees_the_figures_over_every_agency(
    browser_for: Any, cast: Any, db: Session, clock: Any
) -> None:
    linked_denial(db, cast, clock)
    page = browser_for(cast.oversight.id).get("/oversight")
    assert page.status_code == 200
    assert 'id="firearms-denials">1<' in page.text
    assert 'id="firearms-erpo-petition_drafted">0<' in page.text
    assert "Robin" not in page.text  # figures only, never a person
