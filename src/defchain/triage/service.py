"""Triage after receipt: suggest a priority, route, hand off, record a person's decision.

``process_pending`` runs right after the commit that stored reports (the pipeline thread
in ``chain``): for each new report it links the subject to a person, evaluates the
priority rules, applies the routing rules, opens the report's chain links with the
deadlines of its priority, clusters near-duplicates, and alerts for P1 at once. A person
then accepts or overrides the suggestion (``decide``); an override needs a reason.

Every function takes the session keyword-only, flushes and never commits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session

from defchain import audit, ledger
from defchain.access import Actor, Agency, Grant, Permission, Team, User, require
from defchain.access import queries as access_queries
from defchain.access.policy import can
from defchain.db import cached_get, preassign_ids, transaction_cache
from defchain.errors import Conflict, NotFound, ValidationFailed
from defchain.intake import Report
from defchain.intake.rules import Status
from defchain.ledger import ChainLink
from defchain.notify import notify_user
from defchain.people import ReportLink, ReviewItem
from defchain.people import service as people
from defchain.triage import deadlines as dl
from defchain.triage import routing, surge
from defchain.triage.models import (
    Cluster,
    ClusterMember,
    DeadlineOverride,
    HandOff,
    TriageDecision,
    TriageSuggestion,
)
from defchain.triage.routing_service import rule_specs
from defchain.triage.rules import (
    PRIORITY_LABELS,
    PersonFacts,
    Priority,
    Suggestion,
    Tri,
    facts_of,
    suggest,
)

P = Permission
SUBJECT = "report"
CHAIN_LINKS = cast(Table, ChainLink.__table__)  # Core inserts of a round's new links
PIPELINE = Actor.system("triage")
MAX_REASON = 1000

# Links a person's triage decision completes (a P3 report is "reviewed" by it).
DECISION_LINKS = ("acknowledged", "triaged", "reviewed")

# --- what is known about the person: other domains add to it ---------------------------

PersonFactsProvider = Callable[[Session, int, datetime], Mapping[str, Any]]
_person_fact_providers: list[PersonFactsProvider] = []


def register_person_facts(provider: PersonFactsProvider) -> None:
    """Let a higher domain (cases, firearms) say more about a person at a moment: the
    provider returns PersonFacts fields, e.g. ``{"has_open_case": Tri.YES}``."""
    _person_fact_providers.append(provider)


# --- what follows a link: other domains listen (cases: the tripwire) ---------------------

LinkListener = Callable[[Session, Report, ReportLink, datetime], None]
_link_listeners: list[LinkListener] = []


def register_link_listener(listener: LinkListener) -> None:
    """Let a higher domain act on a report's link to a person, in the same transaction
    as the link and before the rules look again (so a case the tripwire re-opens counts
    as open)."""
    if listener not in _link_listeners:
        _link_listeners.append(listener)


def active_link(session: Session, report_id: int) -> ReportLink | None:
    return session.scalar(
        select(ReportLink)
        .where(ReportLink.report_id == report_id, ReportLink.undone_at.is_(None))
        .order_by(ReportLink.id.desc())
        .limit(1)
    )


def has_subject(report: Report) -> bool:
    """The report names or describes someone (intake stores every subject field, empty
    ones included)."""
    return any(value not in (None, "") for value in (report.subject or {}).values())


def _weapons_answer(details: Mapping[str, Any]) -> bool:
    keys = ("weapons", "weapons_seen", "weapons_access_reported")
    return any(details.get(key) == "yes" for key in keys)


def person_facts(session: Session, report: Report, now: datetime) -> PersonFacts | None:
    """What the registry knows about the report's person at ``now``; ``None`` when the
    report has no subject; ``linked=False`` while the link waits for review."""
    link = active_link(session, report.id)
    if link is None:
        return PersonFacts(linked=False) if has_subject(report) else None
    earlier = session.scalars(
        select(Report.details)
        .join(ReportLink, ReportLink.report_id == Report.id)
        .where(
            ReportLink.person_id == link.person_id,
            ReportLink.undone_at.is_(None),
            Report.id != report.id,
        )
    ).all()
    values: dict[str, Any] = {
        "linked": True,
        "prior_reports": len(earlier),
        "weapons_access": Tri.YES
        if any(_weapons_answer(d or {}) for d in earlier)
        else Tri.UNKNOWN,
    }
    for provider in _person_fact_providers:
        values.update(provider(session, link.person_id, now))
    return PersonFacts(**values)


def evaluate(session: Session, report: Report, now: datetime) -> Suggestion:
    """The rules' suggestion for this report, as things stand at ``now``."""
    facts = facts_of(
        report.kind,
        report.details or {},
        danger_now=report.danger_now,
        has_subject=has_subject(report),
        person=person_facts(session, report, now),
    )
    return suggest(facts)


# --- deadlines -------------------------------------------------------------------------


def overrides_for(session: Session, jurisdiction_id: int) -> dict[str, dict[str, timedelta]]:
    """A jurisdiction's own deadlines over the defaults (cached per transaction)."""
    cache = transaction_cache(session)
    key = ("deadline_overrides", jurisdiction_id)
    if key not in cache:
        row = session.get(DeadlineOverride, jurisdiction_id)
        cache[key] = dl.parse_overrides(row.overrides) if row and row.overrides else {}
    result: dict[str, dict[str, timedelta]] = cache[key]
    return result


def deadlines_of(
    session: Session, report: Report, priority: str | None, needs_person: bool
) -> dl.Deadlines:
    return dl.deadlines_for(
        priority,
        needs_person=needs_person,
        overrides=overrides_for(session, report.jurisdiction_id),
    )


def set_overrides(
    session: Session, *, actor: Actor, jurisdiction_id: int, raw: Mapping[str, Any], now: datetime
) -> DeadlineOverride:
    """An administrator sets a jurisdiction's deadlines (validated, audited)."""
    require(actor, P.TRIAGE_ROUTING_MANAGE)
    try:
        dl.parse_overrides(raw)
    except ValueError as error:
        field, _, message = str(error).partition(": ")
        raise ValidationFailed(
            f"deadlines.{field}: {message}" if message else str(error), field="deadlines"
        ) from None
    row = session.get(DeadlineOverride, jurisdiction_id)
    before = dict(row.overrides) if row else {}
    if row is None:
        row = DeadlineOverride(jurisdiction_id=jurisdiction_id, overrides={}, updated_at=now)
        session.add(row)
    row.overrides = dict(raw)
    row.updated_at = now
    row.updated_by_user_id = actor.audit_id
    session.flush()
    transaction_cache(session).pop(("deadline_overrides", jurisdiction_id), None)
    audit.record_by(
        session,
        actor,
        tag="triage:deadlines:changed",
        subject_type="jurisdiction",
        subject_id=jurisdiction_id,
        changes={"overrides": [before, dict(raw)]},
        at=now,
    )
    return row


def _schedule(
    session: Session,
    report: Report,
    deadlines: dl.Deadlines,
    pace: str,
    now: datetime,
    *,
    skip: Iterable[str] = (),
) -> None:
    """Open (or move) each link of the priority's deadlines, due from receipt."""
    skipped = set(skip)
    for name, after in deadlines.links.items():
        if name in skipped:
            continue
        ledger.open_link(
            session,
            subject_type=SUBJECT,
            subject_id=report.id,
            link=name,
            due_at=report.received_at + after,
            now=now,
            agency_id=report.agency_id,
            team_id=report.team_id,
            owner_user_id=report.owner_user_id,
            pace=pace,
        )


# --- the pipeline ----------------------------------------------------------------------


@dataclass(frozen=True)
class Processed:
    """What the pipeline did with one report (for the caller's after-commit work)."""

    report_id: int
    suggestion_id: int
    priority: str | None
    needs_person: bool
    notified: int


def pending(session: Session, limit: int) -> list[Report]:
    """The oldest reports still waiting for the pipeline; on PostgreSQL rows another
    worker holds are skipped."""
    query = select(Report).where(Report.processed_at.is_(None)).order_by(Report.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=Report, skip_locked=True)
    return list(session.scalars(query))


def process_pending(
    session: Session, *, now: datetime, limit: int = 100, link: bool = True
) -> list[Processed]:
    """Triage, route (and, with ``link``, link and cluster) up to ``limit`` waiting
    reports, oldest first; their audit events are appended with one insert at the end.

    The pipeline calls it with ``link=False`` first, so that a suggestion (and a P1
    alert) never waits for record linkage under a surge, then ``link_processed``."""
    reports = pending(session, limit)
    if not link:
        return suggest_batch(session, reports=reports, now=now)
    entries: list[audit.Entry] = []
    done = [
        process_report(session, report=report, now=now, entries=entries, link=link)
        for report in reports
    ]
    if entries:
        audit.record_many(session, entries)
    return done


def suggest_batch(session: Session, *, reports: Sequence[Report], now: datetime) -> list[Processed]:
    """The first stage for a round of new reports with a handful of statements: the
    rules, routing, suggestions, chain links and audit events of all of them are
    computed in memory and written with one batched insert per table."""
    if not reports:
        return []
    ids = [report.id for report in reports]
    linked = {
        row.report_id: row
        for row in session.scalars(
            select(ReportLink).where(ReportLink.report_id.in_(ids), ReportLink.undone_at.is_(None))
        )
    }
    rules = _rules(session)
    suggestions: list[TriageSuggestion] = []
    links: list[dict[str, Any]] = []
    entries: list[audit.Entry] = []
    routes: list[routing.Route] = []
    results: list[Suggestion] = []
    for report in reports:
        if report.id in linked:
            person: PersonFacts | None = person_facts(session, report, now)
        else:
            person = PersonFacts(linked=False) if has_subject(report) else None
        result = suggest(
            facts_of(
                report.kind,
                report.details or {},
                danger_now=report.danger_now,
                has_subject=has_subject(report),
                person=person,
            )
        )
        priority = result.priority.value if result.priority else None
        report.processed_at = now
        if report.triage_state == "pending":
            report.priority = priority
            report.triage_state = "suggested"
        route = routing.route(routing.sample_of(report), rules)
        if route.agency_id == report.agency_id and route.team_id is not None:
            report.team_id = route.team_id
            _grant(session, report, "team", route.team_id, "write", None, "routed to the team", now)
        suggestions.append(_suggestion_row(report, result, route, now))
        deadlines = deadlines_of(session, report, priority, result.needs_person)
        links.extend(
            _fresh_links(
                report,
                deadlines,
                pace_of(priority, result.needs_person),
                linked.get(report.id),
                route,
                now,
            )
        )
        entries.append(_suggested_entry(report, result, route, now))
        routes.append(route)
        results.append(result)
    preassign_ids(session, suggestions)
    session.add_all(suggestions)
    session.flush()
    session.connection().execute(insert(CHAIN_LINKS), links)
    done: list[Processed] = []
    for report, result, route, row in zip(reports, results, routes, suggestions, strict=True):
        priority = result.priority.value if result.priority else None
        _route_elsewhere(session, report, route, priority, result.needs_person, now)
        notified = alert_p1(session, report=report, now=now) if priority == "P1" else 0
        done.append(Processed(report.id, row.id, priority, result.needs_person, notified))
    surge.cluster_batch(session, reports=reports, now=now, text=True)
    audit.record_many(session, entries)
    return done


def _suggested_entry(
    report: Report, result: Suggestion, route: routing.Route, now: datetime
) -> audit.Entry:
    return audit.Entry(
        actor_id=None,
        actor_label=PIPELINE.label,
        tag="triage:report:suggested",
        subject_type=SUBJECT,
        subject_id=report.id,
        changes={
            "priority": [None, result.priority.value if result.priority else None],
            "needs_person": [None, result.needs_person],
            "rules": [None, [f.rule_id for f in result.fired]],
            "route_agency_id": [None, route.agency_id],
            "route_rule_id": [None, route.rule_id],
        },
        at=now,
    )


def _route_elsewhere(
    session: Session,
    report: Report,
    route: routing.Route,
    priority: str | None,
    needs_person: bool,
    now: datetime,
) -> None:
    """Hand the report to the rule's agency when it is another one, and send the
    rule's info-only copies."""
    if route.agency_id != report.agency_id:
        hand_off_report(
            session,
            who=PIPELINE,
            report=report,
            to_agency_id=route.agency_id,
            to_team_id=route.team_id,
            reason=route.reason,
            deadlines=deadlines_of(session, report, priority, needs_person),
            priority=priority,
            now=now,
        )
    for agency_id in route.info_agency_ids:
        if agency_id != report.agency_id:
            copy_for_information(
                session,
                who=PIPELINE,
                report=report,
                to_agency_id=agency_id,
                reason=route.reason,
                now=now,
            )


def after_person_linked(session: Session, *, report: Report, now: datetime) -> None:
    """What follows a report's link to a person (by the model, or by a person deciding a
    review): its "linked" link is done, the registered link listeners run (the cases
    tripwire), it joins the person's cluster, and the rules run again; a changed
    suggestion is recorded (and a new P1 alerts)."""
    person_link = active_link(session, report.id)
    if person_link is not None:
        ledger.complete(
            session,
            subject_type=SUBJECT,
            subject_id=report.id,
            link="linked",
            now=now,
            by=f"people ({person_link.decided_by})",
        )
        for listener in _link_listeners:
            listener(session, report, person_link, now)
    cluster_report(session, report=report, now=now, stage="person")
    latest = latest_suggestion(session, report.id)
    result = evaluate(session, report, now)
    priority = result.priority.value if result.priority else None
    if latest is None or (latest.priority, latest.needs_person) != (priority, result.needs_person):
        reevaluate(session, report=report, now=now)


def unlinked(session: Session, limit: int) -> list[Report]:
    """Triaged reports whose subject was not yet linked, sent to review or found empty."""
    query = (
        select(Report)
        .where(
            Report.processed_at.is_not(None),
            Report.id.not_in(select(ReportLink.report_id)),
            Report.id.not_in(select(ReviewItem.report_id)),
        )
        .order_by(Report.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=Report, skip_locked=True)
    return list(session.scalars(query))


def link_processed(session: Session, *, now: datetime, limit: int = 20) -> int:
    """Second stage: link triaged reports to persons and cluster them; when what is now
    known about the person changes the suggestion, a new suggestion is recorded (and a
    P1 alerts). Returns how many reports were handled."""
    reports = unlinked(session, limit)
    for report in reports:
        _link(session, report, now)
        after_person_linked(session, report=report, now=now)
    return len(reports)


def _link_and_tell(session: Session, report: Report, now: datetime) -> None:
    """Link the subject and, when this made the link, run the link listeners (the cases
    tripwire, the firearm follow-up) before the rules look, as ``after_person_linked``
    does for a link made later."""
    before = active_link(session, report.id)
    _link(session, report, now)
    made = active_link(session, report.id)
    if made is not None and before is None:
        for listener in _link_listeners:
            listener(session, report, made, now)


def _link(session: Session, report: Report, now: datetime) -> None:
    """Link the subject unless it was linked or sent to review already."""
    if active_link(session, report.id) is not None:
        return
    if session.scalar(select(ReviewItem.id).where(ReviewItem.report_id == report.id).limit(1)):
        return
    outcome = people.link_report(session, report=report, who=PIPELINE, now=now)
    if outcome.decision is None:  # nothing to link by: noted, so it is not taken again
        session.add(
            ReviewItem(report_id=report.id, candidates=[], outcome="no_subject", created_at=now)
        )
        session.flush()


def _suggestion_row(
    report: Report, result: Suggestion, route: routing.Route | None, now: datetime
) -> TriageSuggestion:
    def finding(f: Any) -> dict[str, Any]:
        return {
            "rule": f.rule_id,
            "priority": f.priority.value,
            "reason": f.reason,
            "missing": list(f.missing),
        }

    return TriageSuggestion(
        report_id=report.id,
        priority=result.priority.value if result.priority else None,
        needs_person=result.needs_person,
        fired=[finding(f) for f in result.fired],
        unknown=[finding(f) for f in result.unknown],
        route_agency_id=route.agency_id if route else None,
        route_team_id=route.team_id if route else None,
        route_rule_id=route.rule_id if route else None,
        route_reason=route.reason[:500] if route else "",
        info_agency_ids=list(route.info_agency_ids) if route else [],
        created_at=now,
    )


def pace_of(priority: str | None, needs_person: bool) -> str:
    """The deadline row that sets how fast a late link escalates."""
    if priority is None:
        return dl.NEEDS_PERSON
    return f"{priority}+" if needs_person else priority


def _fresh_links(
    report: Report,
    deadlines: dl.Deadlines,
    pace: str,
    link: ReportLink | None,
    route: routing.Route,
    now: datetime,
) -> list[dict[str, Any]]:
    """The chain of a report the pipeline sees for the first time (it has no links yet),
    as rows for one batched insert (every row has every key): received and routed are
    done, linked is done when the model linked it, the rest are due by the priority's
    deadlines, counted from receipt."""

    def row(
        name: str,
        *,
        due_at: datetime | None = None,
        done_at: datetime | None = None,
        done_by: str = "",
        note: str = "",
    ) -> dict[str, Any]:
        return {
            "subject_type": SUBJECT,
            "subject_id": report.id,
            "link": name,
            "ref": "",
            "agency_id": report.agency_id,
            "team_id": report.team_id,
            "owner_user_id": report.owner_user_id,
            "pace": pace,
            "created_at": now,
            "due_at": due_at,
            "done_at": done_at,
            "done_by_user_id": None,
            "done_by": done_by,
            "note": note,
        }

    rows = [
        row("received", done_at=report.received_at, done_by="intake"),
        row(
            "routed",
            done_at=now,
            done_by="routing rule" if route.rule_id else "routing (no rule matched)",
            note=route.reason[:500],
        ),
    ]
    if link is not None:
        rows.append(row("linked", done_at=now, done_by=f"people ({link.decided_by})"))
    skip = {"received", "routed"} | ({"linked"} if link is not None else set())
    rows.extend(
        row(name, due_at=report.received_at + after)
        for name, after in deadlines.links.items()
        if name not in skip
    )
    return rows


def process_report(
    session: Session,
    *,
    report: Report,
    now: datetime,
    entries: list[audit.Entry] | None = None,
    link: bool = True,
) -> Processed:
    """The whole after-receipt flow for one report (see the module docstring).

    With ``entries``, the audit event is added to it for the caller to append (a round
    appends all of its events at once); without, it is appended here.
    """
    if link:
        _link_and_tell(session, report, now)
    result = evaluate(session, report, now)
    priority = result.priority.value if result.priority else None
    report.processed_at = now
    if report.triage_state == "pending":
        report.priority = priority
        report.triage_state = "suggested"
    route = routing.route(routing.sample_of(report), _rules(session))
    if route.agency_id == report.agency_id and route.team_id is not None:
        report.team_id = route.team_id
        _grant(session, report, "team", route.team_id, "write", None, "routed to the team", now)
    row = _suggestion_row(report, result, route, now)
    session.add(row)
    deadlines = deadlines_of(session, report, priority, result.needs_person)
    links = _fresh_links(
        report,
        deadlines,
        pace_of(priority, result.needs_person),
        active_link(session, report.id),
        route,
        now,
    )
    session.flush()
    session.connection().execute(insert(CHAIN_LINKS), links)
    _route_elsewhere(session, report, route, priority, result.needs_person, now)
    notified = 0
    if priority == Priority.P1.value:
        notified = alert_p1(session, report=report, now=now)
    cluster_report(session, report=report, now=now, stage="all" if link else "text")
    entry = _suggested_entry(report, result, route, now)
    if entries is None:
        audit.record_many(session, [entry])
    else:
        entries.append(entry)
    return Processed(report.id, row.id, priority, result.needs_person, notified)


def _rules(session: Session) -> list[routing.RuleSpec]:
    cache = transaction_cache(session)
    if "routing_rules" not in cache:
        cache["routing_rules"] = rule_specs(session)
    specs: list[routing.RuleSpec] = cache["routing_rules"]
    return specs


# --- alerts ----------------------------------------------------------------------------


def team_leads(session: Session, team_id: int | None) -> list[User]:
    """The enabled leads of the team a report or link is routed to (none without one)."""
    return [] if team_id is None else access_queries.team_leads(session, team_id)


def _user(session: Session, user_id: int | None) -> User | None:
    if user_id is None:
        return None
    user = cached_get(session, User, user_id)
    return user if user is not None and not user.disabled else None


def alert_p1(session: Session, *, report: Report, now: datetime) -> int:
    """Tell the on-duty analysts of the owning agency and the team lead at once, quiet
    hours or not. Without anyone on duty, the agency's primary contact (then its head)
    is told instead, so a P1 never waits for a browser tab. Returns how many were told."""
    on_duty = access_queries.on_duty_users(session, report.agency_id)
    recipients: dict[int, User] = {u.id: u for u in on_duty}
    agency = cached_get(session, Agency, report.agency_id)
    if not recipients and agency is not None:
        for user_id in (agency.primary_contact_id, agency.head_user_id):
            user = _user(session, user_id)
            if user is not None:
                recipients[user.id] = user
                break
    for lead in team_leads(session, report.team_id):
        recipients.setdefault(lead.id, lead)
    for user in recipients.values():
        notify_user(
            session,
            user_id=user.id,
            tag="triage:p1",
            subject=f"P1 imminent: report #{report.id} — call 911 / dispatch now",
            link=f"/reports/{report.id}",
            now=now,
            urgent=True,
        )
    return len(recipients)


# --- hand-offs -------------------------------------------------------------------------


def _grant(
    session: Session,
    report: Report,
    grantee_type: str,
    grantee_id: int,
    level: str,
    granted_by: int | None,
    reason: str,
    now: datetime,
) -> None:
    """Share the report (``granted_by`` None: the system, when routing rules did it)."""
    exists = session.scalar(
        select(Grant.id).where(
            Grant.resource_type == SUBJECT,
            Grant.resource_id == report.id,
            Grant.grantee_type == grantee_type,
            Grant.grantee_id == grantee_id,
            Grant.revoked_at.is_(None),
        )
    )
    if exists is None:
        session.add(
            Grant(
                resource_type=SUBJECT,
                resource_id=report.id,
                grantee_type=grantee_type,
                grantee_id=grantee_id,
                level=level,
                granted_by=granted_by,
                reason=reason[:500],
                created_at=now,
            )
        )


def _agency(session: Session, agency_id: int, field: str) -> Agency:
    agency = cached_get(session, Agency, agency_id)
    if agency is None or not agency.active:
        raise ValidationFailed(f"{field}: no active agency with id {agency_id}", field=field)
    return agency


def _team(session: Session, team_id: int | None, field: str) -> Team | None:
    if team_id is None:
        return None
    team = cached_get(session, Team, team_id)
    if team is None:
        raise ValidationFailed(f"{field}: no team with id {team_id}", field=field)
    return team


def hand_off_report(
    session: Session,
    *,
    who: Actor,
    report: Report,
    to_agency_id: int,
    to_team_id: int | None,
    reason: str,
    deadlines: dl.Deadlines,
    priority: str | None,
    now: datetime,
) -> HandOff:
    """Make another agency the owner; it must acknowledge by the deadline, or the sweep
    escalates along its contacts. The sending agency keeps read access."""
    _agency(session, to_agency_id, "to_agency_id")
    _team(session, to_team_id, "to_team_id")
    if to_agency_id == report.agency_id:
        raise ValidationFailed(
            "to_agency_id: the report is already owned by this agency", field="to_agency_id"
        )
    from_agency = report.agency_id
    handoff = HandOff(
        report_id=report.id,
        kind="owner",
        from_agency_id=from_agency,
        to_agency_id=to_agency_id,
        to_team_id=to_team_id,
        reason=reason[:MAX_REASON],
        created_by_user_id=who.audit_id,
        created_by=who.label,
        created_at=now,
        due_at=now + deadlines.handoff_ack,
    )
    session.add(handoff)
    report.agency_id = to_agency_id
    report.team_id = to_team_id
    report.owner_user_id = None
    session.flush()
    granter = who.audit_id
    _grant(
        session, report, "agency", from_agency, "read", granter, "handed off by this agency", now
    )
    if to_team_id is not None:
        _grant(session, report, "team", to_team_id, "write", granter, "routed to the team", now)
    ledger.open_link(
        session,
        subject_type=SUBJECT,
        subject_id=report.id,
        link="acknowledged",
        ref=f"handoff:{handoff.id}",
        due_at=handoff.due_at,
        now=now,
        agency_id=to_agency_id,
        team_id=to_team_id,
        pace=priority or dl.NEEDS_PERSON,
    )
    # The report's own open links now belong to the receiving agency.
    for row in ledger.links_for(session, subject_type=SUBJECT, subject_id=report.id):
        if row.done_at is None and not row.ref:
            row.agency_id = to_agency_id
            row.team_id = to_team_id
            row.owner_user_id = None
    _tell_agency(
        session,
        to_agency_id,
        subject=f"Report #{report.id} was handed to your agency: acknowledge it",
        link=f"/reports/{report.id}",
        urgent=priority == Priority.P1.value,
        now=now,
    )
    audit.record_by(
        session,
        who,
        tag="triage:report:handed_off",
        subject_type=SUBJECT,
        subject_id=report.id,
        changes={
            "agency_id": [from_agency, to_agency_id],
            "team_id": [None, to_team_id],
            "handoff_id": [None, handoff.id],
            "due_at": [None, handoff.due_at.isoformat() if handoff.due_at else None],
            "reason": [None, reason[:MAX_REASON]],
        },
        at=now,
    )
    return handoff


def copy_for_information(
    session: Session, *, who: Actor, report: Report, to_agency_id: int, reason: str, now: datetime
) -> HandOff:
    """An info-only copy: the agency may read the report; it does not own it and owes
    no acknowledgement."""
    _agency(session, to_agency_id, "to_agency_id")
    handoff = HandOff(
        report_id=report.id,
        kind="info",
        from_agency_id=report.agency_id,
        to_agency_id=to_agency_id,
        reason=reason[:MAX_REASON],
        created_by_user_id=who.audit_id,
        created_by=who.label,
        created_at=now,
    )
    session.add(handoff)
    session.flush()
    granter = who.audit_id
    _grant(session, report, "agency", to_agency_id, "read", granter, "info-only copy", now)
    _tell_agency(
        session,
        to_agency_id,
        subject=f"For your information: report #{report.id} (no action owed)",
        link=f"/reports/{report.id}",
        urgent=False,
        now=now,
    )
    audit.record_by(
        session,
        who,
        tag="triage:report:copied",
        subject_type=SUBJECT,
        subject_id=report.id,
        changes={"info_agency_id": [None, to_agency_id], "handoff_id": [None, handoff.id]},
        at=now,
    )
    return handoff


def _tell_agency(
    session: Session, agency_id: int, *, subject: str, link: str, urgent: bool, now: datetime
) -> None:
    """The agency's primary contact, or its on-duty staff, or its head."""
    agency = cached_get(session, Agency, agency_id)
    people_to_tell: list[User] = []
    if agency is not None:
        primary = _user(session, agency.primary_contact_id)
        people_to_tell = [primary] if primary else access_queries.on_duty_users(session, agency_id)
        if not people_to_tell:
            head = _user(session, agency.head_user_id)
            people_to_tell = [head] if head else []
    for user in people_to_tell:
        notify_user(
            session,
            user_id=user.id,
            tag="triage:handoff",
            subject=subject,
            link=link,
            now=now,
            urgent=urgent,
        )


def _load_report(actor: Actor, report: Report) -> None:
    if not can(actor, P.TRIAGE_REPORT_DECIDE, report):
        require(actor, P.TRIAGE_REPORT_DECIDE)  # 403 without the permission
        raise NotFound(f"No report with id {report.id}.")


def hand_off(
    session: Session,
    *,
    actor: Actor,
    report: Report,
    to_agency_id: int,
    to_team_id: int | None,
    kind: str,
    reason: str,
    now: datetime,
) -> HandOff:
    """A person hands the report to another agency (``owner``) or copies it (``info``)."""
    _load_report(actor, report)
    reason = _reason(reason, required=True)
    if kind == "info":
        return copy_for_information(
            session, who=actor, report=report, to_agency_id=to_agency_id, reason=reason, now=now
        )
    if kind != "owner":
        raise ValidationFailed("kind: choose owner or info", field="kind")
    priority = report.priority
    latest = latest_suggestion(session, report.id)
    needs_person = bool(latest and latest.needs_person and report.triage_state != "decided")
    deadlines = deadlines_of(session, report, priority, needs_person)
    return hand_off_report(
        session,
        who=actor,
        report=report,
        to_agency_id=to_agency_id,
        to_team_id=to_team_id,
        reason=reason,
        deadlines=deadlines,
        priority=priority,
        now=now,
    )


def acknowledge_handoff(
    session: Session, *, actor: Actor, handoff_id: int, now: datetime
) -> HandOff:
    """The receiving agency takes the report on: its acknowledgement link is done."""
    handoff = session.get(HandOff, handoff_id)
    if handoff is None or handoff.kind != "owner":
        raise NotFound(f"No hand-off with id {handoff_id}.")
    require(actor, P.TRIAGE_REPORT_DECIDE)
    if not actor.is_admin and actor.agency_id != handoff.to_agency_id:
        raise NotFound(f"No hand-off with id {handoff_id}.")
    if handoff.acknowledged_at is not None:
        raise Conflict("handoff: already acknowledged.", field="handoff")
    handoff.acknowledged_at = now
    handoff.acknowledged_by_user_id = actor.audit_id
    ledger.complete(
        session,
        subject_type=SUBJECT,
        subject_id=handoff.report_id,
        link="acknowledged",
        ref=f"handoff:{handoff.id}",
        now=now,
        by=actor.label,
        user_id=actor.audit_id,
    )
    audit.record_by(
        session,
        actor,
        tag="triage:handoff:acknowledged",
        subject_type=SUBJECT,
        subject_id=handoff.report_id,
        changes={"handoff_id": [None, handoff.id], "acknowledged_at": [None, now.isoformat()]},
        at=now,
    )
    return handoff


def handoffs_for(session: Session, report_id: int) -> list[HandOff]:
    return list(
        session.scalars(select(HandOff).where(HandOff.report_id == report_id).order_by(HandOff.id))
    )


def open_handoffs(session: Session, *, agency_id: int | None) -> list[HandOff]:
    """Hand-offs waiting for an agency's acknowledgement (all agencies when ``None``)."""
    query = select(HandOff).where(HandOff.kind == "owner", HandOff.acknowledged_at.is_(None))
    if agency_id is not None:
        query = query.where(HandOff.to_agency_id == agency_id)
    return list(session.scalars(query.order_by(HandOff.due_at, HandOff.id)))


# --- a person decides ------------------------------------------------------------------


def latest_suggestion(session: Session, report_id: int) -> TriageSuggestion | None:
    return session.scalar(
        select(TriageSuggestion)
        .where(TriageSuggestion.report_id == report_id)
        .order_by(TriageSuggestion.id.desc())
        .limit(1)
    )


def latest_decision(session: Session, report_id: int) -> TriageDecision | None:
    return session.scalar(
        select(TriageDecision)
        .where(TriageDecision.report_id == report_id)
        .order_by(TriageDecision.id.desc())
        .limit(1)
    )


def _reason(reason: str, *, required: bool) -> str:
    reason = " ".join((reason or "").split())
    if required and len(reason) < 5:
        raise ValidationFailed("reason: say why (at least 5 characters)", field="reason")
    if len(reason) > MAX_REASON:
        raise ValidationFailed(f"reason: at most {MAX_REASON} characters", field="reason")
    return reason


def _priority(value: str) -> Priority:
    try:
        return Priority(value)
    except ValueError:
        raise ValidationFailed("priority: choose P1, P2, P3 or P4", field="priority") from None


def decide(
    session: Session,
    *,
    actor: Actor,
    report: Report,
    priority: str,
    reason: str,
    now: datetime,
    cluster_id: int | None = None,
) -> TriageDecision:
    """A person sets the priority. Accepting the suggestion needs no reason; overriding
    it (or deciding where the rules need a person) does. The links of the chain take the
    decided priority's deadlines, and the acknowledgement and triage links are done."""
    _load_report(actor, report)
    chosen = _priority(priority)
    suggestion = latest_suggestion(session, report.id)
    accepted = (
        suggestion is not None
        and not suggestion.needs_person
        and suggestion.priority == chosen.value
    )
    reason = _reason(reason, required=not accepted)
    before = report.priority
    decision = TriageDecision(
        report_id=report.id,
        suggestion_id=suggestion.id if suggestion else None,
        priority=chosen.value,
        overridden=not accepted,
        reason=reason,
        decided_by_user_id=actor.user_id,
        cluster_id=cluster_id,
        decided_at=now,
    )
    session.add(decision)
    report.priority = chosen.value
    report.triage_state = "decided"
    if report.status == Status.NEW:
        report.status = Status.IN_REVIEW
    session.flush()
    deadlines = deadlines_of(session, report, chosen.value, False)
    _reschedule(session, report, deadlines, chosen.value, now)
    for name in DECISION_LINKS:
        row = ledger.find(session, subject_type=SUBJECT, subject_id=report.id, link=name)
        if row is not None and row.done_at is None:
            ledger.complete(
                session,
                subject_type=SUBJECT,
                subject_id=report.id,
                link=name,
                now=now,
                by=actor.label,
                user_id=actor.audit_id,
                note=f"triage decision {chosen.value}",
            )
    if chosen is Priority.P1 and before != Priority.P1.value:
        alert_p1(session, report=report, now=now)
    audit.record_by(
        session,
        actor,
        tag="triage:report:decided",
        subject_type=SUBJECT,
        subject_id=report.id,
        changes={
            "priority": [before, chosen.value],
            "suggested": [None, suggestion.priority if suggestion else None],
            "overridden": [None, not accepted],
            "reason": [None, reason],
            "cluster_id": [None, cluster_id],
        },
        at=now,
    )
    return decision


def _reschedule(
    session: Session, report: Report, deadlines: dl.Deadlines, priority: str, now: datetime
) -> None:
    """Open links move to the decided priority's deadlines; links the new priority does
    not ask for are closed as not needed, so they cannot break."""
    wanted = set(deadlines.links)
    for row in ledger.links_for(session, subject_type=SUBJECT, subject_id=report.id):
        if row.done_at is not None or row.ref:
            continue
        if row.link in wanted:
            row.due_at = report.received_at + deadlines.links[row.link]
            row.pace = priority
        elif row.link not in DECISION_LINKS:
            row.done_at = now
            row.done_by = "triage"
            row.note = f"not required at {priority}"
    session.flush()
    _schedule(session, report, deadlines, priority, now, skip={"routed", "linked", "received"})


def acknowledge(session: Session, *, actor: Actor, report: Report, now: datetime) -> None:
    """Someone of the owning agency has the report in hand (before deciding)."""
    _load_report(actor, report)
    row = ledger.find(session, subject_type=SUBJECT, subject_id=report.id, link="acknowledged")
    if row is not None and row.done_at is not None:
        raise Conflict("acknowledged: this report was already acknowledged.", field="acknowledged")
    ledger.complete(
        session,
        subject_type=SUBJECT,
        subject_id=report.id,
        link="acknowledged",
        now=now,
        by=actor.label,
        user_id=actor.audit_id,
        agency_id=report.agency_id,
    )
    audit.record_by(
        session,
        actor,
        tag="triage:report:acknowledged",
        subject_type=SUBJECT,
        subject_id=report.id,
        at=now,
    )


def close_links_of_closed_report(
    session: Session, *, actor: Actor, report: Report, now: datetime
) -> None:
    """A report closed with a disposition: its "closed" link is done and the links it no
    longer needs end with it (they cannot break any more)."""
    ledger.complete(
        session,
        subject_type=SUBJECT,
        subject_id=report.id,
        link="closed",
        now=now,
        by=actor.label,
        user_id=actor.audit_id,
        agency_id=report.agency_id,
    )
    ledger.complete_open(
        session,
        subject_type=SUBJECT,
        subject_id=report.id,
        now=now,
        by=actor.label,
        user_id=actor.audit_id,
        note="report closed",
    )


def reevaluate(session: Session, *, report: Report, now: datetime) -> TriageSuggestion:
    """Run the rules again after something changed (a person was linked on review); the
    newest suggestion counts until a person decides."""
    result = evaluate(session, report, now)
    priority = result.priority.value if result.priority else None
    before = report.priority
    if report.triage_state != "decided":
        report.priority = priority
    route = routing.route(routing.sample_of(report), _rules(session))
    row = _suggestion_row(report, result, route, now)
    session.add(row)
    if report.triage_state != "decided":
        deadlines = deadlines_of(session, report, priority, result.needs_person)
        _schedule(
            session,
            report,
            deadlines,
            pace_of(priority, result.needs_person),
            now,
            skip={"routed", "linked", "received"},
        )
        if priority == Priority.P1.value and before != priority:
            alert_p1(session, report=report, now=now)
    session.flush()
    audit.record_by(
        session,
        PIPELINE,
        tag="triage:report:reevaluated",
        subject_type=SUBJECT,
        subject_id=report.id,
        changes={"priority": [None, priority], "needs_person": [None, result.needs_person]},
        at=now,
    )
    return row


# --- surge clusters --------------------------------------------------------------------


def cluster_report(
    session: Session, *, report: Report, now: datetime, stage: str = "all"
) -> surge.Joined | None:
    """Cluster one report (``surge.cluster_batch``): ``stage="text"`` by narrative and
    place, ``"person"`` by its linked person, ``"all"`` both."""
    person_ids: dict[int, int] = {}
    if stage in ("all", "person"):
        link = active_link(session, report.id)
        if link is not None:
            person_ids[report.id] = link.person_id
    joined = surge.cluster_batch(
        session, reports=[report], now=now, text=stage in ("all", "text"), person_ids=person_ids
    )
    return joined[0] if joined else None


def cluster_members(session: Session, cluster_id: int) -> list[ClusterMember]:
    return list(
        session.scalars(
            select(ClusterMember)
            .where(ClusterMember.cluster_id == cluster_id)
            .order_by(ClusterMember.report_id)
        )
    )


def decide_cluster(
    session: Session, *, actor: Actor, cluster_id: int, priority: str, reason: str, now: datetime
) -> int:
    """Triage every member the actor may triage, with one reason; members already
    decided keep their decision. Returns how many were decided."""
    cluster = session.get(Cluster, cluster_id)
    if cluster is None:
        raise NotFound(f"No cluster with id {cluster_id}.")
    require(actor, P.TRIAGE_REPORT_DECIDE)
    reason = _reason(reason, required=True)
    count = 0
    for member in cluster_members(session, cluster_id):
        report = session.get_one(Report, member.report_id)
        if report.triage_state == "decided" or not can(actor, P.TRIAGE_REPORT_DECIDE, report):
            continue
        decide(
            session,
            actor=actor,
            report=report,
            priority=priority,
            reason=reason,
            now=now,
            cluster_id=cluster_id,
        )
        count += 1
    if count == 0:
        raise Conflict(
            "cluster: no member of this cluster is waiting for your triage.", field="cluster"
        )
    return count


def hand_off_cluster(
    session: Session,
    *,
    actor: Actor,
    cluster_id: int,
    to_agency_id: int,
    to_team_id: int | None,
    reason: str,
    now: datetime,
) -> int:
    """Hand every member the actor's agency owns to another agency at once."""
    cluster = session.get(Cluster, cluster_id)
    if cluster is None:
        raise NotFound(f"No cluster with id {cluster_id}.")
    require(actor, P.TRIAGE_REPORT_DECIDE)
    reason = _reason(reason, required=True)
    _agency(session, to_agency_id, "to_agency_id")
    count = 0
    for member in cluster_members(session, cluster_id):
        report = session.get_one(Report, member.report_id)
        if report.agency_id == to_agency_id or not can(actor, P.TRIAGE_REPORT_DECIDE, report):
            continue
        hand_off(
            session,
            actor=actor,
            report=report,
            to_agency_id=to_agency_id,
            to_team_id=to_team_id,
            kind="owner",
            reason=reason,
            now=now,
        )
        count += 1
    if count == 0:
        raise Conflict(
            "cluster: no member of this cluster can be handed off by you.", field="cluster"
        )
    cluster.agency_id = to_agency_id
    session.flush()
    return count


def priority_label(priority: str | None) -> str:
    if priority is None:
        return "Needs a person"
    return PRIORITY_LABELS.get(Priority(priority), priority)


def counts_by_state(session: Session, agency_id: int | None) -> dict[str, int]:
    query = select(Report.triage_state, func.count(Report.id)).group_by(Report.triage_state)
    if agency_id is not None:
        query = query.where(Report.agency_id == agency_id)
    return {state: int(n) for state, n in session.execute(query)}
