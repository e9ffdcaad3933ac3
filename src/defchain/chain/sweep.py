"""The sweep: notifications and escalations for every break in the chain.

Breaks are computed (``ledger.breaks_query``); the sweep only tells people. Each late
link escalates one step per ``escalate_every`` of its pace (the triage deadlines): step
0 at the due time to the first person on its chain, then the next. The chain is the
link's own owner, the owning agency's primary contact, its secondary contact, the team
lead(s), then the agency head; people missing from it are skipped. Every step sent is a
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
from defchain.db import cached_get
from defchain.intake import Report
from defchain.ledger import ChainAlert, ChainLink
from defchain.notify import notify_user
from defchain.triage import deadlines as dl
from defchain.triage import service as triage

SWEEPER = Actor.system("sweep")
MAX_BREAKS = 5000
ROLE_LABELS = {
    "owner": "assigned to you",
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


def escalation_chain(session: Session, link: ChainLink) -> list[tuple[str, list[User]]]:
    """Who hears about this late link, step by step (empty steps left out)."""
    steps: list[tuple[str, list[User]]] = []
    seen: set[int] = set()

    def add(role: str, users: list[User | None]) -> None:
        fresh = [u for u in users if u is not None and not u.disabled and u.id not in seen]
        if fresh:
            seen.update(u.id for u in fresh)
            steps.append((role, fresh))

    def user(user_id: int | None) -> User | None:
        return cached_get(session, User, user_id) if user_id else None

    agency = cached_get(session, Agency, link.agency_id) if link.agency_id else None
    add("owner", [user(link.owner_user_id)])
    if agency is not None:
        add("primary", [user(agency.primary_contact_id)])
        add("secondary", [user(agency.secondary_contact_id)])
    add("team_lead", list(triage.team_leads(session, link.team_id)))
    if agency is not None:
        add("head", [user(agency.head_user_id)])
        if not steps:  # nobody named: the agency's administrators must hear of it
            admins = session.scalars(
                select(User).where(User.agency_id == agency.id, User.disabled.is_(False))
            ).all()
            add("admin", [u for u in admins if Role.ADMIN.value in (u.roles or [])])
    return steps


def _subject_line(link: ChainLink, role: str, step: int) -> str:
    what = ledger.LINK_LABELS.get(link.link, link.link)
    if link.ref.startswith("handoff:"):
        what = f"{what} (hand-off)"
    where = f"{link.subject_type} #{link.subject_id}"
    prefix = "Late" if step == 0 else f"Escalation {step}"
    return f"{prefix}: {what} for {where} is overdue ({ROLE_LABELS.get(role, role)})"


def _link_path(link: ChainLink) -> str:
    return f"/reports/{link.subject_id}" if link.subject_type == "report" else "/chain/breaks"


def sweep(session: Session, *, now: datetime) -> SweepResult:
    """Send every escalation step that is due and not yet sent (idempotent)."""
    audit.lock_chain(session)
    breaks: list[ChainLink] = list(session.scalars(ledger.breaks_query(now).limit(MAX_BREAKS)))
    sent = ledger.alerts_sent(session, [row.id for row in breaks])
    alerts = notified = 0
    entries: list[audit.Entry] = []
    for link in breaks:
        assert link.due_at is not None
        every = pace_deadlines(session, link).escalate_every
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
            for user in users:
                notify_user(
                    session,
                    user_id=user.id,
                    tag="chain:break",
                    subject=_subject_line(link, role, step),
                    link=_link_path(link),
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
