"""The tripwire: a new report about someone who already has a case reaches that case.

When a report is linked to a person (``triage.service.after_person_linked``, in the
transaction of the link), every case about that person, or about anyone merged into
them, is locked and:

- a closed or monitored case re-opens for a new cycle (or, where the jurisdiction's
  case settings say ``flag``, stays as it is and is flagged for its lead);
- a case being worked (open, assessing, managing) only tells its lead;
- the report joins the first of these cases it is not already on (a report belongs to
  one case at most: the unique index on ``case_reports.report_id``).

Running it twice for the same report changes nothing: a case the report is already on
is left alone. Two reports about the same person linked at the same moment re-open the
case once: the case rows are locked (``FOR UPDATE`` on PostgreSQL; SQLite serialises
writers already) and the second transaction sees the first one's re-opening.

The module also tells triage whether a person has an open or monitored case
(``has_open_case``), so the rules that read it see the re-opened case at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from defchain import audit, notify
from defchain.cases import lifecycle
from defchain.cases.models import Case, CaseReport, CaseSubject
from defchain.cases.queries import absorbed_ids, case_settings, jurisdiction_of
from defchain.cases.rules import CaseStatus, TripwireMode
from defchain.intake import Report
from defchain.people import ReportLink
from defchain.triage import service as triage
from defchain.triage.rules import Tri

ACTOR_LABEL = "tripwire"
# A closed or monitored case is re-opened (or flagged) by new information.
DORMANT: frozenset[str] = frozenset({CaseStatus.CLOSED.value, CaseStatus.MONITORING.value})


def cases_about(session: Session, person_id: int, *, lock: bool = False) -> list[Case]:
    """Every case whose subjects include the person or anyone merged into them, oldest
    first; with ``lock`` the rows are locked for the rest of the transaction (in id
    order, so two transactions never wait for each other in a circle)."""
    subjects = select(CaseSubject.case_id).where(
        CaseSubject.person_id.in_(absorbed_ids(session, person_id))
    )
    query = select(Case).where(Case.id.in_(subjects)).order_by(Case.id)
    if lock:
        # Read the row as the lock found it (another transaction may just have
        # re-opened it), not as this session may have cached it.
        query = query.with_for_update().execution_options(populate_existing=True)
    return list(session.scalars(query))


def case_of_report(session: Session, report_id: int) -> int | None:
    """The case the report is on, if any."""
    return session.scalar(select(CaseReport.case_id).where(CaseReport.report_id == report_id))


def on_report_linked(session: Session, report: Report, link: ReportLink, now: datetime) -> None:
    """The link listener (registered with triage): see the module's description."""
    cases = cases_about(session, link.person_id, lock=True)
    if not cases:
        return
    attached_to = case_of_report(session, report.id)
    for case in cases:
        if attached_to == case.id:
            continue  # seen already: nothing new for this case
        if attached_to is None:
            _attach(session, case, report, now)
            attached_to = case.id
        _tell(session, case, report, now)


def _attach(session: Session, case: Case, report: Report, now: datetime) -> None:
    session.add(CaseReport(case_id=case.id, report_id=report.id, added_at=now))
    session.flush()
    audit.record(
        session,
        actor_id=None,
        actor_label=ACTOR_LABEL,
        tag="cases:report:added",
        subject_type=lifecycle.SUBJECT,
        subject_id=case.id,
        changes={"report_id": [None, report.id], "person_ids": [None, []]},
        at=now,
    )


def _tell(session: Session, case: Case, report: Report, now: datetime) -> None:
    """Re-open or flag a dormant case; tell the lead of a case being worked."""
    reason = f"New report #{report.id} about a subject"
    if case.status in DORMANT:
        mode = case_settings(session, jurisdiction_of(session, case)).tripwire
        if mode is TripwireMode.FLAG:
            lifecycle.flag(session, case, reason=reason, now=now, report_id=report.id)
        else:
            lifecycle.reopen(session, None, case, reason=reason, now=now, report_id=report.id)
        return
    notify.notify_user(
        session,
        user_id=case.lead_user_id,
        tag="cases:case:new_report",
        subject=f"New report on your case #{case.id}",
        body=reason,
        link=f"/cases/{case.id}",
        now=now,
    )


def person_facts(session: Session, person_id: int, now: datetime) -> Mapping[str, Any]:
    """For triage: does the person (or anyone merged into them) have a case that is not
    closed (open, being worked, or monitored)?"""
    subjects = select(CaseSubject.case_id).where(
        CaseSubject.person_id.in_(absorbed_ids(session, person_id))
    )
    found = session.scalar(
        select(Case.id)
        .where(Case.id.in_(subjects), Case.status != CaseStatus.CLOSED.value)
        .limit(1)
    )
    return {"has_open_case": Tri.YES if found is not None else Tri.NO}


def register() -> None:
    """Listen to report links and tell triage about open cases (called once at import
    of ``defchain.cases``)."""
    triage.register_link_listener(on_report_linked)
    triage.register_person_facts(person_facts)
