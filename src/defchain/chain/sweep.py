"""The sweep: notifications and escalations for every break in the chain.

Breaks are computed (``ledger.breaks_query``); the sweep only tells people. Each late
link escalates one step per ``escalate_every`` of its pace (the triage deadlines): step
0 at the due time to the first person on its chain, then the next. The chain is the
link's own owner, the owning agency's primary contact, its secondary contact, the team
lead(s), then the agency head; people missing from it are skipped. A case's task,
check-in or care-plan review escalates every ``CASE_WORK_ESCALATE_EVERY`` along its own
chain: its owner, the case's lead, the team's leads (the agency's administrators when
the case has no team lead). Every step sent is a
``ChainAlert`` row (unique per link and step) and an audit event, so running the sweep
twice sends nothing twice. It takes the audit chain's lock first, so two sweeps (two
workers, or the command line beside the server) run one after the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from defchain import audit, ledger
from defchain.access import Actor, Agency, Role, User
from defchain.cases import TASK_KIND_LABELS, Case, CaseTask, CheckIn, TaskKind
from defchain.cases.care import CARE_SUBJECT
from defchain.cases.lifecycle import CHECKIN_SUBJECT
from defchain.cases.models import CarePlanItem
from defchain.cases.service import TASK_SUBJECT
from defchain.db import cached_get
from defchain.firearms import ErpoOrder, remind_expiring
from defchain.intake import Report
from defchain.ledger import ChainAlert, ChainLink
from defchain.notify import notify_user
from defchain.triage import deadlines as dl
from defchain.triage import service as triage

SWEEPER = Actor.system("sweep")
MAX_BREAKS = 5000
# A late task or check-in climbs one step a day: case work is planned in days, not
# minutes, and a lead needs a working day to chase the owner before the team lead hears.
CASE_WORK_ESCALATE_EVERY = timedelta(hours=24)
CASE_WORK = frozenset({TASK_SUBJECT, CHECKIN_SUBJECT, CARE_SUBJECT})
ROLE_LABELS = {
    "owner": "assigned to you",
    "case_lead": "case lead",
    "primary": "primary contact",
    "secondary": "secondary contact",
    "team_lead": "team lead",
    "head": "agency head",
    "admin": "agency administrator",
}


@dataclass(frozen=True)
class SweepResult:
    breaks: int
    alerts: int
    notified: int


def pace_deadlines(session: Session, link: ChainLink) -> dl.Deadlines:
    """The deadline row whose ``escalate_every`` paces this link ("P2", "P2+" for P2
    that still needs a person, "needs_person")."""
    pace = link.pace or dl.NEEDS_PERSON
    needs_person = pace.endswith("+") or pace == dl.NEEDS_PERSON
    priority = None if pace == dl.NEEDS_PERSON else pace.rstrip("+")
    overrides: dict[str, dict[str, timedelta]] = {}
    if link.subject_type == triage.SUBJECT:
        report = cached_get(session, Report, link.subject_id)
        if report is not None:
            overrides = triage.overrides_for(session, report.jurisdiction_id)
    try:
        return dl.deadlines_for(priority, needs_person=needs_person, overrides=overrides)
    except KeyError:
        return dl.deadlines_for(None, needs_person=True, overrides=overrides)


def escalate_every(session: Session, link: ChainLink) -> timedelta:
    """How long a late link waits before the next person on its chain hears of it."""
    if link.subject_type in CASE_WORK:
        return CASE_WORK_ESCALATE_EVERY
    return pace_deadlines(session, link).escalate_every


def case_of(session: Session, link: ChainLink) -> Case | None:
    """The case a task's, check-in's or care-plan review's link belongs to (``None``
    for other links)."""
    work: CaseTask | CheckIn | CarePlanItem | None = None
    if link.subject_type == TASK_SUBJECT:
        work = cached_get(session, CaseTask, link.subject_id)
    elif link.subject_type == CHECKIN_SUBJECT:
        work = cached_get(session, CheckIn, link.subject_id)
    elif link.subject_type == CARE_SUBJECT:
        work = cached_get(session, CarePlanItem, link.subject_id)
    return cached_get(session, Case, work.case_id) if work is not None else None


class _Steps:
    """An escalation chain being built: each person appears once, at their first step."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.steps: list[tuple[str, list[User]]] = []
        self.seen: set[int] = set()

    def user(self, user_id: int | None) -> User | None:
        return cached_get(self.session, User, user_id) if user_id else None

    def add(self, role: str, users: list[User | None]) -> None:
        fresh = [u for u in users if u is not None and not u.disabled and u.id not in self.seen]
        if fresh:
            self.seen.update(u.id for u in fresh)
            self.steps.append((role, fresh))

    def add_admins(self, agency_id: int) -> None:
        admins = self.session.scalars(
            select(User).where(User.agency_id == agency_id, User.disabled.is_(False))
        ).all()
        self.add("admin", [u for u in admins if Role.ADMIN.value in (u.roles or [])])


def escalation_chain(session: Session, link: ChainLink) -> list[tuple[str, list[User]]]:
    """Who hears about this late link, step by step (empty steps left out)."""
    if link.subject_type in CASE_WORK:
        return _case_work_chain(session, link)
    chain = _Steps(session)
    agency = cached_get(session, Agency, link.agency_id) if link.agency_id else None
    chain.add("owner", [chain.user(link.owner_user_id)])
    if agency is not None:
        chain.add("primary", [chain.user(agency.primary_contact_id)])
        chain.add("secondary", [chain.user(agency.secondary_contact_id)])
    chain.add("team_lead", list(triage.team_leads(session, link.team_id)))
    if agency is not None:
        chain.add("head", [chain.user(agency.head_user_id)])
        if not chain.steps:  # nobody named: the agency's administrators must hear of it
            chain.add_admins(agency.id)
    return chain.steps


def _case_work_chain(session: Session, link: ChainLink) -> list[tuple[str, list[User]]]:
    """A late task or check-in: its owner, the case's lead, the team's leads; the
    agency's administrators when the case has no team lead to go to."""
    chain = _Steps(session)
    case = case_of(session, link)
    chain.add("owner", [chain.user(link.owner_user_id)])
    if case is not None:
        chain.add("case_lead", [chain.user(case.lead_user_id)])
    leads = list(triage.team_leads(session, link.team_id))
    chain.add("team_lead", list(leads))
    agency_id = case.agency_id if case is not None else link.agency_id
    if not leads and agency_id is not None:
        chain.add_admins(agency_id)
    return chain.steps


@dataclass(frozen=True)
class _Message:
    subject: str  # also the e-mail: no case details
    body: str  # shown in the app only
    path: str


def _message(session: Session, link: ChainLink, role: str, step: int) -> _Message:
    prefix = "Late" if step == 0 else f"Escalation {step}"
    told = ROLE_LABELS.get(role, role)
    case = case_of(session, link)
    if case is not None:
        return _case_work_message(session, link, case, f"{prefix}:", told)
    what = ledger.LINK_LABELS.get(link.link, link.link)
    if link.ref.startswith("handoff:"):
        what = f"{what} (hand-off)"
    where, path = _where(session, link)
    return _Message(f"{prefix}: {what} for {where} is overdue ({told})", "", path)


def _where(session: Session, link: ChainLink) -> tuple[str, str]:
    """How a late link's record is named in the message, and the page that shows it."""
    if link.subject_type == "report":
        return f"report #{link.subject_id}", f"/reports/{link.subject_id}"
    if link.subject_type == "followup":
        return f"firearm follow-up #{link.subject_id}", f"/firearms/followups/{link.subject_id}"
    if link.subject_type == "erpo":
        order = cached_get(session, ErpoOrder, link.subject_id)
        if order is not None:
            return f"ERPO #{order.id} on case #{order.case_id}", f"/cases/{order.case_id}#erpo"
    return f"{link.subject_type} #{link.subject_id}", "/chain/breaks"


def _case_work_message(
    session: Session, link: ChainLink, case: Case, prefix: str, told: str
) -> _Message:
    """Names the task by its number and kind in the subject (which is e-mailed) and by
    its title in the body (shown only in the app)."""
    path = f"/cases/{case.id}"
    assert link.due_at is not None
    due = link.due_at.strftime("%Y-%m-%d %H:%M UTC")
    task = (
        cached_get(session, CaseTask, link.subject_id)
        if link.subject_type == TASK_SUBJECT
        else None
    )
    if task is not None:
        kind = TASK_KIND_LABELS.get(TaskKind(task.kind), task.kind)
        subject = f"{prefix} task #{task.id} ({kind}) on case #{case.id} is overdue ({told})"
        return _Message(subject, f'Task "{task.title}" was due {due}.', path)
    if link.subject_type == CARE_SUBJECT:
        item = cached_get(session, CarePlanItem, link.subject_id)
        title = item.title if item is not None else ""
        subject = (
            f"{prefix} care-plan review #{link.subject_id} on case #{case.id} is overdue ({told})"
        )
        return _Message(subject, f'The review of "{title}" was due {due}.', path)
    subject = f"{prefix} check-in #{link.subject_id} on case #{case.id} was missed ({told})"
    return _Message(subject, f"The monitoring check-in was due {due}.", path)


def sweep(session: Session, *, now: datetime) -> SweepResult:
    """Send every escalation step that is due and not yet sent (idempotent)."""
    audit.lock_chain(session)
    remind_expiring(session, now)  # ERPOs expiring within 30 days: once each
    breaks: list[ChainLink] = list(session.scalars(ledger.breaks_query(now).limit(MAX_BREAKS)))
    sent = ledger.alerts_sent(session, [row.id for row in breaks])
    alerts = notified = 0
    entries: list[audit.Entry] = []
    for link in breaks:
        assert link.due_at is not None
        every = escalate_every(session, link)
        chain = escalation_chain(session, link)
        if not chain:
            continue
        overdue = now - link.due_at
        due_step = min(int(overdue / every), len(chain) - 1)
        for step in range(due_step + 1):
            if step in sent[link.id]:
                continue
            role, users = chain[step]
            session.add(
                ChainAlert(
                    link_id=link.id,
                    step=step,
                    recipient_user_id=users[0].id if len(users) == 1 else None,
                    role=role,
                    sent_at=now,
                )
            )
            urgent = link.pace.startswith("P1")
            message = _message(session, link, role, step)
            for user in users:
                notify_user(
                    session,
                    user_id=user.id,
                    tag="chain:break",
                    subject=message.subject,
                    body=message.body,
                    link=message.path,
                    now=now,
                    urgent=urgent,
                )
                notified += 1
            entries.append(
                audit.Entry(
                    actor_id=None,
                    actor_label=SWEEPER.label,
                    tag="chain:link:escalated",
                    subject_type=link.subject_type,
                    subject_id=link.subject_id,
                    changes={
                        "link": [None, link.link + (f" ({link.ref})" if link.ref else "")],
                        "step": [None, step],
                        "role": [None, role],
                        "users": [None, [u.id for u in users]],
                        "due_at": [None, link.due_at.isoformat()],
                    },
                    at=now,
                )
            )
            alerts += 1
    session.flush()
    if entries:
        audit.record_many(session, entries)
    return SweepResult(breaks=len(breaks), alerts=alerts, notified=notified)
