"""Staff pages for triage: the report page's triage panel and its actions, the triage
queue (clusters collapsed to one row), a cluster's page, hand-offs waiting for an agency,
the chain's breaks, and a jurisdiction's deadlines."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from defchain import ledger
from defchain.access import (
    Actor,
    Agency,
    Jurisdiction,
    Permission,
    Team,
    User,
    can,
    load_for,
    require,
    visible,
)
from defchain.access import queries as access_queries
from defchain.cases import Case, CaseTask, CheckIn
from defchain.cases.models import CarePlanItem
from defchain.chain.sweep import ROLE_LABELS as ESCALATION_ROLES
from defchain.errors import DomainError, NotFound
from defchain.firearms import ErpoOrder, FollowUp
from defchain.intake import KIND_LABELS, Report
from defchain.intake.rules import Status
from defchain.ledger import ChainAlert, ChainLink
from defchain.triage import deadlines as dl
from defchain.triage import service as triage
from defchain.triage.models import Cluster, ClusterMember, DeadlineOverride, TriageSuggestion
from defchain.triage.rules import queue_rank
from defchain.web import report_forms as rf
from defchain.web.deps import Ctx, CurrentActor, Db, SubmittedForm, mark_rollback
from defchain.web.forms import domain_error_fields
from defchain.web.templating import render

router = APIRouter()
P = Permission
PRIORITIES = ("P1", "P2", "P3", "P4")
QUEUE_CAP = 200  # rows shown on /triage (a cluster is one row)
QUEUE_SCAN = 5000  # reports read to build those rows
BREAKS_CAP = 500
MAX_TEXT = 2000
# How each form field is named in error messages.
FIELD_NAMES = {
    "priority": "Priority",
    "reason": "Reason",
    "kind": "Kind of hand-off",
    "to_agency_id": "Agency",
    "to_team_id": "Team",
    "acknowledged": "Acknowledge",
    "handoff": "Hand-off",
    "cluster": "Cluster",
    "deadlines": "Deadlines",
    "form": "Form",
}
JOINED = {
    "first": "The first report of the cluster",
    "person": "Same person as",
    "place": "Same place, at about the same time, as",
    "text": "Similar words to",
}


def _text(form: FormData, name: str, limit: int = MAX_TEXT) -> str:
    raw = form.get(name)
    return raw[:limit] if isinstance(raw, str) else ""


def _int_or_none(raw: str) -> int | None:
    return int(raw) if raw.strip().isdigit() else None


def _zone(db: Session, actor: Actor) -> ZoneInfo:
    agency = db.get(Agency, actor.agency_id) if actor.agency_id else None
    return rf.zone(agency.jurisdiction.timezone if agency else None)


def _names(
    db: Session, model: Any, ids: Iterable[int | None], attr: str = "name"
) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = db.scalars(select(model).where(model.id.in_(wanted)))
    return {row.id: str(getattr(row, attr)) for row in rows}


def _error_status(exc: DomainError) -> int:
    return exc.status_code if 400 <= exc.status_code < 500 else 422


def how_late(delta: timedelta) -> str:
    """``2 h 10 min late``; days when it is more than a day."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    if minutes == 0:
        return "less than a minute late"
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{n} {unit}" for n, unit in ((days, "d"), (hours, "h"), (mins, "min")) if n]
    return " ".join(parts) + " late"


def suggestion_summary(suggestion: TriageSuggestion | None) -> str:
    """What the rules suggest, in words: "P2 urgent", "Needs a person (at least P3 …)"."""
    if suggestion is None:
        return "Not triaged yet"
    if suggestion.needs_person:
        if suggestion.priority is None:
            return "Needs a person"
        return f"Needs a person (at least {triage.priority_label(suggestion.priority)})"
    return triage.priority_label(suggestion.priority)


def safe_next(raw: str, default: str) -> str:
    """A local path to go back to; anything else (another site) goes to ``default``."""
    if raw.startswith("/") and not raw.startswith("//") and "\\" not in raw and "\n" not in raw:
        return raw
    return default


# --- the report page's panel ---------------------------------------------------------------


@dataclass
class ChainRow:
    label: str
    due: str
    done: str
    late: bool


@dataclass
class HandoffRow:
    handoff: Any
    kind: str
    from_name: str
    to_name: str
    team_name: str
    when: str
    due: str
    late: bool
    acknowledged: str
    may_acknowledge: bool


@dataclass
class Panel:
    """Everything the report page shows about triage."""

    p1: bool
    p1_reasons: list[str]
    suggestion: TriageSuggestion | None
    summary: str
    route_agency: str
    decision: Any
    decided_by: str
    may_triage: bool
    may_acknowledge: bool
    chosen: str
    agency_options: list[tuple[int, str]]
    team_options: list[tuple[int, str]]
    handoffs: list[HandoffRow]
    chain: list[ChainRow]
    cluster: Cluster | None


def panel(db: Session, actor: Actor, report: Report, tz: ZoneInfo, now: datetime) -> Panel:
    """The triage panel of one report, for this actor."""

    def local(moment: datetime | None) -> str:
        return rf.local_time(moment, tz)

    suggestion = triage.latest_suggestion(db, report.id)
    decision = triage.latest_decision(db, report.id)
    may_triage = can(actor, P.TRIAGE_REPORT_DECIDE, report)
    reasons = [
        f["reason"] for f in (suggestion.fired if suggestion else []) if f["priority"] == "P1"
    ]
    if decision is not None and decision.priority == "P1" and decision.reason:
        reasons.append(f"Decided P1: {decision.reason}")
    ack = ledger.find(db, subject_type="report", subject_id=report.id, link="acknowledged")
    handoffs = triage.handoffs_for(db, report.id)
    agencies = _names(
        db, Agency, {h.from_agency_id for h in handoffs} | {h.to_agency_id for h in handoffs}
    )
    teams = _names(db, Team, {h.to_team_id for h in handoffs})
    users = _names(db, User, {h.acknowledged_by_user_id for h in handoffs}, "full_name")
    rows: list[HandoffRow] = []
    for h in handoffs:
        waiting = h.kind == "owner" and h.acknowledged_at is None
        acknowledged = ""
        if h.acknowledged_at is not None:
            who = users.get(h.acknowledged_by_user_id or 0, "someone")
            acknowledged = f"{local(h.acknowledged_at)} by {who}"
        rows.append(
            HandoffRow(
                handoff=h,
                kind="Hand-off (new owner)" if h.kind == "owner" else "Copy for information",
                from_name=agencies.get(h.from_agency_id, "?"),
                to_name=agencies.get(h.to_agency_id, "?"),
                team_name=teams.get(h.to_team_id or 0, ""),
                when=local(h.created_at),
                due=local(h.due_at) if h.kind == "owner" else "",
                late=waiting and h.due_at is not None and h.due_at < now,
                acknowledged=acknowledged,
                may_acknowledge=waiting
                and P.TRIAGE_REPORT_DECIDE in actor.permissions
                and (actor.is_admin or actor.agency_id == h.to_agency_id),
            )
        )
    chain = []
    for link in ledger.links_for(db, subject_type="report", subject_id=report.id):
        label = ledger.LINK_LABELS.get(link.link, link.link)
        if link.ref.startswith("handoff:"):
            label += f" (hand-off #{link.ref.removeprefix('handoff:')})"
        done = ""
        if link.done_at is not None:
            done = f"{local(link.done_at)} by {link.done_by or 'the system'}"
            if link.note:
                done += f": {link.note}"
        chain.append(
            ChainRow(
                label=label, due=local(link.due_at), done=done, late=ledger.is_break(link, now)
            )
        )
    member = db.get(ClusterMember, report.id)
    decider = db.get(User, decision.decided_by_user_id) if decision else None
    return Panel(
        # A closed report keeps its priority but no longer calls for a dispatch.
        p1=report.priority == "P1" and report.status != Status.CLOSED,
        p1_reasons=reasons,
        suggestion=suggestion,
        summary=suggestion_summary(suggestion),
        route_agency=(
            _names(db, Agency, {suggestion.route_agency_id}).get(
                suggestion.route_agency_id or 0, ""
            )
            if suggestion
            else ""
        ),
        decision=decision,
        decided_by=decider.full_name if decider else "",
        may_triage=may_triage,
        may_acknowledge=may_triage and ack is not None and ack.done_at is None,
        chosen=(decision.priority if decision else suggestion.priority if suggestion else None)
        or "",
        agency_options=_agency_options(db, exclude=report.agency_id),
        team_options=_team_options(db, report.jurisdiction_id),
        handoffs=rows,
        chain=chain,
        cluster=db.get(Cluster, member.cluster_id) if member else None,
    )


def _agency_options(db: Session, *, exclude: int | None) -> list[tuple[int, str]]:
    rows = db.scalars(select(Agency).where(Agency.active.is_(True)).order_by(Agency.name))
    return [(a.id, a.name) for a in rows if a.id != exclude]


def _team_options(db: Session, jurisdiction_id: int | None) -> list[tuple[int, str]]:
    query = select(Team).order_by(Team.name)
    if jurisdiction_id is not None:
        query = query.where(Team.jurisdiction_id == jurisdiction_id)
    return [(t.id, t.name) for t in db.scalars(query)]


def _report_again(
    request: Request,
    db: Session,
    actor: Actor,
    report: Report,
    errors: dict[str, str],
    values: dict[str, str],
    status: int = 422,
) -> Response:
    """The report page again with the triage form's errors; nothing is stored."""
    from defchain.web.routes import reports as report_pages  # it imports this module

    mark_rollback(request)
    response = report_pages._report_page(request, db, actor, report, errors, values)
    response.status_code = status
    return response


@router.post("/reports/{report_id}/triage")
def decide(
    request: Request,
    db: Db,
    ctx: Ctx,
    actor: CurrentActor,
    report_id: int,
    submitted: SubmittedForm,
) -> Response:
    """Accept the suggested priority or override it (an override needs a reason)."""
    report = load_for(db, actor, "report", report_id, P.TRIAGE_REPORT_DECIDE)
    priority = _text(submitted, "priority", 5)
    reason = _text(submitted, "reason")
    values = {"priority": priority, "reason": reason, "form": "triage"}
    try:
        triage.decide(
            db, actor=actor, report=report, priority=priority, reason=reason, now=ctx.clock.now()
        )
    except DomainError as exc:
        return _report_again(
            request, db, actor, report, domain_error_fields(exc), values, _error_status(exc)
        )
    return RedirectResponse(f"/reports/{report.id}#triage", status_code=303)


@router.post("/reports/{report_id}/acknowledge")
def acknowledge(
    request: Request, db: Db, ctx: Ctx, actor: CurrentActor, report_id: int
) -> Response:
    """Someone of the owning agency has the report in hand."""
    report = load_for(db, actor, "report", report_id, P.TRIAGE_REPORT_DECIDE)
    try:
        triage.acknowledge(db, actor=actor, report=report, now=ctx.clock.now())
    except DomainError as exc:
        return _report_again(
            request, db, actor, report, domain_error_fields(exc), {}, _error_status(exc)
        )
    return RedirectResponse(f"/reports/{report.id}#triage", status_code=303)


@router.post("/reports/{report_id}/handoff")
def hand_off(
    request: Request,
    db: Db,
    ctx: Ctx,
    actor: CurrentActor,
    report_id: int,
    submitted: SubmittedForm,
) -> Response:
    """Hand the report to another agency, or copy it to one for information."""
    report = load_for(db, actor, "report", report_id, P.TRIAGE_REPORT_DECIDE)
    values = {
        "kind": _text(submitted, "kind", 10),
        "to_agency_id": _text(submitted, "to_agency_id", 12),
        "to_team_id": _text(submitted, "to_team_id", 12),
        "handoff_reason": _text(submitted, "handoff_reason"),
        "form": "handoff",
    }
    errors: dict[str, str] = {}
    agency_id = _int_or_none(values["to_agency_id"])
    if agency_id is None:
        errors["to_agency_id"] = "choose the agency."
    if values["kind"] not in ("owner", "info"):
        errors["kind"] = "choose a hand-off or a copy for information."
    if errors:
        return _report_again(request, db, actor, report, errors, values)
    assert agency_id is not None
    try:
        triage.hand_off(
            db,
            actor=actor,
            report=report,
            to_agency_id=agency_id,
            to_team_id=_int_or_none(values["to_team_id"]),
            kind=values["kind"],
            reason=values["handoff_reason"],
            now=ctx.clock.now(),
        )
    except DomainError as exc:
        errors = domain_error_fields(exc)
        if "reason" in errors:  # the hand-off form's own reason box
            errors["handoff_reason"] = errors.pop("reason")
        return _report_again(request, db, actor, report, errors, values, _error_status(exc))
    # The sending agency keeps read access (a grant): the report page still shows.
    return RedirectResponse(f"/reports/{report.id}#handoffs", status_code=303)


# --- the triage queue ------------------------------------------------------------------


@dataclass
class QueueRow:
    rank: int
    priority: str
    received_at: datetime
    ack_due: datetime | None
    report_id: int | None = None
    kind: str = ""
    cluster: Cluster | None = None
    waiting: int = 1
    kinds: set[str] = field(default_factory=set)

    def key(self) -> tuple[int, datetime]:
        return (self.rank, self.received_at)

    def noun(self) -> str:
        return "tips" if self.kinds == {"tip"} else "reports"

    def label(self) -> str:
        if self.rank != 1:
            return triage.priority_label(self.priority)
        if not self.priority:
            return "Needs a person"
        return f"Needs a person (at least {triage.priority_label(self.priority)})"


def _latest_suggestions() -> Any:
    return (
        select(TriageSuggestion.report_id, func.max(TriageSuggestion.id).label("id"))
        .group_by(TriageSuggestion.report_id)
        .subquery()
    )


def queue_rows(db: Session, actor: Actor) -> tuple[list[QueueRow], int]:
    """The reports waiting for a person's triage, clusters collapsed; (rows, total rows)."""
    latest = _latest_suggestions()
    ack = ChainLink
    query = (
        select(
            Report.id,
            Report.kind,
            Report.received_at,
            Report.priority,
            TriageSuggestion.needs_person,
            ClusterMember.cluster_id,
            ack.due_at,
            ack.done_at,
        )
        .outerjoin(latest, latest.c.report_id == Report.id)
        .outerjoin(TriageSuggestion, TriageSuggestion.id == latest.c.id)
        .outerjoin(ClusterMember, ClusterMember.report_id == Report.id)
        .outerjoin(
            ack,
            and_(
                ack.subject_type == "report",
                ack.subject_id == Report.id,
                ack.link == "acknowledged",
                ack.ref == "",
            ),
        )
        .where(
            visible(actor, P.INTAKE_REPORT_READ),
            Report.triage_state == "suggested",
            Report.status != Status.CLOSED,  # closed with a disposition: nothing to triage
        )
        .order_by(Report.received_at, Report.id)
        .limit(QUEUE_SCAN)
    )
    singles: list[QueueRow] = []
    clusters: dict[int, QueueRow] = {}
    for rid, kind, received, priority, needs_person, cluster_id, due, done in db.execute(query):
        rank = queue_rank(priority, bool(needs_person))
        ack_due = due if done is None else None
        if cluster_id is None:
            singles.append(QueueRow(rank, priority or "", received, ack_due, rid, kind))
            continue
        row = clusters.get(cluster_id)
        if row is None:
            clusters[cluster_id] = QueueRow(rank, priority or "", received, ack_due, kinds={kind})
            continue
        row.waiting += 1
        row.kinds.add(kind)
        if rank < row.rank:
            row.rank, row.priority = rank, priority or ""
        row.received_at = min(row.received_at, received)
        if ack_due is not None and (row.ack_due is None or ack_due < row.ack_due):
            row.ack_due = ack_due
    for cluster in db.scalars(select(Cluster).where(Cluster.id.in_(list(clusters)))):
        clusters[cluster.id].cluster = cluster
    rows = sorted([*singles, *clusters.values()], key=QueueRow.key)
    return rows[:QUEUE_CAP], len(rows)


@router.get("/triage")
def queue(request: Request, db: Db, ctx: Ctx, actor: CurrentActor) -> Response:
    """Reports waiting for a person's triage: P1 first, then needs-a-person, P2, P3, P4;
    oldest first within each."""
    require(actor, P.INTAKE_REPORT_READ)
    tz = _zone(db, actor)
    rows, total = queue_rows(db, actor)
    context = {
        "rows": rows,
        "total": total,
        "cap": QUEUE_CAP,
        "now": ctx.clock.now(),
        "local": lambda moment: rf.local_time(moment, tz),
        "KIND_LABELS": KIND_LABELS,
    }
    return render(request, "triage/queue.html", context)


# --- a cluster ---------------------------------------------------------------------------


def _cluster_page(
    request: Request,
    db: Session,
    actor: Actor,
    cluster_id: int,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    done: str = "",
    status: int = 200,
) -> Response:
    cluster, members, readable = _cluster_or_404(db, actor, cluster_id)
    if errors:
        mark_rollback(request)
    tz = _zone(db, actor)
    reports = {r.id: r for r in db.scalars(select(Report).where(Report.id.in_(readable)))}
    shown = [m for m in members if m.report_id in readable]
    context = {
        "cluster": cluster,
        "members": shown,
        "reports": reports,
        "readable": readable,
        "hidden": len(members) - len(shown),
        "JOINED": JOINED,
        "local": lambda moment: rf.local_time(moment, tz),
        "priority_label": triage.priority_label,
        "KIND_LABELS": KIND_LABELS,
        "FIELD_NAMES": FIELD_NAMES,
        "may_triage": P.TRIAGE_REPORT_DECIDE in actor.permissions,
        "agency_options": _agency_options(db, exclude=None),
        "team_options": _team_options(db, None),
        "priorities": PRIORITIES,
        "errors": errors or {},
        "values": values or {},
        "done": done,
    }
    return render(request, "triage/cluster.html", context, status_code=status)


def _cluster_or_404(
    db: Session, actor: Actor, cluster_id: int
) -> tuple[Cluster, list[ClusterMember], set[int]]:
    """The cluster, all its members, and the ids the actor may read (404 when none)."""
    require(actor, P.INTAKE_REPORT_READ)
    cluster = db.get(Cluster, cluster_id)
    if cluster is None:
        raise NotFound(f"No cluster with id {cluster_id}.")
    members = triage.cluster_members(db, cluster_id)
    ids = [m.report_id for m in members]
    readable = set(
        db.scalars(
            select(Report.id).where(Report.id.in_(ids), visible(actor, P.INTAKE_REPORT_READ))
        )
    )
    if not readable:
        raise NotFound(f"No cluster with id {cluster_id}.")
    return cluster, members, readable


@router.get("/triage/clusters/{cluster_id}")
def cluster_page(
    request: Request, db: Db, ctx: Ctx, actor: CurrentActor, cluster_id: int, done: str = ""
) -> Response:
    """A cluster's members and why each joined; triage or hand off all at once."""
    return _cluster_page(request, db, actor, cluster_id, done=done[:40])


@router.post("/triage/clusters/{cluster_id}/decide")
def decide_cluster(
    request: Request,
    db: Db,
    ctx: Ctx,
    actor: CurrentActor,
    cluster_id: int,
    submitted: SubmittedForm,
) -> Response:
    """One priority and one reason for every member still waiting for triage."""
    _cluster_or_404(db, actor, cluster_id)
    priority = _text(submitted, "priority", 5)
    reason = _text(submitted, "reason")
    values = {"priority": priority, "reason": reason, "form": "decide"}
    try:
        count = triage.decide_cluster(
            db,
            actor=actor,
            cluster_id=cluster_id,
            priority=priority,
            reason=reason,
            now=ctx.clock.now(),
        )
    except DomainError as exc:
        errors = domain_error_fields(exc)
        return _cluster_page(
            request, db, actor, cluster_id, errors=errors, values=values,
            status=_error_status(exc),
        )  # fmt: skip
    return RedirectResponse(f"/triage/clusters/{cluster_id}?done=decided-{count}", status_code=303)


@router.post("/triage/clusters/{cluster_id}/handoff")
def hand_off_cluster(
    request: Request,
    db: Db,
    ctx: Ctx,
    actor: CurrentActor,
    cluster_id: int,
    submitted: SubmittedForm,
) -> Response:
    """Hand every member the actor's agency owns to another agency."""
    _cluster_or_404(db, actor, cluster_id)
    values = {
        "to_agency_id": _text(submitted, "to_agency_id", 12),
        "to_team_id": _text(submitted, "to_team_id", 12),
        "handoff_reason": _text(submitted, "handoff_reason"),
        "form": "handoff",
    }
    agency_id = _int_or_none(values["to_agency_id"])
    if agency_id is None:
        errors = {"to_agency_id": "choose the agency."}
        return _cluster_page(
            request, db, actor, cluster_id, errors=errors, values=values, status=422
        )
    try:
        count = triage.hand_off_cluster(
            db,
            actor=actor,
            cluster_id=cluster_id,
            to_agency_id=agency_id,
            to_team_id=_int_or_none(values["to_team_id"]),
            reason=values["handoff_reason"],
            now=ctx.clock.now(),
        )
    except DomainError as exc:
        errors = domain_error_fields(exc)
        if "reason" in errors:
            errors["handoff_reason"] = errors.pop("reason")
        return _cluster_page(
            request, db, actor, cluster_id, errors=errors, values=values,
            status=_error_status(exc),
        )  # fmt: skip
    # The sending agency keeps read access (a grant): the cluster page still shows.
    return RedirectResponse(f"/triage/clusters/{cluster_id}?done=handed-{count}", status_code=303)


# --- hand-offs waiting for the actor's agency ----------------------------------------------


@router.get("/handoffs")
def handoffs(request: Request, db: Db, ctx: Ctx, actor: CurrentActor) -> Response:
    """Reports handed to the actor's agency and not yet acknowledged (all, for admins)."""
    require(actor, P.TRIAGE_REPORT_DECIDE)
    rows = triage.open_handoffs(db, agency_id=None if actor.is_admin else actor.agency_id)
    tz = _zone(db, actor)
    agencies = _names(db, Agency, {h.from_agency_id for h in rows} | {h.to_agency_id for h in rows})
    context = {
        "rows": rows,
        "agencies": agencies,
        "teams": _names(db, Team, {h.to_team_id for h in rows}),
        "now": ctx.clock.now(),
        "local": lambda moment: rf.local_time(moment, tz),
        "everyone": actor.is_admin,
    }
    return render(request, "triage/handoffs.html", context)


@router.post("/handoffs/{handoff_id}/acknowledge")
def acknowledge_handoff(
    db: Db, ctx: Ctx, actor: CurrentActor, handoff_id: int, submitted: SubmittedForm
) -> Response:
    """The receiving agency takes the report on; back to where the button was."""
    triage.acknowledge_handoff(db, actor=actor, handoff_id=handoff_id, now=ctx.clock.now())
    target = safe_next(_text(submitted, "next", 300), "/handoffs")
    return RedirectResponse(target, status_code=303)


# --- the chain's breaks ----------------------------------------------------------------------


# Late links whose record is a case's (tasks, check-ins, ERPO stages) or a report's.
CASE_LINKS = ("task", "checkin", "erpo", "care")
REPORT_LINKS = ("report", "followup")
BREAK_SUBJECT_LABELS = {
    "task": "Task",
    "checkin": "Check-in",
    "erpo": "ERPO",
    "care": "Care-plan review",
}


@router.get("/chain/breaks")
def breaks(request: Request, db: Db, ctx: Ctx, actor: CurrentActor) -> Response:
    """Every late link the actor may see, most overdue first, with the escalations sent."""
    require(actor, P.CHAIN_BREAK_READ)
    now = ctx.clock.now()
    # A late task, check-in, ERPO stage or care-plan review belongs to its case: whoever
    # may read the case sees it. A late step of a firearm follow-up belongs to its report.
    task = and_(ChainLink.subject_type == "task", CaseTask.id == ChainLink.subject_id)
    checkin = and_(ChainLink.subject_type == "checkin", CheckIn.id == ChainLink.subject_id)
    order = and_(ChainLink.subject_type == "erpo", ErpoOrder.id == ChainLink.subject_id)
    care = and_(ChainLink.subject_type == "care", CarePlanItem.id == ChainLink.subject_id)
    followup = and_(ChainLink.subject_type == "followup", FollowUp.id == ChainLink.subject_id)
    case_work = ChainLink.subject_type.in_(CASE_LINKS)
    of_report = ChainLink.subject_type.in_(REPORT_LINKS)
    known = (*CASE_LINKS, *REPORT_LINKS)
    others = ChainLink.subject_type.not_in(known) if actor.is_admin else false()
    query = (
        ledger.breaks_query(now)
        .outerjoin(FollowUp, followup)
        .outerjoin(
            Report,
            or_(
                and_(ChainLink.subject_type == "report", Report.id == ChainLink.subject_id),
                and_(ChainLink.subject_type == "followup", Report.id == FollowUp.report_id),
            ),
        )
        .outerjoin(CaseTask, task)
        .outerjoin(CheckIn, checkin)
        .outerjoin(ErpoOrder, order)
        .outerjoin(CarePlanItem, care)
        .outerjoin(
            Case,
            Case.id
            == func.coalesce(
                CaseTask.case_id, CheckIn.case_id, ErpoOrder.case_id, CarePlanItem.case_id
            ),
        )
        .where(
            or_(
                and_(of_report, Report.id.is_not(None), visible(actor, P.INTAKE_REPORT_READ)),
                and_(case_work, Case.id.is_not(None), visible(actor, P.CASES_CASE_READ)),
                others,
            )
        )
        .limit(BREAKS_CAP + 1)
    )
    rows = list(db.scalars(query))
    capped = len(rows) > BREAKS_CAP
    rows = rows[:BREAKS_CAP]
    alerts: dict[int, list[ChainAlert]] = {row.id: [] for row in rows}
    if rows:
        for alert in db.scalars(
            select(ChainAlert)
            .where(ChainAlert.link_id.in_(list(alerts)))
            .order_by(ChainAlert.link_id, ChainAlert.step)
        ):
            alerts[alert.link_id].append(alert)
    tz = _zone(db, actor)
    context = {
        "rows": rows,
        "case_of": _cases_of_links(db, rows),
        "capped": capped,
        "cap": BREAKS_CAP,
        "alerts": alerts,
        "agencies": _names(db, Agency, {r.agency_id for r in rows}),
        "late": {r.id: how_late(now - r.due_at) for r in rows if r.due_at is not None},
        "local": lambda moment: rf.local_time(moment, tz),
        "LINK_LABELS": ledger.LINK_LABELS,
        "SUBJECT_LABELS": BREAK_SUBJECT_LABELS,
        "ROLES": ESCALATION_ROLES,
    }
    return render(request, "triage/breaks.html", context)


def _cases_of_links(db: Session, rows: list[ChainLink]) -> dict[int, int]:
    """Link id -> the case a late task, check-in or ERPO stage belongs to."""
    out: dict[int, int] = {}
    models: tuple[tuple[str, Any], ...] = (
        ("task", CaseTask),
        ("checkin", CheckIn),
        ("erpo", ErpoOrder),
        ("care", CarePlanItem),
    )
    for subject_type, model in models:
        ids = {r.subject_id: r.id for r in rows if r.subject_type == subject_type}
        if ids:
            for item_id, case_id in db.execute(
                select(model.id, model.case_id).where(model.id.in_(list(ids)))
            ):
                out[ids[item_id]] = case_id
    return out


# --- a jurisdiction's deadlines ----------------------------------------------------------------


def overrides_to_lines(raw: dict[str, Any] | None) -> str:
    """``{"P2": {"assessed": "12h"}}`` as the lines the form takes: ``P2.assessed = 12h``."""
    lines: list[str] = []
    for row, entry in (raw or {}).items():
        if isinstance(entry, dict):
            lines.extend(f"{row}.{name} = {value}" for name, value in entry.items())
    return "\n".join(lines)


def lines_to_overrides(text: str) -> dict[str, dict[str, str]]:
    """The form's lines back to a mapping; a line that is not ``row.field = duration``
    raises ``ValueError`` naming the line."""
    result: dict[str, dict[str, str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        key, sep, value = line.partition("=")
        row, dot, name = key.strip().partition(".")
        if not sep or not dot or not row or not name.strip() or not value.strip():
            raise ValueError(f"line {number}: write one deadline a line, like P2.assessed = 12h")
        result.setdefault(row.strip(), {})[name.strip()] = value.strip()
    return result


def _deadlines_page(
    request: Request,
    db: Session,
    actor: Actor,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    saved: int | None = None,
    status: int = 200,
) -> Response:
    if errors:
        mark_rollback(request)
    defaults = dl.load_defaults()
    names = [*dl.LINKS[1:], *dl.TIMERS]
    table = [
        (
            name,
            [
                dl.format_duration(
                    defaults[row].links[name] if name in dl.LINKS else getattr(defaults[row], name)
                )
                if name not in dl.LINKS or name in defaults[row].links
                else "—"
                for row in dl.ROWS
            ],
        )
        for name in names
    ]
    jurisdictions = list(access_queries.jurisdictions(db, actor))
    stored = {row.jurisdiction_id: row.overrides for row in db.scalars(select(DeadlineOverride))}
    context = {
        "rows": dl.ROWS,
        "table": table,
        "link_labels": {**ledger.LINK_LABELS, "handoff_ack": "Hand-off acknowledged",
                        "escalate_every": "Escalate every"},
        "jurisdictions": [
            (j, (values or {}).get(str(j.id), overrides_to_lines(stored.get(j.id))))
            for j in jurisdictions
        ],
        "errors": errors or {},
        "saved": saved,
    }  # fmt: skip
    return render(request, "triage/deadlines.html", context, status_code=status)


@router.get("/admin/deadlines")
def deadlines(request: Request, db: Db, actor: CurrentActor, saved: int | None = None) -> Response:
    """The default deadlines and each jurisdiction's own."""
    require(actor, P.TRIAGE_ROUTING_MANAGE)
    return _deadlines_page(request, db, actor, saved=saved)


@router.post("/admin/deadlines")
def save_deadlines(
    request: Request, db: Db, ctx: Ctx, actor: CurrentActor, submitted: SubmittedForm
) -> Response:
    """One jurisdiction's overrides, one ``P2.assessed = 12h`` a line."""
    require(actor, P.TRIAGE_ROUTING_MANAGE)
    raw_id = _text(submitted, "jurisdiction_id", 12)
    text = _text(submitted, "overrides", 5000)
    jurisdiction = db.get(Jurisdiction, int(raw_id)) if raw_id.isdigit() else None
    if jurisdiction is None:
        raise NotFound(f"No jurisdiction with id {raw_id or '(none)'}.")
    key = str(jurisdiction.id)
    try:
        parsed = lines_to_overrides(text)
        triage.set_overrides(
            db, actor=actor, jurisdiction_id=jurisdiction.id, raw=parsed, now=ctx.clock.now()
        )
    except (ValueError, DomainError) as exc:
        message = exc.message if isinstance(exc, DomainError) else str(exc)
        message = message.removeprefix("deadlines.").removeprefix("deadlines: ")
        return _deadlines_page(
            request, db, actor, errors={key: message}, values={key: text}, status=422
        )
    return RedirectResponse(f"/admin/deadlines?saved={jurisdiction.id}", status_code=303)
