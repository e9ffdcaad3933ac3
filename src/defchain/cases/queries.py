"""Read models of cases: lists filtered through ``visible()``, a case's subjects,
reports, tasks and the notes the actor is cleared for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, select, true
from sqlalchemy.orm import Session

from defchain.access import Actor, Agency, Label, Permission, Team, TeamMembership, User, visible
from defchain.cases.models import Case, CaseNote, CaseReport, CaseSettings, CaseSubject, CaseTask
from defchain.cases.rules import LevelOfConcern, TaskStatus, TripwireMode, review_days
from defchain.intake import Report
from defchain.people import Person

P = Permission


def absorbed_ids(session: Session, person_id: int) -> set[int]:
    """The person and every person merged into them (transitively): a case about a
    person merged away is still a case about who they turned out to be."""
    found = {person_id}
    frontier = {person_id}
    while frontier:
        frontier = (
            set(session.scalars(select(Person.id).where(Person.merged_into_id.in_(frontier))))
            - found
        )
        found |= frontier
    return found


def subjects_of(session: Session, case: Case) -> list[Person]:
    """The persons the case is about, in the order they were added."""
    query = (
        select(Person)
        .join(CaseSubject, CaseSubject.person_id == Person.id)
        .where(CaseSubject.case_id == case.id)
        .order_by(CaseSubject.added_at, CaseSubject.id)
    )
    return list(session.scalars(query))


def reports_of(session: Session, actor: Actor, case: Case) -> list[Report]:
    """The case's reports the actor may open (others stay unnamed), oldest first."""
    query = (
        select(Report)
        .join(CaseReport, CaseReport.report_id == Report.id)
        .where(CaseReport.case_id == case.id, visible(actor, P.INTAKE_REPORT_READ))
        .order_by(Report.received_at, Report.id)
    )
    return list(session.scalars(query))


def hidden_report_count(session: Session, actor: Actor, case: Case) -> int:
    """How many of the case's reports the actor may not open."""
    total = session.scalar(
        select(func.count()).select_from(CaseReport).where(CaseReport.case_id == case.id)
    )
    return int(total or 0) - len(reports_of(session, actor, case))


def tasks_of(session: Session, case: Case) -> list[CaseTask]:
    """Every task of the case, soonest due first."""
    query = select(CaseTask).where(CaseTask.case_id == case.id)
    return list(session.scalars(query.order_by(CaseTask.due_at, CaseTask.id)))


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def open_tasks(session: Session, case: Case, *, origin_prefix: str | None = None) -> list[CaseTask]:
    """The case's open tasks, soonest due first; with ``origin_prefix`` only those whose
    origin starts with it (e.g. ``"gap:DC-TA-1:"`` for one instrument's gaps)."""
    query = select(CaseTask).where(
        CaseTask.case_id == case.id, CaseTask.status == TaskStatus.OPEN.value
    )
    if origin_prefix is not None:
        pattern = _escape_like(origin_prefix) + "%"
        query = query.where(CaseTask.origin.like(pattern, escape="\\"))
    return list(session.scalars(query.order_by(CaseTask.due_at, CaseTask.id)))


def note_cleared(actor: Actor) -> ColumnElement[bool]:
    """Notes carrying only labels the actor is cleared for (administrators too)."""
    uncleared = [label for label in Label if label.value not in actor.clearances]
    return and_(true(), *(~CaseNote.label_set.contains(f",{label.value},") for label in uncleared))


def notes_visible(session: Session, actor: Actor, case: Case) -> list[CaseNote]:
    """The case's notes the actor is cleared for, oldest first."""
    query = select(CaseNote).where(CaseNote.case_id == case.id, note_cleared(actor))
    return list(session.scalars(query.order_by(CaseNote.created_at, CaseNote.id)))


def withheld_note_count(session: Session, actor: Actor, case: Case) -> int:
    """How many of the case's notes carry a label the actor is not cleared for."""
    query = select(func.count()).where(CaseNote.case_id == case.id, ~note_cleared(actor))
    return int(session.scalar(query) or 0)


def cases_of_person(session: Session, actor: Actor, person_id: int) -> list[Case]:
    """The cases about the person (or anyone merged into them) the actor may see,
    newest first."""
    ids = absorbed_ids(session, person_id)
    query = (
        select(Case)
        .where(
            Case.id.in_(select(CaseSubject.case_id).where(CaseSubject.person_id.in_(ids))),
            visible(actor, P.CASES_CASE_READ),
        )
        .order_by(Case.created_at.desc(), Case.id.desc())
    )
    return list(session.scalars(query))


@dataclass(frozen=True)
class CaseRow:
    """One line of the case list."""

    case: Case
    lead: str
    team: str
    open_tasks: int
    overdue_tasks: int


def case_list(session: Session, actor: Actor, *, now: datetime, limit: int = 200) -> list[CaseRow]:
    """The cases the actor may see, newest first, with their lead, team and open tasks."""
    cases = session.scalars(
        select(Case)
        .where(visible(actor, P.CASES_CASE_READ))
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(limit)
    ).all()
    ids = [c.id for c in cases]
    open_count: dict[int, int] = {}
    overdue: dict[int, int] = {}
    if ids:
        rows = session.execute(
            select(CaseTask.case_id, CaseTask.due_at).where(
                CaseTask.case_id.in_(ids), CaseTask.status == TaskStatus.OPEN.value
            )
        )
        for case_id, due_at in rows:
            open_count[case_id] = open_count.get(case_id, 0) + 1
            overdue[case_id] = overdue.get(case_id, 0) + (due_at < now)
    names = user_names(session, [c.lead_user_id for c in cases])
    teams = team_names(session, [c.team_id for c in cases])
    return [
        CaseRow(
            case=c,
            lead=names.get(c.lead_user_id, ""),
            team=teams.get(c.team_id, "") if c.team_id else "",
            open_tasks=open_count.get(c.id, 0),
            overdue_tasks=overdue.get(c.id, 0),
        )
        for c in cases
    ]


def user_names(session: Session, user_ids: Sequence[int | None]) -> dict[int, str]:
    """Full names by user id."""
    ids = {i for i in user_ids if i}
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.full_name).where(User.id.in_(ids))).all())


def team_names(session: Session, team_ids: Sequence[int | None]) -> dict[int, str]:
    """Team names by id."""
    ids = {i for i in team_ids if i}
    if not ids:
        return {}
    return dict(session.execute(select(Team.id, Team.name).where(Team.id.in_(ids))).all())


def lead_candidates(session: Session, *, agency_id: int, team_ids: Sequence[int]) -> list[User]:
    """Enabled users of the agency and of the given teams, by name: who may lead or own
    a task (the service decides finally, by role and scope)."""
    on_teams = select(TeamMembership.user_id).where(TeamMembership.team_id.in_(list(team_ids)))
    query = select(User).where(
        User.disabled.is_(False), (User.agency_id == agency_id) | User.id.in_(on_teams)
    )
    return list(session.scalars(query.order_by(User.full_name, User.id)))


def teams_of(session: Session, actor: Actor) -> list[Team]:
    """The teams the actor is on, by name (a new case may go to one of them)."""
    if not actor.team_ids:
        return []
    query = select(Team).where(Team.id.in_(sorted(actor.team_ids))).order_by(Team.name)
    return list(session.scalars(query))


def case_settings(session: Session, jurisdiction_id: int | None) -> CaseSettingsView:
    """The jurisdiction's case policy, the defaults where it set none."""
    row = session.get(CaseSettings, jurisdiction_id) if jurisdiction_id else None
    overrides = row.review_days if row is not None else {}
    mode = TripwireMode(row.tripwire) if row is not None else TripwireMode.REOPEN
    return CaseSettingsView(review_days=review_days(overrides), tripwire=mode)


def jurisdiction_of(session: Session, case: Case) -> int | None:
    """The jurisdiction of the case's owning agency."""
    return session.scalar(select(Agency.jurisdiction_id).where(Agency.id == case.agency_id))


@dataclass(frozen=True)
class CaseSettingsView:
    """The review cadence in force and what the tripwire does."""

    review_days: dict[LevelOfConcern, int]
    tripwire: TripwireMode


def subject_ids_of(session: Session, case: Case) -> list[int]:
    """The ids of the case's subject persons, in the order they were added."""
    return list(
        session.scalars(
            select(CaseSubject.person_id)
            .where(CaseSubject.case_id == case.id)
            .order_by(CaseSubject.id)
        )
    )


def reports_of_case_ids(session: Session, case: Case) -> list[int]:
    """The ids of every report on the case (whoever may read them)."""
    return list(
        session.scalars(
            select(CaseReport.report_id)
            .where(CaseReport.case_id == case.id)
            .order_by(CaseReport.id)
        )
    )
