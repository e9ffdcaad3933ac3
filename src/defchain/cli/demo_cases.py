"""The demo's case: the wellness check about a worried family becomes a case led by the
team lead, assessed twice with DC-TA 1 (moderate two weeks ago, high today after his brother's
call), so the case page shows
the reasons, the gap tasks and the chart of concern over time; and an extreme risk
protection order on the case, served today, so the ERPO panel has stages to show."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from defchain.access import Actor, User
from defchain.access import service as access_service
from defchain.assessment import get_instrument
from defchain.assessment import service as assessments
from defchain.cases import Case, subjects_of
from defchain.cases import service as cases
from defchain.firearms import erpo
from defchain.firearms.rules import ErpoStage
from defchain.intake import Report

INSTRUMENT = "DC-TA-1"


def seed_case(session: Session, *, lead_username: str, now: datetime) -> int | None:
    """Open the demo case and record its two assessments; returns the case id (``None``
    when the demo has no wellness check the lead may read)."""
    lead_user = session.scalars(select(User).where(User.username == lead_username)).one()
    lead = access_service.actor_for(session, lead_user)
    report = session.scalars(
        select(Report).where(Report.kind == "wellness_check").order_by(Report.id)
    ).first()
    if report is None:
        return None
    first_at = now - timedelta(days=14)
    case = cases.open_case(
        session,
        lead,
        title="Worried family, shotgun in the home (demo)",
        summary="Opened from the officer's wellness check; the family fears for others.",
        team_id=next(iter(lead.team_ids), None),
        report_ids=[report.id],
        now=first_at,
    )
    instrument = get_instrument(INSTRUMENT)
    evidence = assessments.evidence_for(session, lead, case)
    answers, _ = assessments.starting_answers(session, lead, case, instrument, evidence)
    cite = f"report:{report.id}"
    answers["grievance"] = assessments.AnswerIn("yes", cite, "Angry at a former employer")
    answers["violent_ideation"] = assessments.AnswerIn(
        "yes", cite, "'Nobody will miss me, or them'"
    )
    answers["trusted_relationship"] = assessments.AnswerIn("yes", cite, "Close to his mother")
    assessments.record(
        session, lead, case, instrument_key=instrument.key, answers=answers, now=first_at
    )
    note = cases.add_note(
        session,
        lead,
        case,
        body="His brother says he has been watching the former employer's parking lot.",
        now=now - timedelta(hours=2),
    )
    answers["desperation"] = assessments.AnswerIn("yes", cite, "'Nobody will miss me'")
    answers["probing_breaching"] = assessments.AnswerIn(
        "yes", f"note:{note.id}", "Seen in the lot three evenings"
    )
    answers["research_planning"] = assessments.AnswerIn(
        "yes", f"note:{note.id}", "Knows the shift times"
    )
    assessments.record(session, lead, case, instrument_key=instrument.key, answers=answers, now=now)
    seed_erpo(session, lead, case, now=now)
    return case.id


def seed_erpo(session: Session, lead: Actor, case: Case, *, now: datetime) -> None:
    """An ERPO about the case's subject: petition drafted and filed twelve days ago, an
    ex parte order the next day, the hearing and final order (one year) yesterday, served
    today; the surrender is still to come."""
    subjects = subjects_of(session, case)
    if not subjects:
        return
    day = timedelta(days=1)
    order = erpo.create_order(
        session, lead, case_id=case.id, person_id=subjects[0].id, at=now - 12 * day, now=now
    )
    for stage, at in (
        (ErpoStage.FILED, now - 12 * day),
        (ErpoStage.EX_PARTE, now - 11 * day),
        (ErpoStage.HEARING, now - day),
    ):
        erpo.advance(session, lead, order, stage=stage, at=at, now=now)
    erpo.advance(
        session, lead, order, stage=ErpoStage.FINAL_ORDER, at=now - day, now=now,
        expires_at=now - day + timedelta(days=365),
    )  # fmt: skip
    erpo.advance(session, lead, order, stage=ErpoStage.SERVED, at=now, now=now)
