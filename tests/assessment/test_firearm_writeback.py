"""The weapons-access item and the subjects' firearm-access history: an assessment's yes
or no is written back where the history says otherwise, and a new assessment starts
from the history when every subject's status agrees (uncited: the assessor cites)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from defchain.access import Actor
from defchain.assessment import firearm_access
from defchain.assessment import service as svc
from defchain.assessment.instrument import UNKNOWN, get_instrument
from defchain.assessment.models import Assessment
from defchain.audit.models import AuditEvent
from defchain.cases import Case
from defchain.cases import service as cases
from defchain.clock import FrozenClock
from defchain.intake import Report
from defchain.intake import service as intake_service
from defchain.intake.schemas import parse_report
from defchain.people import Person, firearms
from defchain.people.models import FirearmAccess
from tests.conftest import Cast, receive_public_tip

GENERAL = get_instrument("DC-TA-1")
WEAPONS = firearm_access.ITEM


def person(db: Session, clock: FrozenClock, name: str) -> Person:
    row = Person(display_name=name, created_at=clock.now())
    db.add(row)
    db.flush()
    return row


@pytest.fixture
def tip(db: Session, cast: Cast, clock: FrozenClock) -> Report:
    return receive_public_tip(
        db, cast, clock, narrative="His brother said he keeps a rifle in his truck."
    )


@pytest.fixture
def subjects(db: Session, clock: FrozenClock) -> list[Person]:
    return [person(db, clock, "Robin Sample"), person(db, clock, "Casey Sample")]


@pytest.fixture
def case(db: Session, cast: Cast, clock: FrozenClock, tip: Report, subjects: list[Person]) -> Case:
    return cases.open_case(
        db, cast.actor("lead_a"), title="A rifle in the truck", team_id=cast.team.id,
        report_ids=[tip.id], person_ids=[p.id for p in subjects], now=clock.now(),
    )  # fmt: skip


def assess(
    db: Session, cast: Cast, clock: FrozenClock, case: Case, answer: svc.AnswerIn
) -> Assessment:
    answers = {**svc.blank_answers(GENERAL), WEAPONS: answer}
    return svc.record(
        db, cast.actor("lead_a"), case, instrument_key=GENERAL.key, answers=answers,
        now=clock.now(),
    )  # fmt: skip


def on_file(db: Session, cast: Cast, clock: FrozenClock, person_id: int, status: str) -> None:
    firearms.record(
        db, Actor.system("test"), person_id=person_id, status=status, source="records check",
        detail="Registered handgun" if status == "known" else "", now=clock.now(),
    )  # fmt: skip
    clock.advance(minutes=1)


def wellness_check(db: Session, cast: Cast, clock: FrozenClock, **details: object) -> Report:
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


def history(db: Session, person_id: int) -> list[tuple[str, str]]:
    return [(row.status, row.source) for row in reversed(firearms.history(db, person_id))]


# --- writing back -------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "status"), [("yes", "reported"), ("no", "none_known")])
def test_a_yes_or_no_is_recorded_for_every_subject_citing_the_assessment(
    db: Session,
    cast: Cast,
    clock: FrozenClock,
    case: Case,
    tip: Report,
    subjects: list[Person],
    value: str,
    status: str,
) -> None:
    answer = svc.AnswerIn(value, citation=f"report:{tip.id}", detail="The brother's account")
    row = assess(db, cast, clock, case, answer)
    source = f"assessment #{row.id} ({GENERAL.key})"
    for subject in subjects:
        latest = firearms.latest(db, subject.id)
        assert latest is not None
        assert (latest.status, latest.source, latest.detail) == (
            status,
            source,
            "The brother's account",
        )
        assert latest.recorded_by_user_id == cast.lead_a.id
    event = db.scalar(select(AuditEvent).where(AuditEvent.tag == "assessment:assessment:recorded"))
    assert event is not None
    assert event.changes["firearm_access_recorded"] == [None, [p.id for p in subjects]]
    written = db.scalars(
        select(AuditEvent.subject_id).where(AuditEvent.tag == "people:person:firearm_access")
    ).all()
    assert sorted(written) == sorted(str(p.id) for p in subjects)


def test_an_unknown_answer_records_nothing(
    db: Session, cast: Cast, clock: FrozenClock, case: Case
) -> None:
    assess(db, cast, clock, case, svc.AnswerIn(UNKNOWN))
    assert db.scalars(select(FirearmAccess)).all() == []


def test_only_subjects_whose_history_says_otherwise_are_recorded(
    db: Session, cast: Cast, clock: FrozenClock, case: Case, tip: Report, subjects: list[Person]
) -> None:
    robin, casey = subjects
    on_file(db, cast, clock, robin.id, "known")  # a yes agrees with known access
    on_file(db, cast, clock, casey.id, "none_known")
    row = assess(db, cast, clock, case, svc.AnswerIn("yes", citation=f"report:{tip.id}"))
    assert history(db, robin.id) == [("known", "records check")]
    assert history(db, casey.id) == [
        ("none_known", "records check"),
        ("reported", f"assessment #{row.id} ({GENERAL.key})"),
    ]
    clock.advance(days=1)
    assess(db, cast, clock, case, svc.AnswerIn("yes", citation=f"report:{tip.id}"))
    assert len(history(db, casey.id)) == 2  # a second yes says nothing new


def test_an_invalid_assessment_writes_no_firearm_finding(
    db: Session, cast: Cast, clock: FrozenClock, case: Case
) -> None:
    with pytest.raises(svc.AnswersInvalid):
        assess(db, cast, clock, case, svc.AnswerIn("yes"))  # evidence required, none cited
    assert db.scalars(select(FirearmAccess)).all() == []


# --- starting from what is on file --------------------------------------------------------


def start(db: Session, cast: Cast, case: Case) -> tuple[dict[str, svc.AnswerIn], set[str]]:
    lead = cast.actor("lead_a")
    evidence = svc.evidence_for(db, lead, case)
    return svc.starting_answers(db, lead, case, GENERAL, evidence)


@pytest.mark.parametrize(
    ("statuses", "suggested"),
    [
        (("known", "reported"), "yes"),
        (("none_known", "none_known"), "no"),
        (("known", "none_known"), None),  # the subjects differ
        (("reported", "unknown"), None),
        (("reported", None), None),  # one was never recorded
    ],
)
def test_the_history_prefills_weapons_access_only_when_every_subject_agrees(
    db: Session,
    cast: Cast,
    clock: FrozenClock,
    case: Case,
    subjects: list[Person],
    statuses: tuple[str | None, str | None],
    suggested: str | None,
) -> None:
    for subject, status in zip(subjects, statuses, strict=True):
        if status is not None:
            on_file(db, cast, clock, subject.id, status)
    answers, prefilled = start(db, cast, case)
    if suggested is None:
        assert answers[WEAPONS].value == UNKNOWN and WEAPONS not in prefilled
        return
    answer = answers[WEAPONS]
    assert (answer.value, answer.citation, answer.prefilled) == (suggested, "", True)
    assert answer.detail.startswith("Firearm access on file: ")
    assert f"person #{subjects[0].id}" in answer.detail
    assert WEAPONS in prefilled


def test_a_prefill_from_the_history_must_still_be_cited(
    db: Session, cast: Cast, clock: FrozenClock, case: Case, tip: Report, subjects: list[Person]
) -> None:
    for subject in subjects:
        on_file(db, cast, clock, subject.id, "reported")
    answers, _ = start(db, cast, case)
    lead = cast.actor("lead_a")
    with pytest.raises(svc.AnswersInvalid) as refused:
        svc.record(db, lead, case, instrument_key=GENERAL.key, answers=answers, now=clock.now())
    assert "evidence-weapons_access" in refused.value.errors
    cited = {**answers, WEAPONS: svc.AnswerIn("yes", citation=f"report:{tip.id}")}
    row = svc.record(db, lead, case, instrument_key=GENERAL.key, answers=cited, now=clock.now())
    assert svc.answers_of(db, row)[WEAPONS].value == "yes"


def test_a_wellness_check_prefill_wins_over_the_history(
    db: Session, cast: Cast, clock: FrozenClock, case: Case, subjects: list[Person]
) -> None:
    for subject in subjects:
        on_file(db, cast, clock, subject.id, "none_known")
    check = wellness_check(db, cast, clock, weapons_access_reported="yes")
    cases.add_report(db, cast.actor("lead_a"), case, report_id=check.id, now=clock.now())
    answers, prefilled = start(db, cast, case)
    assert answers[WEAPONS].value == "yes"
    assert answers[WEAPONS].citation == f"wellness:{check.id}:weapons_access_reported"
    assert WEAPONS in prefilled


def test_a_reassessment_keeps_the_assessors_own_answer(
    db: Session, cast: Cast, clock: FrozenClock, case: Case, tip: Report, subjects: list[Person]
) -> None:
    assess(db, cast, clock, case, svc.AnswerIn("no", citation=f"report:{tip.id}"))
    for subject in subjects:
        on_file(db, cast, clock, subject.id, "known")
    answers, prefilled = start(db, cast, case)
    assert answers[WEAPONS].value == "no" and WEAPONS not in prefilled
