"""The assessment pages: the form (evidence, pre-fill, bad input), the result that
explains itself, the case page's panel and chart data, the comparison, permissions."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from defchain.assessment import service as svc
from defchain.assessment.instrument import get_instrument
from defchain.assessment.models import Assessment
from defchain.cases import Case, CaseTask
from defchain.cases import service as cases
from defchain.clock import FrozenClock
from defchain.intake import Report
from defchain.intake import service as intake_service
from defchain.intake.schemas import parse_report
from tests.conftest import Cast, receive_public_tip

GENERAL = get_instrument("DC-TA-1")


def _case(db: Session, cast: Cast, clock: FrozenClock, *reports: Report) -> Case:
    case = cases.open_case(
        db,
        cast.actor("lead_a"),
        title="Threat to the fictitious library",
        team_id=cast.team.id,
        report_ids=[r.id for r in reports],
        now=clock.now(),
    )
    db.flush()
    return case


def _wellness(db: Session, cast: Cast, clock: FrozenClock) -> Report:
    payload = {
        "kind": "wellness_check",
        "channel": "staff",
        "jurisdiction_id": cast.jurisdiction.id,
        "narrative": "Visited after a relative's call.",
        "details": {
            "officer": "Officer Example #123",
            "checked_at": (clock.now() - timedelta(hours=1)).isoformat(),
            "contact_made": True,
            "weapons_access_reported": "yes",
            "officer_concern": "high",
        },
    }
    data = parse_report(payload, now=clock.now())
    source = intake_service.Source(actor=cast.actor("analyst_a"))
    return intake_service.receive(db, data=data, source=source, now=clock.now())


def _form_data(answers: dict[str, svc.AnswerIn], **extra: str) -> dict[str, str]:
    data = {"instrument": GENERAL.key, "action": "record", **extra}
    for item_id, answer in answers.items():
        data[f"answer-{item_id}"] = answer.value
        data[f"evidence-{item_id}"] = answer.citation
        data[f"detail-{item_id}"] = answer.detail
    return data


def _count(db: Session, model: type) -> int:
    return int(db.scalar(select(func.count()).select_from(model)) or 0)


def test_the_form_shows_guidance_and_marks_wellness_prefills(
    db: Session, cast: Cast, clock: FrozenClock, browser_for: Any
) -> None:
    check = _wellness(db, cast, clock)
    case = _case(db, cast, clock, check)
    page = browser_for(cast.lead_a.id).get(f"/cases/{case.id}/assessments/new")
    assert page.status_code == 200
    html = page.text
    assert GENERAL.item("weapons_access").prompt in html
    assert 'id="prefilled-weapons_access"' in html
    assert "Pre-filled, to be confirmed" in html
    token = f"wellness:{check.id}:weapons_access_reported"
    assert re.search(rf'<option value="{token}" selected', html)
    assert re.search(r'id="answer-weapons_access-yes"[^>]*value="yes" checked', html)


def test_recording_redirects_to_a_result_with_reasons_gaps_and_tasks(
    db: Session, cast: Cast, clock: FrozenClock, browser_for: Any
) -> None:
    tip = receive_public_tip(db, cast, clock, narrative="He said he'd bring a gun Friday.")
    case = _case(db, cast, clock, tip)
    client = browser_for(cast.lead_a.id)
    answers = svc.blank_answers(GENERAL)
    answers["weapons_access"] = svc.AnswerIn("yes", f"report:{tip.id}", "the tip says so")
    response = client.form(f"/cases/{case.id}/assessments", _form_data(answers))
    assert response.status_code == 303, response.text
    page = client.get(response.headers["location"])
    assert page.status_code == 200
    assert 'id="reasons"' in page.text and 'id="gaps"' in page.text
    assert "Answers and their evidence" in page.text
    assert f"Report #{tip.id}" in page.text and "the tip says so" in page.text
    gap_tasks = db.scalars(select(CaseTask).where(CaseTask.case_id == case.id)).all()
    assert gap_tasks and all(t.kind == "information_gap" for t in gap_tasks)
    case_page = client.get(f"/cases/{case.id}")
    assert 'id="assessment-panel"' in case_page.text
    data = re.search(
        r'<script type="application/json" id="concern-chart-data">(.*?)</script>',
        case_page.text,
        re.S,
    )
    assert data is not None
    points = json.loads(data.group(1))["points"]
    assert len(points) == 1 and points[0]["level"] in {"low", "moderate", "high", "imminent"}
    for task in gap_tasks:
        assert task.title in case_page.text


def test_bad_input_names_the_question_and_saves_nothing(
    db: Session, cast: Cast, clock: FrozenClock, browser_for: Any
) -> None:
    case = _case(
        db,
        cast,
        clock,
        receive_public_tip(
            db, cast, clock, narrative="He said he would hurt people at the fictitious library."
        ),
    )
    answers = svc.blank_answers(GENERAL)
    answers["weapons_access"] = svc.AnswerIn("yes")  # needs evidence
    data = _form_data(answers, concluded_level="extreme")
    response = browser_for(cast.lead_a.id).form(f"/cases/{case.id}/assessments", data)
    assert response.status_code == 422
    assert GENERAL.item("weapons_access").prompt in response.text
    assert "needs evidence" in response.text
    assert "Level of concern: choose low, moderate, high or imminent" in response.text
    assert "nothing was saved" in response.text
    # What the assessor typed is still there.
    assert re.search(r'id="answer-weapons_access-yes"[^>]*value="yes" checked', response.text)
    assert _count(db, Assessment) == 0


def test_check_the_result_previews_without_saving(
    db: Session, cast: Cast, clock: FrozenClock, browser_for: Any
) -> None:
    case = _case(
        db,
        cast,
        clock,
        receive_public_tip(
            db, cast, clock, narrative="He said he would hurt people at the fictitious library."
        ),
    )
    data = _form_data(svc.blank_answers(GENERAL), action="preview")
    response = browser_for(cast.lead_a.id).form(f"/cases/{case.id}/assessments", data)
    assert response.status_code == 200
    assert 'id="preview"' in response.text and "Nothing is saved" in response.text
    assert _count(db, Assessment) == 0


def test_comparison_page_lists_disagreements(
    db: Session, cast: Cast, clock: FrozenClock, browser_for: Any
) -> None:
    tip = receive_public_tip(
        db, cast, clock, narrative="He said he would hurt people at the fictitious library."
    )
    case = _case(db, cast, clock, tip)
    a_answers = svc.blank_answers(GENERAL)
    a_answers["weapons_access"] = svc.AnswerIn("yes", f"report:{tip.id}")
    first = svc.record(
        db,
        cast.actor("lead_a"),
        case,
        instrument_key=GENERAL.key,
        answers=a_answers,
        now=clock.now(),
    )
    second = svc.record(
        db,
        cast.actor("member_b"),
        case,
        instrument_key=GENERAL.key,
        answers=svc.blank_answers(GENERAL),
        now=clock.now(),
    )
    client = browser_for(cast.member_b.id)
    panel = client.get(f"/cases/{case.id}")
    assert 'id="compare-latest"' in panel.text
    page = client.get(f"/cases/{case.id}/assessments/compare?first={first.id}&second={second.id}")
    assert page.status_code == 200
    assert 'id="differences"' in page.text
    assert GENERAL.item("weapons_access").prompt in page.text


def test_someone_outside_the_case_sees_nothing(
    db: Session, cast: Cast, clock: FrozenClock, browser_for: Any
) -> None:
    case = _case(
        db,
        cast,
        clock,
        receive_public_tip(
            db, cast, clock, narrative="He said he would hurt people at the fictitious library."
        ),
    )
    row = svc.record(
        db,
        cast.actor("lead_a"),
        case,
        instrument_key=GENERAL.key,
        answers=svc.blank_answers(GENERAL),
        now=clock.now(),
    )
    outsider = browser_for(cast.user_c.id)
    for url in (
        f"/cases/{case.id}/assessments/new",
        f"/cases/{case.id}/assessments/{row.id}",
        f"/cases/{case.id}/assessments/compare",
    ):
        assert outsider.get(url).status_code in (403, 404), url
    response = outsider.form(
        f"/cases/{case.id}/assessments", _form_data(svc.blank_answers(GENERAL))
    )
    assert response.status_code in (403, 404)
    oversight = browser_for(cast.oversight.id)
    assert oversight.get(f"/cases/{case.id}/assessments/{row.id}").status_code in (403, 404)
    assert _count(db, Assessment) == 1
