"""Recording assessments: scoring with the exact instrument, evidence rules, gap tasks,
pre-fill from wellness checks, immutability, comparison, permissions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from defchain import ledger
from defchain.assessment import rules
from defchain.assessment import service as svc
from defchain.assessment.instrument import UNKNOWN, AnswerType, get_instrument
from defchain.assessment.models import Assessment, AssessmentAnswer
from defchain.assessment.scoring import Level
from defchain.audit.models import AuditEvent
from defchain.cases import Case, CaseTask
from defchain.cases import service as cases
from defchain.clock import FrozenClock
from defchain.errors import NotFound, PermissionDenied, ValidationFailed
from defchain.intake import Report
from defchain.intake import service as intake_service
from defchain.intake.schemas import parse_report
from tests.conftest import Cast, receive_public_tip

GENERAL = get_instrument("DC-TA-1")
WEAPONS = "weapons_access"


def _case(db: Session, cast: Cast, clock: FrozenClock, *reports: Report) -> Case:
    return cases.open_case(
        db,
        cast.actor("lead_a"),
        title="Concern at the fictitious mall",
        team_id=cast.team.id,
        report_ids=[r.id for r in reports],
        now=clock.now(),
    )


def _tip(db: Session, cast: Cast, clock: FrozenClock) -> Report:
    return receive_public_tip(
        db,
        cast,
        clock,
        narrative="A classmate said he would bring a gun to the fictitious mall on Friday.",
    )


def _wellness(db: Session, cast: Cast, clock: FrozenClock, **details: object) -> Report:
    payload = {
        "kind": "wellness_check",
        "channel": "staff",
        "jurisdiction_id": cast.jurisdiction.id,
        "narrative": "Officer visited the home after a call from a relative.",
        "details": {
            "officer": "Officer Example #123",
            "checked_at": (clock.now() - timedelta(hours=2)).isoformat(),
            "contact_made": True,
            "officer_concern": "high",
            **details,
        },
    }
    data = parse_report(payload, now=clock.now())
    source = intake_service.Source(actor=cast.actor("analyst_a"))
    return intake_service.receive(db, data=data, source=source, now=clock.now())


def _unknowns() -> dict[str, svc.AnswerIn]:
    return svc.blank_answers(GENERAL)


def _with(answers: dict[str, svc.AnswerIn], **changes: svc.AnswerIn) -> dict[str, svc.AnswerIn]:
    return {**answers, **changes}


def _count(db: Session, model: type) -> int:
    return int(db.scalar(select(func.count()).select_from(model)) or 0)


def test_all_unknown_is_low_and_every_key_question_becomes_a_task(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    case = _case(db, cast, clock, _tip(db, cast, clock))
    row = svc.record(
        db,
        cast.actor("lead_a"),
        case,
        instrument_key=GENERAL.key,
        answers=_unknowns(),
        now=clock.now(),
    )
    assert (row.instrument_id, row.instrument_version) == (GENERAL.id, GENERAL.version)
    assert row.instrument_digest == GENERAL.digest
    assert row.level == row.concluded_level == Level.LOW.value
    key_items = [i.id for i in GENERAL.items if i.key]
    assert [g["item_id"] for g in row.result["gaps"]] == key_items
    tasks = cases.open_tasks(db, case, origin_prefix=rules.gap_origin(GENERAL.id, ""))
    assert sorted(t.origin or "" for t in tasks) == sorted(
        rules.gap_origin(GENERAL.id, i) for i in key_items
    )
    assert {t.owner_user_id for t in tasks} == {case.lead_user_id}
    assert {t.due_at for t in tasks} == {clock.now() + rules.gap_due(Level.LOW)}
    assert case.level_of_concern == "low" and case.last_assessed_at == clock.now()


def test_answering_a_gap_closes_its_task_and_opens_no_duplicate(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    tip = _tip(db, cast, clock)
    case = _case(db, cast, clock, tip)
    lead = cast.actor("lead_a")
    svc.record(db, lead, case, instrument_key=GENERAL.key, answers=_unknowns(), now=clock.now())
    before = len(cases.open_tasks(db, case))
    clock.advance(hours=1)
    answers = _with(
        _unknowns(), **{WEAPONS: svc.AnswerIn("yes", citation=f"report:{tip.id}", detail="tip")}
    )
    second = svc.record(
        db, lead, case, instrument_key=GENERAL.key, answers=answers, now=clock.now()
    )
    origin = rules.gap_origin(GENERAL.id, WEAPONS)
    task = db.scalar(select(CaseTask).where(CaseTask.origin == origin))
    assert task is not None and task.status == "done"
    assert f"#{second.id}" in task.outcome
    assert len(cases.open_tasks(db, case)) == before - 1
    assert _count(db, CaseTask) == before  # nothing opened twice


def test_an_answer_that_needs_evidence_is_refused_without_it_and_nothing_is_written(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    assert GENERAL.item(WEAPONS).evidence_required
    case = _case(db, cast, clock, _tip(db, cast, clock))
    tasks_before = _count(db, CaseTask)
    answers = _with(_unknowns(), **{WEAPONS: svc.AnswerIn("yes")})
    with pytest.raises(svc.AnswersInvalid) as caught:
        svc.record(
            db,
            cast.actor("lead_a"),
            case,
            instrument_key=GENERAL.key,
            answers=answers,
            now=clock.now(),
        )
    assert f"evidence-{WEAPONS}" in caught.value.errors
    assert "needs evidence" in caught.value.errors[f"evidence-{WEAPONS}"]
    assert _count(db, Assessment) == 0 and _count(db, CaseTask) == tasks_before


@pytest.mark.parametrize(
    ("citation", "field", "words"),
    [
        ("report:999999", "evidence", "not a report of this case"),
        ("note:999999", "evidence", "not a note of this case"),
        ("wellness:1:weapons_seen", "evidence", "not a wellness check of this case"),
        ("rumour:1", "evidence", "unknown kind of evidence"),
        ("report:x", "evidence", "malformed"),
    ],
)
def test_a_citation_must_name_evidence_of_this_case(
    db: Session, cast: Cast, clock: FrozenClock, citation: str, field: str, words: str
) -> None:
    case = _case(db, cast, clock, _tip(db, cast, clock))
    answers = _with(_unknowns(), **{WEAPONS: svc.AnswerIn("yes", citation=citation)})
    with pytest.raises(svc.AnswersInvalid) as caught:
        svc.record(
            db,
            cast.actor("lead_a"),
            case,
            instrument_key=GENERAL.key,
            answers=answers,
            now=clock.now(),
        )
    assert words in caught.value.errors[f"{field}-{WEAPONS}"]


def test_a_value_the_item_does_not_allow_names_the_item(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    case = _case(db, cast, clock, _tip(db, cast, clock))
    answers = _with(_unknowns(), **{WEAPONS: svc.AnswerIn("maybe")})
    with pytest.raises(svc.AnswersInvalid) as caught:
        svc.record(
            db,
            cast.actor("lead_a"),
            case,
            instrument_key=GENERAL.key,
            answers=answers,
            now=clock.now(),
        )
    assert f"answer-{WEAPONS}" in caught.value.errors


def test_the_team_may_conclude_another_level_only_with_a_reason(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    case = _case(db, cast, clock, _tip(db, cast, clock))
    lead = cast.actor("lead_a")
    with pytest.raises(svc.AnswersInvalid) as caught:
        svc.record(
            db,
            lead,
            case,
            instrument_key=GENERAL.key,
            answers=_unknowns(),
            concluded_level="high",
            now=clock.now(),
        )
    assert "conclusion_reason" in caught.value.errors
    row = svc.record(
        db,
        lead,
        case,
        instrument_key=GENERAL.key,
        answers=_unknowns(),
        concluded_level="high",
        conclusion_reason="The subject's brother called again tonight; we will not wait.",
        now=clock.now(),
    )
    assert (row.level, row.concluded_level) == ("low", "high")
    assert case.level_of_concern == "high"


def test_unknown_instrument_is_refused(db: Session, cast: Cast, clock: FrozenClock) -> None:
    case = _case(db, cast, clock, _tip(db, cast, clock))
    with pytest.raises(ValidationFailed) as caught:
        svc.record(
            db, cast.actor("lead_a"), case, instrument_key="NOPE@1", answers={}, now=clock.now()
        )
    assert caught.value.field == "instrument"


def test_assessments_are_immutable_in_the_database(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    case = _case(db, cast, clock, _tip(db, cast, clock))
    row = svc.record(
        db,
        cast.actor("lead_a"),
        case,
        instrument_key=GENERAL.key,
        answers=_unknowns(),
        now=clock.now(),
    )
    statements = [
        ("UPDATE assessments SET level = 'imminent' WHERE id = :id", row.id),
        ("DELETE FROM assessments WHERE id = :id", row.id),
        ("UPDATE assessment_answers SET value = 'yes' WHERE assessment_id = :id", row.id),
        ("DELETE FROM assessment_answers WHERE assessment_id = :id", row.id),
    ]
    for sql, ident in statements:
        with pytest.raises(DBAPIError, match="immutable"), db.begin_nested():
            db.execute(text(sql), {"id": ident})
    db.expire_all()
    assert db.get(Assessment, row.id) is not None
    assert db.get(Assessment, row.id).level == "low"  # type: ignore[union-attr]


def test_wellness_check_fields_prefill_and_are_marked(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    check = _wellness(db, cast, clock, weapons_access_reported="yes")
    case = _case(db, cast, clock, check)
    lead = cast.actor("lead_a")
    evidence = svc.evidence_for(db, lead, case)
    answers, prefilled = svc.starting_answers(db, lead, case, GENERAL, evidence)
    assert WEAPONS in prefilled
    assert answers[WEAPONS].value == "yes"
    assert answers[WEAPONS].citation == f"wellness:{check.id}:weapons_access_reported"
    row = svc.record(db, lead, case, instrument_key=GENERAL.key, answers=answers, now=clock.now())
    stored = svc.answers_of(db, row)[WEAPONS]
    assert stored.prefilled and stored.evidence_kind == "wellness"
    assert stored.evidence_report_id == check.id
    assert stored.evidence_field == "weapons_access_reported"


def test_an_unknown_wellness_field_prefills_nothing(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    case = _case(db, cast, clock, _wellness(db, cast, clock, weapons_access_reported="unknown"))
    lead = cast.actor("lead_a")
    answers, prefilled = svc.starting_answers(
        db, lead, case, GENERAL, svc.evidence_for(db, lead, case)
    )
    assert WEAPONS not in prefilled and answers[WEAPONS].value == UNKNOWN


def test_a_reassessment_starts_from_the_assessors_own_latest_answers(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    tip = _tip(db, cast, clock)
    case = _case(db, cast, clock, tip)
    lead = cast.actor("lead_a")
    answers = _with(_unknowns(), **{WEAPONS: svc.AnswerIn("no", citation=f"report:{tip.id}")})
    svc.record(db, lead, case, instrument_key=GENERAL.key, answers=answers, now=clock.now())
    evidence = svc.evidence_for(db, lead, case)
    again, _ = svc.starting_answers(db, lead, case, GENERAL, evidence)
    assert again[WEAPONS] == svc.AnswerIn("no", citation=f"report:{tip.id}")
    other, _ = svc.starting_answers(db, cast.actor("member_b"), case, GENERAL, evidence)
    assert other[WEAPONS].value == UNKNOWN  # independent: a colleague starts blank


def test_recording_completes_the_assessed_link_of_each_report_and_is_audited(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    tip = _tip(db, cast, clock)
    case = _case(db, cast, clock, tip)
    row = svc.record(
        db,
        cast.actor("lead_a"),
        case,
        instrument_key=GENERAL.key,
        answers=_unknowns(),
        now=clock.now(),
    )
    link = ledger.find(db, subject_type="report", subject_id=tip.id, link="assessed")
    assert link is not None and link.done_at == clock.now()
    event = db.scalar(
        select(AuditEvent).where(
            AuditEvent.tag == "assessment:assessment:recorded",
            AuditEvent.subject_id == str(row.id),
        )
    )
    assert event is not None


def test_two_assessors_are_compared_item_by_item(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    tip = _tip(db, cast, clock)
    case = _case(db, cast, clock, tip)
    first = svc.record(
        db,
        cast.actor("lead_a"),
        case,
        instrument_key=GENERAL.key,
        answers=_with(_unknowns(), **{WEAPONS: svc.AnswerIn("yes", citation=f"report:{tip.id}")}),
        now=clock.now(),
    )
    # member_b (agency B, on the team) cannot read agency A's tip: cites their own note.
    member = cast.actor("member_b")
    note = cases.add_note(
        db, member, case, body="Spoke with the school resource officer.", now=clock.now()
    )
    second = svc.record(
        db,
        member,
        case,
        instrument_key=GENERAL.key,
        answers=_with(_unknowns(), **{WEAPONS: svc.AnswerIn("no", citation=f"note:{note.id}")}),
        now=clock.now(),
    )
    comparison = svc.compare(db, case, first.id, second.id)
    assert [(d.item_id, d.first, d.second) for d in comparison.differences] == [
        (WEAPONS, "yes", "no")
    ]
    scored = sum(1 for i in GENERAL.items if i.answer is not AnswerType.TEXT)
    assert comparison.agreement == pytest.approx((scored - 1) / scored)
    assert [a.id for a in svc.latest_by_assessor(db, case)] == [second.id, first.id]


def test_comparing_across_instruments_is_refused(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    case = _case(db, cast, clock, _tip(db, cast, clock))
    school = get_instrument("DC-TA-K12")
    lead = cast.actor("lead_a")
    a = svc.record(db, lead, case, instrument_key=GENERAL.key, answers=_unknowns(), now=clock.now())
    b = svc.record(
        db,
        lead,
        case,
        instrument_key=school.key,
        answers=svc.blank_answers(school),
        now=clock.now(),
    )
    with pytest.raises(ValidationFailed, match="different instruments"):
        svc.compare(db, case, a.id, b.id)
    with pytest.raises(NotFound):
        svc.get(db, _case(db, cast, clock), a.id)


def test_only_those_who_may_assess_the_case_can(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    case = _case(db, cast, clock, _tip(db, cast, clock))
    for name in ("user_c", "oversight", "auditor"):
        with pytest.raises(PermissionDenied):
            svc.record(
                db,
                cast.actor(name),
                case,
                instrument_key=GENERAL.key,
                answers=_unknowns(),
                now=clock.now(),
            )
    # member_b is at another agency but on the case's team: may assess.
    row = svc.record(
        db,
        cast.actor("member_b"),
        case,
        instrument_key=GENERAL.key,
        answers=_unknowns(),
        now=clock.now(),
    )
    assert row.assessor_user_id == cast.member_b.id
    assert _count(db, AssessmentAnswer) == len(GENERAL.items)
