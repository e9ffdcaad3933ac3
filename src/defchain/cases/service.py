"""Open a case, add its subjects and reports, its tasks and notes, record what an
assessment concluded.

Every function takes the session and the actor first, checks the permission again
(routes check it too), writes audit events in the same transaction and flushes; the
boundary commits. Reads live in ``queries``; the ones callers of the service need are
re-exported here (``__all__``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from defchain import audit, ledger
from defchain.access import Actor, Label, Permission, Team, User, can, require
from defchain.access.service import actor_for
from defchain.cases.models import Case, CaseNote, CaseReport, CaseSubject, CaseTask
from defchain.cases.queries import (
    case_settings,
    cases_of_person,
    jurisdiction_of,
    notes_visible,
    open_tasks,
    reports_of,
    subjects_of,
    tasks_of,
)
from defchain.cases.rules import (
    MAX_ORIGIN,
    MAX_TEXT,
    MAX_TITLE,
    CaseStatus,
    LevelOfConcern,
    TaskKind,
    TaskStatus,
    clean_text,
    clean_title,
    higher_level,
    next_review,
    status_after_assessment,
)
from defchain.errors import Conflict, NotFound, ValidationFailed
from defchain.intake import Report
from defchain.intake.rules import label_set
from defchain.people import Person, ReportLink

P = Permission
SUBJECT = "case"
MAX_STAGE = 40
# Each task is a link of the chain: overdue and not done, it is a break that escalates.
TASK_SUBJECT = "task"
TASK_LINK = "planned"

__all__ = [
    "add_note",
    "add_report",
    "add_subject",
    "add_task",
    "cancel_task",
    "cases_of_person",
    "complete_task",
    "notes_visible",
    "open_case",
    "open_tasks",
    "record_concern",
    "reports_of",
    "subjects_of",
    "tasks_of",
]


def _audit(
    session: Session, actor: Actor, tag: str, case: Case, changes: dict[str, Any], now: datetime
) -> None:
    audit.record_by(
        session, actor, tag=tag, subject_type=SUBJECT, subject_id=case.id, changes=changes, at=now
    )


def _title(value: str) -> str:
    title = clean_title(value)
    if not title:
        raise ValidationFailed("title: give the case a short title", field="title")
    if len(title) > MAX_TITLE:
        raise ValidationFailed(f"title: at most {MAX_TITLE} characters", field="title")
    return title


def _long_text(value: str, field: str, *, required: bool) -> str:
    text = clean_text(value)
    if required and not text:
        raise ValidationFailed(f"{field}: is required", field=field)
    if len(text) > MAX_TEXT:
        raise ValidationFailed(f"{field}: at most {MAX_TEXT} characters", field=field)
    return text


def may_work(session: Session, user_id: int, case: Case, field: str, what: str) -> User:
    """The enabled user who may change ``case`` (by role and scope), or a field error."""
    user = session.get(User, user_id)
    if user is None or user.disabled:
        raise ValidationFailed(f"{field}: no active user with id {user_id}", field=field)
    if not can(actor_for(session, user), P.CASES_CASE_UPDATE, case):
        raise ValidationFailed(
            f"{field}: {user.full_name} cannot work this case (another agency, not on its "
            f"team, or a role without cases), so cannot be {what}",
            field=field,
        )
    return user


def _person(session: Session, actor: Actor, person_id: int, field: str) -> Person:
    """The person as the registry knows them now (following merges)."""
    person = session.get(Person, person_id)
    if person is None or not can(actor, P.PEOPLE_PERSON_READ, person):
        raise NotFound(f"{field}: no person with id {person_id}", field=field)
    while person.merged_into_id is not None:
        person = session.get_one(Person, person.merged_into_id)
    return person


def _report(session: Session, actor: Actor, report_id: int, field: str) -> Report:
    report = session.get(Report, report_id)
    if report is None or not can(actor, P.INTAKE_REPORT_READ, report):
        raise NotFound(f"{field}: no report with id {report_id}", field=field)
    return report


def _linked_person_ids(session: Session, report_ids: Iterable[int]) -> list[int]:
    """The persons the reports are linked to now (links not undone), oldest link first."""
    ids = sorted(set(report_ids))
    if not ids:
        return []
    query = (
        select(ReportLink.person_id)
        .where(ReportLink.report_id.in_(ids), ReportLink.undone_at.is_(None))
        .order_by(ReportLink.id)
    )
    return list(dict.fromkeys(session.scalars(query)))


def _team(session: Session, actor: Actor, team_id: int | None) -> Team | None:
    if team_id is None:
        return None
    team = session.get(Team, team_id)
    if team is None or not (actor.is_admin or team_id in actor.team_ids):
        raise ValidationFailed("team_id: choose one of your teams, or none", field="team_id")
    return team


def _owning_agency(session: Session, actor: Actor, lead_user_id: int) -> int:
    """The creator's agency; the command line (no agency) opens it for the lead's."""
    if actor.agency_id:
        return actor.agency_id
    lead = session.get(User, lead_user_id)
    if lead is None:
        raise ValidationFailed("lead_user_id: choose who leads the case", field="lead_user_id")
    return lead.agency_id


def open_case(
    session: Session,
    actor: Actor,
    *,
    title: str,
    summary: str = "",
    team_id: int | None = None,
    lead_user_id: int | None = None,
    person_ids: Iterable[int] = (),
    report_ids: Iterable[int] = (),
    now: datetime,
) -> Case:
    """Open a case owned by the actor's agency, led by ``lead_user_id`` (the actor by
    default), about the given persons and reports. The persons the reports are linked
    to become subjects too. The lead must be able to work the case."""
    require(actor, P.CASES_CASE_CREATE)
    title = _title(title)
    summary = _long_text(summary, "summary", required=False)
    team = _team(session, actor, team_id)
    lead_id = lead_user_id or actor.user_id or None
    if lead_id is None:
        raise ValidationFailed("lead_user_id: choose who leads the case", field="lead_user_id")
    case = Case(
        agency_id=_owning_agency(session, actor, lead_id),
        team_id=team.id if team else None,
        lead_user_id=lead_id,
        title=title,
        summary=summary,
        status=CaseStatus.OPEN.value,
        created_at=now,
        created_by_user_id=actor.audit_id,
    )
    may_work(session, lead_id, case, "lead_user_id", "its lead")
    reports = [_report(session, actor, rid, "report_ids") for rid in dict.fromkeys(report_ids)]
    persons = [_person(session, actor, pid, "person_ids") for pid in dict.fromkeys(person_ids)]
    linked = _linked_person_ids(session, [r.id for r in reports])
    persons += [_person(session, actor, pid, "report_ids") for pid in linked]
    subjects = list(dict.fromkeys(p.id for p in persons))
    session.add(case)
    session.flush()
    session.add_all(_subject_row(case, pid, actor, now) for pid in subjects)
    session.add_all(_report_row(case, r.id, actor, now) for r in reports)
    session.flush()
    changes = {
        "title": [None, case.title],
        "status": [None, case.status],
        "agency_id": [None, case.agency_id],
        "team_id": [None, case.team_id],
        "lead_user_id": [None, case.lead_user_id],
        "person_ids": [None, subjects],
        "report_ids": [None, [r.id for r in reports]],
    }
    _audit(session, actor, "cases:case:opened", case, changes, now)
    return case


def _subject_row(case: Case, person_id: int, actor: Actor, now: datetime) -> CaseSubject:
    return CaseSubject(
        case_id=case.id, person_id=person_id, added_at=now, added_by_user_id=actor.audit_id
    )


def _report_row(case: Case, report_id: int, actor: Actor, now: datetime) -> CaseReport:
    return CaseReport(
        case_id=case.id, report_id=report_id, added_at=now, added_by_user_id=actor.audit_id
    )


def _subject_ids(session: Session, case: Case) -> set[int]:
    query = select(CaseSubject.person_id).where(CaseSubject.case_id == case.id)
    return set(session.scalars(query))


def add_subject(
    session: Session, actor: Actor, case: Case, *, person_id: int, now: datetime
) -> None:
    """The case is also about this person."""
    require(actor, P.CASES_CASE_UPDATE, case)
    person = _person(session, actor, person_id, "person_id")
    if person.id in _subject_ids(session, case):
        raise Conflict(f"person_id: person #{person.id} is already a subject", field="person_id")
    session.add(_subject_row(case, person.id, actor, now))
    session.flush()
    _audit(session, actor, "cases:subject:added", case, {"person_id": [None, person.id]}, now)


def add_report(
    session: Session, actor: Actor, case: Case, *, report_id: int, now: datetime
) -> None:
    """A report joins the case; the persons it is linked to become subjects too."""
    require(actor, P.CASES_CASE_UPDATE, case)
    report = _report(session, actor, report_id, "report_id")
    known = set(session.scalars(select(CaseReport.report_id).where(CaseReport.case_id == case.id)))
    if report.id in known:
        raise Conflict(f"report_id: report #{report.id} is already in the case", field="report_id")
    session.add(_report_row(case, report.id, actor, now))
    subjects = _subject_ids(session, case)
    persons = [
        _person(session, actor, pid, "report_id")
        for pid in _linked_person_ids(session, [report.id])
    ]
    added = [pid for pid in dict.fromkeys(p.id for p in persons) if pid not in subjects]
    session.add_all(_subject_row(case, pid, actor, now) for pid in added)
    session.flush()
    changes = {"report_id": [None, report.id], "person_ids": [None, added]}
    _audit(session, actor, "cases:report:added", case, changes, now)


# --- tasks --------------------------------------------------------------------------------


def _kind(value: str) -> TaskKind:
    try:
        return TaskKind(value)
    except ValueError:
        raise ValidationFailed("kind: choose a kind of task from the list", field="kind") from None


def add_task(
    session: Session,
    actor: Actor,
    case: Case,
    *,
    kind: str,
    title: str,
    owner_user_id: int,
    due_at: datetime,
    origin: str | None = None,
    now: datetime,
) -> CaseTask:
    """Give one person something to do on the case by ``due_at``. ``origin`` names what
    asked for it when not a person (e.g. an assessment's information gap)."""
    require(actor, P.CASES_CASE_UPDATE, case)
    chosen = _kind(kind)
    title = _title(title)
    if origin is not None and not 0 < len(origin) <= MAX_ORIGIN:
        raise ValidationFailed(f"origin: 1 to {MAX_ORIGIN} characters", field="origin")
    owner = may_work(session, owner_user_id, case, "owner_user_id", "its owner")
    task = CaseTask(
        case_id=case.id,
        kind=chosen.value,
        title=title,
        owner_user_id=owner.id,
        due_at=due_at,
        status=TaskStatus.OPEN.value,
        origin=origin,
        created_at=now,
        created_by_user_id=actor.audit_id,
    )
    session.add(task)
    session.flush()
    ledger.open_link(
        session,
        subject_type=TASK_SUBJECT,
        subject_id=task.id,
        link=TASK_LINK,
        due_at=due_at,
        now=now,
        agency_id=case.agency_id,
        team_id=case.team_id,
        owner_user_id=owner.id,
    )
    changes = {
        "task_id": [None, task.id],
        "kind": [None, task.kind],
        "title": [None, task.title],
        "owner_user_id": [None, task.owner_user_id],
        "due_at": [None, due_at.isoformat()],
        "origin": [None, origin],
    }
    _audit(session, actor, "cases:task:added", case, changes, now)
    return task


def _open_task(session: Session, actor: Actor, task: CaseTask) -> Case:
    case = session.get_one(Case, task.case_id)
    require(actor, P.CASES_CASE_UPDATE, case)
    if task.status != TaskStatus.OPEN:
        raise Conflict(f"task: this task is already {task.status}", field="task")
    return case


def _end_task_link(
    session: Session, actor: Actor, task: CaseTask, *, note: str, now: datetime
) -> None:
    """The task's link in the chain is done (a cancelled task owes nothing either)."""
    ledger.complete(
        session,
        subject_type=TASK_SUBJECT,
        subject_id=task.id,
        link=TASK_LINK,
        now=now,
        by=actor.label,
        user_id=actor.audit_id,
        note=note,
    )


def _finish_task(
    session: Session,
    actor: Actor,
    task: CaseTask,
    *,
    status: TaskStatus,
    field: str,
    text: str,
    now: datetime,
) -> CaseTask:
    """End an open task as ``status``, keeping ``text`` (its outcome or why it was
    cancelled) as the outcome; its chain link is done and the change audited."""
    case = _open_task(session, actor, task)
    text = _long_text(text, field, required=True)
    task.status = status.value
    task.outcome = text
    task.done_at = now
    task.done_by_user_id = actor.audit_id
    _end_task_link(session, actor, task, note=f"task {status.value}", now=now)
    changes = {
        "task_id": [None, task.id],
        "status": [TaskStatus.OPEN.value, task.status],
        field: [None, text],
    }
    _audit(session, actor, f"cases:task:{status.value}", case, changes, now)
    return task


def complete_task(
    session: Session, actor: Actor, task: CaseTask, *, outcome: str, now: datetime
) -> CaseTask:
    """Record what came of a task; it is done. The outcome is required."""
    return _finish_task(
        session, actor, task, status=TaskStatus.DONE, field="outcome", text=outcome, now=now
    )


def cancel_task(
    session: Session, actor: Actor, task: CaseTask, *, reason: str, now: datetime
) -> CaseTask:
    """The task is no longer needed; the reason is kept as its outcome."""
    return _finish_task(
        session, actor, task, status=TaskStatus.CANCELLED, field="reason", text=reason, now=now
    )


# --- notes --------------------------------------------------------------------------------


def _labels(actor: Actor, labels: Iterable[str]) -> list[str]:
    chosen: list[str] = []
    for value in dict.fromkeys(labels):
        try:
            label = Label(value)
        except ValueError:
            raise ValidationFailed(f"labels: unknown label '{value}'", field="labels") from None
        if label.value not in actor.clearances:
            raise ValidationFailed(
                f"labels: you are not cleared for '{label.value}', so cannot label a note with it",
                field="labels",
            )
        chosen.append(label.value)
    return sorted(chosen)


def add_note(
    session: Session,
    actor: Actor,
    case: Case,
    *,
    body: str,
    labels: Iterable[str] = (),
    now: datetime,
) -> CaseNote:
    """Append a note. A labelled note is shown only to users cleared for every label,
    and only someone cleared for a label may apply it. Notes are never edited."""
    require(actor, P.CASES_CASE_UPDATE, case)
    body = _long_text(body, "body", required=True)
    chosen = _labels(actor, labels)
    note = CaseNote(
        case_id=case.id,
        body=body,
        labels=chosen,
        label_set=label_set(chosen),
        author_user_id=actor.audit_id,
        created_at=now,
    )
    session.add(note)
    session.flush()
    # The body is not copied into the audit log: its readers may not hold the clearance.
    changes = {"note_id": [None, note.id], "labels": [None, chosen]}
    _audit(session, actor, "cases:note:added", case, changes, now)
    return note


# --- what an assessment concluded ------------------------------------------------------------


def record_concern(
    session: Session,
    actor: Actor,
    case: Case,
    *,
    level: str,
    stage: str | None,
    assessed_at: datetime,
    now: datetime | None = None,
) -> None:
    """An assessment concluded ``level`` of concern at pathway ``stage``: the case shows
    it and moves on (``rules.status_after_assessment``). An assessment older than the
    one already recorded changes nothing. ``now`` (the audit time) defaults to
    ``assessed_at``."""
    require(actor, P.ASSESSMENT_ASSESSMENT_CREATE, case)
    if case.status == CaseStatus.CLOSED:
        raise Conflict("case: a closed case is not assessed", field="case")
    try:
        chosen = LevelOfConcern(level)
    except ValueError:
        raise ValidationFailed(
            "level: choose low, moderate, high or imminent", field="level"
        ) from None
    stage = clean_title(stage or "") or None
    if stage is not None and len(stage) > MAX_STAGE:
        raise ValidationFailed(f"stage: at most {MAX_STAGE} characters", field="stage")
    if case.last_assessed_at is not None and assessed_at < case.last_assessed_at:
        return
    before = _concern(case)
    case.level_of_concern = chosen.value
    case.peak_level = higher_level(case.peak_level, chosen.value)
    case.pathway_stage = stage
    case.last_assessed_at = assessed_at
    days = case_settings(session, jurisdiction_of(session, case)).review_days
    case.next_review_at = next_review(chosen.value, assessed_at, days)
    case.status = status_after_assessment(case.status).value
    session.flush()
    changes = audit.diff(before, _concern(case))
    _audit(session, actor, "cases:case:concern_recorded", case, changes, now or assessed_at)


def _concern(case: Case) -> dict[str, Any]:
    assessed = case.last_assessed_at.isoformat() if case.last_assessed_at else None
    return {
        "level_of_concern": case.level_of_concern,
        "pathway_stage": case.pathway_stage,
        "last_assessed_at": assessed,
        "next_review_at": case.next_review_at.isoformat() if case.next_review_at else None,
        "peak_level": case.peak_level,
        "status": case.status,
    }
