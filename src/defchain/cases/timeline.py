"""One timeline of everything on a case: reports, triage decisions, tasks and
interventions, notes, firearm findings, changes to the case, sign-offs, check-ins,
meeting decisions and disclosures, and (registered from above) assessments.

A *source* is a function ``(session, actor, case) -> list[TimelineEntry]``; each decides
itself what the actor may see (a labelled note the actor is not cleared for appears only
as "a note you are not cleared to read"; a report they may not open appears without
its content). Domains above ``cases`` add their own with ``register_timeline_source``,
so ``cases`` never imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from defchain.access import Actor, Permission, can, require
from defchain.cases.models import (
    Case,
    CaseChange,
    CaseNote,
    CaseReport,
    CaseSignOff,
    CheckIn,
    Disclosure,
    Meeting,
    MeetingItem,
)
from defchain.cases.queries import (
    note_cleared,
    notes_visible,
    reports_of,
    subjects_of,
    tasks_of,
    user_names,
)
from defchain.cases.rules import CASE_STATUS_LABELS, TASK_KIND_LABELS, CaseStatus, TaskKind
from defchain.intake import KIND_LABELS
from defchain.people import firearms
from defchain.triage import TriageDecision

P = Permission

# Tasks of these kinds are what the team does to lower the risk: shown as interventions.
INTERVENTION_KINDS = frozenset(
    {
        TaskKind.MENTAL_HEALTH_REFERRAL,
        TaskKind.MOBILE_CRISIS,
        TaskKind.INVOLUNTARY_HOLD,
        TaskKind.ERPO_PETITION,
        TaskKind.SAFETY_PLAN,
        TaskKind.TARGET_PROTECTION,
        TaskKind.CHARGES,
        TaskKind.SUPPORT_HOUSING,
        TaskKind.SUPPORT_EMPLOYMENT,
        TaskKind.MENTORING,
        TaskKind.COUNSELING,
    }
)

# The entry kinds, each shown as a tag on the page.
KIND_TAGS: dict[str, str] = {
    "report": "Report",
    "triage": "Triage",
    "assessment": "Assessment",
    "task": "Task",
    "intervention": "Intervention",
    "note": "Note",
    "firearm": "Firearms",
    "change": "Change",
    "signoff": "Sign-off",
    "checkin": "Check-in",
    "meeting": "Meeting",
    "disclosure": "Disclosure",
}

WITHHELD_NOTE = "A note you are not cleared to read"
REPORT_KINDS = {str(kind): label for kind, label in KIND_LABELS.items()}


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened on the case. ``kind`` is a key of ``KIND_TAGS``;
    ``link`` is a path the actor may follow, or empty."""

    at: datetime
    kind: str
    title: str
    detail: str = ""
    link: str = ""
    actor_name: str = ""


TimelineSource = Callable[[Session, Actor, Case], list[TimelineEntry]]
_SOURCES: list[TimelineSource] = []


def register_timeline_source(fn: TimelineSource) -> TimelineSource:
    """Add a source to every case's timeline (once; usable as a decorator)."""
    if fn not in _SOURCES:
        _SOURCES.append(fn)
    return fn


def timeline(session: Session, actor: Actor, case: Case) -> list[TimelineEntry]:
    """Every registered source's entries for the case, newest first."""
    require(actor, P.CASES_CASE_READ, case)
    entries = [entry for source in _SOURCES for entry in source(session, actor, case)]
    return sorted(entries, key=lambda e: e.at, reverse=True)


# --- the sources of cases and the domains below it -------------------------------------------


@register_timeline_source
def report_entries(session: Session, actor: Actor, case: Case) -> list[TimelineEntry]:
    """Each report received and added to the case; one the actor may not open is shown
    only as added, without its content."""
    readable = {r.id: r for r in reports_of(session, actor, case)}
    rows = list(session.scalars(select(CaseReport).where(CaseReport.case_id == case.id)))
    names = user_names(session, [r.added_by_user_id for r in rows])
    entries: list[TimelineEntry] = []
    for row in rows:
        who = names.get(row.added_by_user_id or 0, "")
        report = readable.get(row.report_id)
        if report is None:
            entries.append(
                TimelineEntry(
                    row.added_at, "report", "A report you may not open was added", "", "", who
                )
            )
            continue
        link = f"/reports/{report.id}"
        kind = REPORT_KINDS.get(report.kind, report.kind)
        entries.append(
            TimelineEntry(
                report.received_at,
                "report",
                f"Report #{report.id} received",
                f"{kind}, {report.channel}",
                link,
            )
        )
        entries.append(
            TimelineEntry(
                row.added_at, "report", f"Report #{report.id} added to the case", "", link, who
            )
        )
    return entries


@register_timeline_source
def triage_entries(session: Session, actor: Actor, case: Case) -> list[TimelineEntry]:
    """The triage decisions on the case's reports the actor may open."""
    readable = [r.id for r in reports_of(session, actor, case)]
    if not readable:
        return []
    rows = list(
        session.scalars(select(TriageDecision).where(TriageDecision.report_id.in_(readable)))
    )
    names = user_names(session, [r.decided_by_user_id for r in rows])
    return [
        TimelineEntry(
            at=row.decided_at,
            kind="triage",
            title=f"Report #{row.report_id} triaged {row.priority}"
            + (" (suggestion overridden)" if row.overridden else ""),
            detail=row.reason,
            link=f"/reports/{row.report_id}",
            actor_name=names.get(row.decided_by_user_id, ""),
        )
        for row in rows
    ]


@register_timeline_source
def task_entries(session: Session, actor: Actor, case: Case) -> list[TimelineEntry]:
    """Each task (an intervention when its kind is one) given, done or cancelled."""
    tasks = tasks_of(session, case)
    names = user_names(
        session,
        [u for t in tasks for u in (t.created_by_user_id, t.done_by_user_id, t.owner_user_id)],
    )
    entries: list[TimelineEntry] = []
    for task in tasks:
        kind = "intervention" if task.kind in INTERVENTION_KINDS else "task"
        label = TASK_KIND_LABELS.get(TaskKind(task.kind), task.kind)
        owner = names.get(task.owner_user_id, "")
        entries.append(
            TimelineEntry(
                task.created_at,
                kind,
                f"{label} given: {task.title}",
                f"Owner {owner}, due {task.due_at:%Y-%m-%d}",
                "#tasks",
                names.get(task.created_by_user_id or 0, ""),
            )
        )
        if task.done_at is not None and task.status in ("done", "cancelled"):
            verb = "done" if task.status == "done" else "cancelled"
            entries.append(
                TimelineEntry(
                    task.done_at,
                    kind,
                    f"{label} {verb}: {task.title}",
                    task.outcome,
                    "#tasks",
                    names.get(task.done_by_user_id or 0, ""),
                )
            )
    return entries


@register_timeline_source
def note_entries(session: Session, actor: Actor, case: Case) -> list[TimelineEntry]:
    """The notes the actor is cleared for, in full; the others only as withheld."""
    notes = notes_visible(session, actor, case)
    names = user_names(session, [n.author_user_id for n in notes])
    entries = [
        TimelineEntry(
            note.created_at,
            "note",
            "Note" + "".join(f" [{label}]" for label in note.labels),
            note.body,
            "#notes",
            names.get(note.author_user_id or 0, ""),
        )
        for note in notes
    ]
    withheld = session.scalars(
        select(CaseNote.created_at).where(CaseNote.case_id == case.id, ~note_cleared(actor))
    )
    entries += [TimelineEntry(at, "note", WITHHELD_NOTE) for at in withheld]
    return entries


def _status_label(value: str) -> str:
    try:
        return CASE_STATUS_LABELS[CaseStatus(value)]
    except ValueError:
        return value


def _change_title(change: CaseChange, names: dict[int, str]) -> str:
    if change.kind == "status":
        return f"Status: {_status_label(change.old)} to {_status_label(change.new)}"
    if change.kind == "lead":
        old = names.get(int(change.old), change.old) if change.old.isdigit() else change.old
        new = names.get(int(change.new), change.new) if change.new.isdigit() else change.new
        return f"Lead: {old} to {new}"
    if change.kind == "flag":
        return "Flagged: new information"
    if change.kind == "plan":
        return "Outcome of the plan recorded"
    if change.kind == "transfer":
        return "Transfer documented"
    return change.kind.capitalize()


@register_timeline_source
def change_entries(session: Session, actor: Actor, case: Case) -> list[TimelineEntry]:
    """Changes to the case itself: status, lead, flag, plan outcome, transfer."""
    rows = list(session.scalars(select(CaseChange).where(CaseChange.case_id == case.id)))
    ids: list[int | None] = [r.user_id for r in rows]
    ids += [int(v) for r in rows if r.kind == "lead" for v in (r.old, r.new) if v.isdigit()]
    names = user_names(session, ids)
    readable = {r.id for r in reports_of(session, actor, case)}
    entries = []
    for row in rows:
        detail = row.new if row.kind in ("plan", "transfer") else row.reason
        link = f"/reports/{row.report_id}" if row.report_id in readable else ""
        who = names.get(row.user_id, "") if row.user_id else "System"
        entries.append(
            TimelineEntry(row.at, "change", _change_title(row, names), detail, link, who)
        )
    return entries


@register_timeline_source
def signoff_entries(session: Session, actor: Actor, case: Case) -> list[TimelineEntry]:
    """Sign-offs for closure, of every cycle."""
    rows = list(session.scalars(select(CaseSignOff).where(CaseSignOff.case_id == case.id)))
    names = user_names(session, [r.user_id for r in rows])
    return [
        TimelineEntry(
            row.at,
            "signoff",
            "Signed off for closure" + (" as lead" if row.as_lead else ""),
            row.note,
            "",
            names.get(row.user_id, ""),
        )
        for row in rows
    ]


@register_timeline_source
def checkin_entries(session: Session, actor: Actor, case: Case) -> list[TimelineEntry]:
    """Monitoring check-ins scheduled and done."""
    rows = list(session.scalars(select(CheckIn).where(CheckIn.case_id == case.id)))
    names = user_names(session, [r.done_by_user_id for r in rows])
    entries = [
        TimelineEntry(row.created_at, "checkin", f"Check-in scheduled for {row.due_at:%Y-%m-%d}")
        for row in rows
    ]
    entries += [
        TimelineEntry(
            row.done_at,
            "checkin",
            "Check-in done",
            row.outcome,
            "",
            names.get(row.done_by_user_id or 0, ""),
        )
        for row in rows
        if row.done_at is not None and row.status == "done"
    ]
    return entries


@register_timeline_source
def firearm_entries(session: Session, actor: Actor, case: Case) -> list[TimelineEntry]:
    """What was found about each subject's access to firearms."""
    entries = []
    for person in subjects_of(session, case):
        history = firearms.history(session, person.id)
        names = user_names(session, [f.recorded_by_user_id for f in history])
        link = f"/people/{person.id}" if can(actor, P.PEOPLE_PERSON_READ, person) else ""
        for finding in history:
            status = firearms.ACCESS_LABELS.get(
                firearms.AccessStatus(finding.status), finding.status
            )
            detail = f"Source: {finding.source}" + (f". {finding.detail}" if finding.detail else "")
            entries.append(
                TimelineEntry(
                    finding.as_of,
                    "firearm",
                    f"Firearm access of {person.display_name or f'person #{person.id}'}: {status}",
                    detail,
                    link,
                    names.get(finding.recorded_by_user_id or 0, ""),
                )
            )
    return entries


@register_timeline_source
def meeting_entries(session: Session, actor: Actor, case: Case) -> list[TimelineEntry]:
    """The decisions team meetings recorded about the case."""
    rows = session.execute(
        select(MeetingItem, Meeting)
        .join(Meeting, Meeting.id == MeetingItem.meeting_id)
        .where(MeetingItem.case_id == case.id, MeetingItem.decided_at.is_not(None))
    ).all()
    names = user_names(session, [item.decided_by_user_id for item, _ in rows])
    entries = []
    for item, meeting in rows:
        member = actor.is_admin or meeting.team_id in actor.team_ids
        if item.decided_at is None:  # the query already leaves these out; for the type
            continue
        entries.append(
            TimelineEntry(
                item.decided_at,
                "meeting",
                f"Team meeting of {meeting.held_at:%Y-%m-%d}: decision",
                item.decision,
                f"/meetings/{meeting.id}" if member else "",
                names.get(item.decided_by_user_id or 0, ""),
            )
        )
    return entries


@register_timeline_source
def disclosure_entries(session: Session, actor: Actor, case: Case) -> list[TimelineEntry]:
    """Each summary exported, to whom and why."""
    rows = list(session.scalars(select(Disclosure).where(Disclosure.case_id == case.id)))
    names = user_names(session, [r.user_id for r in rows])
    form = {"pdf": "PDF", "print": "print view"}
    return [
        TimelineEntry(
            row.at,
            "disclosure",
            f"Summary disclosed ({form.get(row.form, row.form)}) to {row.recipient}",
            row.purpose
            + (
                f" Labels included: {', '.join(row.labels_included)}."
                if row.labels_included
                else ""
            ),
            "",
            names.get(row.user_id, ""),
        )
        for row in rows
    ]
