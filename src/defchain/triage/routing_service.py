"""Routing rules: administered as data, audited, and tried against a sample report.

Every function that changes something takes ``session``, ``actor`` and ``now``
keyword-only, checks ``triage:routing:manage``, validates, writes one audit event per
change in the same transaction, and flushes; the caller's boundary commits. The decision
itself is pure and lives in ``routing.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from defchain import audit
from defchain.access import Actor, Agency, Jurisdiction, Permission, Team, require
from defchain.errors import Conflict, NotFound, ValidationFailed
from defchain.intake.rules import KIND_LABELS
from defchain.triage.models import RoutingRule, TriageSuggestion
from defchain.triage.routing import Names, Route, RuleSpec, Sample, route
from defchain.triage.schemas import InputInvalid, RoutingRuleIn, SampleIn, validate

P = Permission

# The fields an administrator sets, as audited.
RULE_FIELDS = (
    "name",
    "active",
    "jurisdiction_id",
    "kinds",
    "priorities",
    "school_contains",
    "employer_contains",
    "from_agency_id",
    "agency_id",
    "team_id",
    "info_agency_ids",
)
DIRECTIONS = ("up", "down")


def _audit(
    session: Session,
    actor: Actor,
    action: str,
    rule: RoutingRule,
    changes: dict[str, Any],
    now: datetime,
) -> None:
    audit.record_by(
        session,
        actor,
        tag=f"triage:routing_rule:{action}",
        subject_type="routing_rule",
        subject_id=rule.id,
        changes=changes,
        at=now,
    )


def _snapshot(rule: RoutingRule, fields: tuple[str, ...] = RULE_FIELDS) -> dict[str, Any]:
    values = {f: getattr(rule, f) for f in fields}
    for f in ("kinds", "priorities", "info_agency_ids"):
        if f in values:
            values[f] = list(values[f] or [])
    return values


# --- reading ---------------------------------------------------------------------------


def list_rules(session: Session) -> list[RoutingRule]:
    """Every rule, active or not, in the order they are tried."""
    return list(session.scalars(select(RoutingRule).order_by(RoutingRule.position, RoutingRule.id)))


def spec_of(rule: RoutingRule) -> RuleSpec:
    """A rule's data, detached from the session."""
    return RuleSpec(
        id=rule.id,
        position=rule.position,
        name=rule.name,
        active=rule.active,
        jurisdiction_id=rule.jurisdiction_id,
        kinds=tuple(rule.kinds or ()),
        priorities=tuple(rule.priorities or ()),
        school_contains=rule.school_contains or "",
        employer_contains=rule.employer_contains or "",
        from_agency_id=rule.from_agency_id,
        agency_id=rule.agency_id,
        team_id=rule.team_id,
        info_agency_ids=tuple(rule.info_agency_ids or ()),
    )


def rule_specs(session: Session) -> list[RuleSpec]:
    """The active rules, in the order they are tried: what routing a report uses."""
    return [spec_of(rule) for rule in list_rules(session) if rule.active]


def _id_names(session: Session, id_column: Any, name_column: Any) -> dict[int, str]:
    return {row_id: name for row_id, name in session.execute(select(id_column, name_column))}


def names(session: Session) -> Names:
    """Display names for reasons and pages: agencies, jurisdictions, teams, kinds."""
    return Names(
        agencies=_id_names(session, Agency.id, Agency.name),
        jurisdictions=_id_names(session, Jurisdiction.id, Jurisdiction.name),
        teams=_id_names(session, Team.id, Team.name),
        kinds={k.value: label for k, label in KIND_LABELS.items()},
    )


def get_rule(session: Session, *, actor: Actor, rule_id: int) -> RoutingRule:
    """One rule for an administrator. Permission is decided before the lookup, so the
    answer does not depend on whether the id exists."""
    require(actor, P.TRIAGE_ROUTING_MANAGE)
    rule = session.get(RoutingRule, rule_id)
    if rule is None:
        raise NotFound(f"No routing rule with id {rule_id}.")
    return rule


# --- validation ------------------------------------------------------------------------


def _rule_input(data: RoutingRuleIn | Mapping[str, Any]) -> RoutingRuleIn:
    return data if isinstance(data, RoutingRuleIn) else validate(RoutingRuleIn, data)


def _agency_problem(session: Session, agency_id: int) -> str | None:
    agency = session.get(Agency, agency_id)
    if agency is None:
        return f"no such agency (id {agency_id})"
    if not agency.active:
        return f"{agency.name} is inactive"
    return None


def _check_references(session: Session, data: RoutingRuleIn) -> None:
    """Every id the rule names exists (and every agency it sends reports to is active);
    else ``InputInvalid`` naming each bad field."""
    errors: dict[str, str] = {}
    if data.jurisdiction_id is not None and session.get(Jurisdiction, data.jurisdiction_id) is None:
        errors["jurisdiction_id"] = f"no such jurisdiction (id {data.jurisdiction_id})"
    if data.from_agency_id is not None and session.get(Agency, data.from_agency_id) is None:
        errors["from_agency_id"] = f"no such agency (id {data.from_agency_id})"
    problem = _agency_problem(session, data.agency_id)
    if problem:
        errors["agency_id"] = problem
    if data.team_id is not None and session.get(Team, data.team_id) is None:
        errors["team_id"] = f"no such team (id {data.team_id})"
    if data.agency_id in data.info_agency_ids:
        errors["info_agency_ids"] = "the owning agency already has the report; it needs no copy"
    else:
        for agency_id in data.info_agency_ids:
            problem = _agency_problem(session, agency_id)
            if problem:
                errors["info_agency_ids"] = problem
                break
    if errors:
        raise InputInvalid(errors)


# --- changes ---------------------------------------------------------------------------


def create_rule(
    session: Session, *, actor: Actor, data: RoutingRuleIn | Mapping[str, Any], now: datetime
) -> RoutingRule:
    """Add a rule at the end of the list (tried last)."""
    require(actor, P.TRIAGE_ROUTING_MANAGE)
    model = _rule_input(data)
    _check_references(session, model)
    last = session.scalar(select(func.max(RoutingRule.position)))
    rule = RoutingRule(
        **model.model_dump(), position=(last or 0) + 1, created_at=now, updated_at=now
    )
    session.add(rule)
    session.flush()
    after = _snapshot(rule, ("position", *RULE_FIELDS))
    _audit(session, actor, "created", rule, {f: [None, v] for f, v in after.items()}, now)
    return rule


def update_rule(
    session: Session,
    *,
    actor: Actor,
    rule: RoutingRule,
    data: RoutingRuleIn | Mapping[str, Any],
    now: datetime,
) -> RoutingRule:
    """Change a rule's name, conditions, owner or copies, or switch it on or off. Its
    place in the list is changed with ``move_rule``."""
    require(actor, P.TRIAGE_ROUTING_MANAGE)
    model = _rule_input(data)
    _check_references(session, model)
    before = _snapshot(rule)
    for field, value in model.model_dump().items():
        setattr(rule, field, value)
    changes = audit.diff(before, _snapshot(rule))
    if changes:
        rule.updated_at = now
        _audit(session, actor, "updated", rule, changes, now)
    session.flush()
    return rule


def delete_rule(session: Session, *, actor: Actor, rule: RoutingRule, now: datetime) -> None:
    """Remove a rule that never routed a report. A rule that did is the stated reason of
    those reports' routing (``triage_suggestions.route_rule_id``), so it cannot be
    deleted: switch it off instead (``active`` false), which keeps the history readable.
    """
    require(actor, P.TRIAGE_ROUTING_MANAGE)
    used = session.scalar(
        select(func.count(TriageSuggestion.id)).where(TriageSuggestion.route_rule_id == rule.id)
    )
    if used:
        raise Conflict(
            f'rule: "{rule.name}" has routed {used} report{"s" if used != 1 else ""}; '
            "switch it off instead of deleting it, so their routing keeps its reason.",
            field="rule",
        )
    before = _snapshot(rule, ("position", *RULE_FIELDS))
    _audit(session, actor, "deleted", rule, {f: [v, None] for f, v in before.items()}, now)
    session.delete(rule)
    session.flush()


def move_rule(
    session: Session, *, actor: Actor, rule: RoutingRule, direction: str, now: datetime
) -> RoutingRule:
    """Move a rule one place up (tried earlier) or down. Positions are renumbered 1..n in
    the new order; the audit event holds the rule's position and the whole order before
    and after. Moving the first rule up or the last down changes nothing."""
    require(actor, P.TRIAGE_ROUTING_MANAGE)
    if direction not in DIRECTIONS:
        raise ValidationFailed(
            f"direction: must be up or down, not '{direction}'.", field="direction"
        )
    rules = list_rules(session)
    index = next(i for i, r in enumerate(rules) if r.id == rule.id)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(rules):
        return rule
    before_order = [r.id for r in rules]
    before_position = rule.position
    rules[index], rules[other] = rules[other], rules[index]
    for number, each in enumerate(rules, start=1):
        if each.position != number:
            each.position = number
            each.updated_at = now
    _audit(
        session,
        actor,
        "moved",
        rule,
        {
            "position": [before_position, rule.position],
            "order": [before_order, [r.id for r in rules]],
        },
        now,
    )
    session.flush()
    return rule


# --- the tester ------------------------------------------------------------------------


def try_route(session: Session, *, actor: Actor, sample_data: Mapping[str, Any]) -> Route:
    """Route a made-up report as a real one would be, writing nothing. Every rule is
    tried, switched-off ones included, so ``checked`` explains each of them too; the
    owner is the same as with ``rule_specs`` (switched-off rules never match)."""
    require(actor, P.TRIAGE_ROUTING_MANAGE)
    data = validate(SampleIn, sample_data)
    errors: dict[str, str] = {}
    if session.get(Jurisdiction, data.jurisdiction_id) is None:
        errors["jurisdiction_id"] = f"no such jurisdiction (id {data.jurisdiction_id})"
    if session.get(Agency, data.from_agency_id) is None:
        errors["from_agency_id"] = f"no such agency (id {data.from_agency_id})"
    if errors:
        raise InputInvalid(errors)
    sample = Sample(**data.model_dump())
    return route(sample, [spec_of(r) for r in list_rules(session)], names=names(session))
