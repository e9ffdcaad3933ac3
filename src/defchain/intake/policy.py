"""Who may see and handle which report, registered with the access policy."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, or_, true

from defchain.access import Actor, Label, Permission, register_resource
from defchain.intake.models import Report

P = Permission


def report_scope(actor: Actor, permission: Permission, report: Report) -> bool:
    """Staff of the owning agency, or anyone the report was shared with by a grant."""
    if report.agency_id == actor.agency_id:
        return True
    return actor.granted("report", report.id, write=permission is not P.INTAKE_REPORT_READ)


def report_visible(actor: Actor, permission: Permission) -> ColumnElement[bool]:
    """The list twin of ``report_scope``, with label clearances applied in SQL."""
    uncleared = [label for label in Label if label.value not in actor.clearances]
    cleared = and_(true(), *(~Report.label_set.contains(f",{label.value},") for label in uncleared))
    if actor.is_admin:
        return cleared
    granted = actor.granted_ids("report")
    in_scope = or_(Report.agency_id == actor.agency_id, Report.id.in_(granted))
    return and_(cleared, in_scope)


def register() -> None:
    """Put reports under ``can()``, ``visible()`` and ``load_for(kind="report")``."""
    register_resource(
        "report",
        Report,
        read_permission=P.INTAKE_REPORT_READ,
        scope=report_scope,
        visible_rule=report_visible,
        list_permissions=frozenset({P.INTAKE_REPORT_READ, P.INTAKE_REPORT_UPDATE}),
    )
