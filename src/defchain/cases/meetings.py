"""Team meetings: an agenda the system generates (cases due for review, cases with
overdue tasks, new reports on open or monitored cases), one decision per case, and the
record as CSV or Markdown.

Only the team's members (and administrators) create or see a team's meetings; the
agenda holds only cases the actor may read. Every write flushes and is audited; the
boundary commits.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from defchain import audit
from defchain.access import Actor, Permission, Team, can, load_for, visible
from defchain.cases.models import Case, CaseReport, CaseTask, CheckIn, Meeting, MeetingItem
from defchain.cases.queries import user_names
from defchain.cases.rules import CaseStatus, TaskStatus, clean_text, review_due
from defchain.errors import NotFound, PermissionDenied, ValidationFailed

P = Permission
SUBJECT = "meeting"
DUE_FOR_REVIEW = "due for review"
OVERDUE_TASKS = "overdue tasks"
NEW_REPORTS = "new reports"
REASONS = (DUE_FOR_REVIEW, OVERDUE_TASKS, NEW_REPORTS)
# Without an earlier meeting, reports added this long ago count as new.
NEW_REPORT_WINDOW = timedelta(days=7)
MAX_ATTENDEES = 2000
MAX_DECISION = 4000


# --- the pure rule ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AgendaFacts:
    """What decides whether a case is on the agenda, read from the database."""

    status: str
    next_review_at: datetime | None
    overdue_tasks: int
    new_reports: int
    # Closed, with monitoring check-ins still scheduled.
    monitored_after_closure: bool


def agenda_reasons(facts: AgendaFacts, now: datetime) -> list[str]:
    """Why the case belongs on the agenda (empty: it does not), in ``REASONS`` order.

    A closed case is never due for review; new reports count on a case that is open in
    any way (open, assessing, managing, monitoring) or closed but still monitored.
    """
    closed = facts.status == CaseStatus.CLOSED
    reasons = []
    if review_due(facts.next_review_at, facts.status, now):
        reasons.append(DUE_FOR_REVIEW)
    if facts.overdue_tasks:
        reasons.append(OVERDUE_TASKS)
    if facts.new_reports and (not closed or facts.monitored_after_closure):
        reasons.append(NEW_REPORTS)
    return reasons


# --- who may meet -------------------------------------------------------------------------------


def may_meet(actor: Actor, team_id: int, permission: Permission = P.CASES_CASE_READ) -> bool:
    """Team members and administrators holding ``permission`` by role."""
    if permission not in actor.permissions:
        return False
    return actor.is_admin or team_id in actor.team_ids


def _require_team(actor: Actor, team_id: int, permission: Permission) -> None:
    if permission not in actor.permissions:
        raise PermissionDenied("Your role does not allow this on a team's meetings.")
    if not may_meet(actor, team_id, permission):
        raise PermissionDenied("Only the team's members hold its meetings.")


def load_meeting(
    session: Session, actor: Actor, meeting_id: int, permission: Permission = P.CASES_CASE_READ
) -> Meeting:
    """The meeting, for its team's members: ``PermissionDenied`` when the role does not
    allow ``permission`` at all, ``NotFound`` when it does not exist or is another
    team's (through ``access.load_for``, kind ``"meeting"``)."""
    meeting: Meeting = load_for(session, actor, "meeting", meeting_id, permission)
    return meeting


# --- the agenda ---------------------------------------------------------------------------------


def previous_meeting_at(session: Session, team: Team, now: datetime) -> datetime | None:
    """When the team last met (at or before ``now``)."""
    return session.scalar(
        select(func.max(Meeting.held_at)).where(Meeting.team_id == team.id, Meeting.held_at <= now)
    )


def _counts(session: Session, query: Select[int, int]) -> dict[int, int]:
    return {case_id: int(n) for case_id, n in session.execute(query)}


def agenda(
    session: Session, actor: Actor, team: Team, now: datetime
) -> list[tuple[Case, list[str]]]:
    """The team's cases to discuss, each with its reasons, oldest case first; only cases
    the actor may read."""
    _require_team(actor, team.id, P.CASES_CASE_READ)
    cases = list(
        session.scalars(
            select(Case)
            .where(Case.team_id == team.id, visible(actor, P.CASES_CASE_READ))
            .order_by(Case.created_at, Case.id)
        )
    )
    ids = [c.id for c in cases]
    if not ids:
        return []
    since = previous_meeting_at(session, team, now) or now - NEW_REPORT_WINDOW
    overdue = _counts(
        session,
        select(CaseTask.case_id, func.count())
        .where(
            CaseTask.case_id.in_(ids),
            CaseTask.status == TaskStatus.OPEN.value,
            CaseTask.due_at < now,
        )
        .group_by(CaseTask.case_id),
    )
    new = _counts(
        session,
        select(CaseReport.case_id, func.count())
        .where(CaseReport.case_id.in_(ids), CaseReport.added_at > since, CaseReport.added_at <= now)
        .group_by(CaseReport.case_id),
    )
    monitored = set(
        session.scalars(
            select(CheckIn.case_id).where(CheckIn.case_id.in_(ids), CheckIn.status == "scheduled")
        )
    )
    result = []
    for case in cases:
        facts = AgendaFacts(
            status=case.status,
            next_review_at=case.next_review_at,
            overdue_tasks=overdue.get(case.id, 0),
            new_reports=new.get(case.id, 0),
            monitored_after_closure=case.id in monitored,
        )
        reasons = agenda_reasons(facts, now)
        if reasons:
            result.append((case, reasons))
    return result


# --- meetings and decisions -------------------------------------------------------------------


def create_meeting(
    session: Session,
    actor: Actor,
    team: Team,
    *,
    held_at: datetime,
    attendees: str,
    now: datetime,
) -> Meeting:
    """Start a meeting: the agenda as it stands now becomes its items."""
    _require_team(actor, team.id, P.CASES_CASE_UPDATE)
    text = clean_text(attendees)
    if len(text) > MAX_ATTENDEES:
        raise ValidationFailed(f"attendees: at most {MAX_ATTENDEES} characters", field="attendees")
    items = agenda(session, actor, team, now)
    meeting = Meeting(
        team_id=team.id,
        held_at=held_at,
        attendees=text,
        created_by_user_id=actor.user_id,
        created_at=now,
    )
    session.add(meeting)
    session.flush()
    session.add_all(
        MeetingItem(meeting_id=meeting.id, case_id=case.id, reasons=reasons)
        for case, reasons in items
    )
    session.flush()
    audit.record_by(
        session, actor, tag="cases:meeting:created", subject_type=SUBJECT, subject_id=meeting.id,
        changes={
            "team_id": [None, team.id],
            "held_at": [None, held_at.isoformat()],
            "case_ids": [None, [case.id for case, _ in items]],
        },
        at=now,
    )  # fmt: skip
    return meeting


def record_decision(
    session: Session, actor: Actor, item: MeetingItem, *, decision: str, now: datetime
) -> MeetingItem:
    """Record what the team decided about one case (a later decision replaces it, and
    the audit log keeps both)."""
    meeting = session.get_one(Meeting, item.meeting_id)
    _require_team(actor, meeting.team_id, P.CASES_CASE_UPDATE)
    case = session.get_one(Case, item.case_id)
    if not can(actor, P.CASES_CASE_READ, case):
        raise NotFound(f"No case with id {case.id}.")
    text = clean_text(decision)
    if not text:
        raise ValidationFailed("decision: say what the team decided", field="decision")
    if len(text) > MAX_DECISION:
        raise ValidationFailed(f"decision: at most {MAX_DECISION} characters", field="decision")
    old = item.decision or None
    item.decision = text
    item.decided_by_user_id = actor.user_id
    item.decided_at = now
    session.flush()
    audit.record_by(
        session, actor, tag="cases:meeting:decided", subject_type="case", subject_id=case.id,
        changes={"meeting_id": [None, meeting.id], "decision": [old, text]}, at=now,
    )  # fmt: skip
    return item


def meetings_of(session: Session, actor: Actor, team: Team) -> list[Meeting]:
    """The team's meetings, the latest first."""
    _require_team(actor, team.id, P.CASES_CASE_READ)
    return list(
        session.scalars(
            select(Meeting)
            .where(Meeting.team_id == team.id)
            .order_by(Meeting.held_at.desc(), Meeting.id.desc())
        )
    )


def items_of(session: Session, actor: Actor, meeting: Meeting) -> list[tuple[MeetingItem, Case]]:
    """The meeting's items with their cases, only those the actor may read, in agenda
    order."""
    rows = session.execute(
        select(MeetingItem, Case)
        .join(Case, Case.id == MeetingItem.case_id)
        .where(MeetingItem.meeting_id == meeting.id)
        .order_by(MeetingItem.id)
    ).all()
    return [(item, case) for item, case in rows if can(actor, P.CASES_CASE_READ, case)]


def item_of(session: Session, meeting: Meeting, item_id: int) -> MeetingItem:
    """One item of this meeting (``NotFound`` for another meeting's)."""
    item = session.get(MeetingItem, item_id)
    if item is None or item.meeting_id != meeting.id:
        raise NotFound(f"No item with id {item_id} on this meeting.")
    return item


# --- the record ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeetingRecord:
    """A meeting as exported: its team, when, who came, and each case's decision."""

    meeting: Meeting
    team_name: str
    rows: list[tuple[MeetingItem, Case, str]]  # the item, its case, who decided


def meeting_record(session: Session, actor: Actor, meeting: Meeting) -> MeetingRecord:
    """The meeting's record as the actor may see it."""
    _require_team(actor, meeting.team_id, P.CASES_CASE_READ)
    items = items_of(session, actor, meeting)
    names = user_names(session, [item.decided_by_user_id for item, _ in items])
    team = session.get_one(Team, meeting.team_id)
    rows = [(item, case, names.get(item.decided_by_user_id or 0, "")) for item, case in items]
    return MeetingRecord(meeting=meeting, team_name=team.name, rows=rows)


def record_export(
    session: Session, actor: Actor, meeting: Meeting, *, form: str, now: datetime
) -> None:
    """Audit a download of the meeting's record (it names cases and decisions)."""
    _require_team(actor, meeting.team_id, P.CASES_CASE_READ)
    audit.record_by(
        session,
        actor,
        tag="cases:meeting:exported",
        subject_type=SUBJECT,
        subject_id=meeting.id,
        changes={"form": [None, form]},
        at=now,
    )


def _cell(value: str) -> str:
    """A spreadsheet must not run a cell as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def meeting_csv(record: MeetingRecord) -> str:
    """One row per case: case, title, reasons, decision, who decided and when."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["meeting_id", "team", "held_at", "case_id", "case_title", "reasons", "decision",
         "decided_by", "decided_at"]
    )  # fmt: skip
    m = record.meeting
    for item, case, who in record.rows:
        writer.writerow(
            [
                m.id,
                _cell(record.team_name),
                m.held_at.isoformat(),
                case.id,
                _cell(case.title),
                "; ".join(item.reasons),
                _cell(item.decision),
                _cell(who),
                item.decided_at.isoformat() if item.decided_at else "",
            ]
        )
    return out.getvalue()


def _md(text: str) -> str:
    """Text safe inside a Markdown paragraph (no markup, no HTML)."""
    escaped = "".join("\\" + ch if ch in "\\`*_[]<>|" else ch for ch in text)
    return " ".join(escaped.split())


def meeting_markdown(record: MeetingRecord) -> str:
    """The meeting as a Markdown document: attendees, then each case and its decision."""
    m = record.meeting
    lines = [
        f"# Team meeting: {_md(record.team_name)}",
        "",
        f"Held: {m.held_at:%Y-%m-%d %H:%M} UTC",
        "",
        f"Attendees: {_md(m.attendees) or 'not recorded'}",
        "",
    ]
    if not record.rows:
        lines += ["No case was on the agenda.", ""]
    for item, case, who in record.rows:
        lines += [
            f"## Case #{case.id}: {_md(case.title)}",
            "",
            f"On the agenda: {', '.join(item.reasons)}",
            "",
        ]
        if item.decided_at is not None:
            lines += [
                f"Decision ({_md(who)}, {item.decided_at:%Y-%m-%d %H:%M} UTC): "
                f"{_md(item.decision)}",
                "",
            ]
        else:
            lines += ["Decision: none recorded", ""]
    return "\n".join(lines)
