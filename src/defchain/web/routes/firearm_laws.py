"""The firearm-law reference table: a state's rows with every unverified cell marked, the
edit form (jurisdiction writers; a reason is required), a row's change history, and the
context of the case page's "options in this jurisdiction" panel."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from defchain import reference
from defchain.access import (
    Actor,
    Agency,
    Jurisdiction,
    Permission,
    Team,
    TeamMembership,
    User,
    can,
    require,
)
from defchain.reference import FirearmLaw
from defchain.reference.rules import MAX_LENGTHS, PETITIONER_KIND_LABELS, TEXT_FIELDS
from defchain.web.deps import Ctx, CurrentActor, Db, SubmittedForm
from defchain.web.forms import form_values
from defchain.web.templating import render, render_form

router = APIRouter(prefix="/reference/firearm-laws")
P = Permission
LIST_FIELDS = ("petitioner_kinds", "verified")
BANNER = "This table is a starting point, not legal advice; verify against the statute."
_STATE = re.compile(r"^[A-Za-z]{2}$")


def labels() -> dict[str, Any]:
    """What the law templates (pages and the case panel) need to name things."""
    return {
        "BANNER": BANNER,
        "UNVERIFIED_TEXT": reference.UNVERIFIED_TEXT,
        "LAW_FIELDS": reference.FIELD_LABELS,
        "INSTRUMENT_LABELS": {str(k): v for k, v in reference.INSTRUMENT_LABELS.items()},
        "PETITIONER_KIND_LABELS": {str(k): v for k, v in PETITIONER_KIND_LABELS.items()},
        "VERIFIABLE_FIELDS": reference.VERIFIABLE_FIELDS,
    }


def _chosen_state(db: Session, actor: Actor, raw: str) -> str | None:
    """``?state=`` when it is a two-letter code, else the actor's own state."""
    if _STATE.match(raw.strip()):
        return raw.strip().upper()
    return reference.actor_state(db, actor)


@router.get("")
def law_table(
    request: Request, db: Db, actor: CurrentActor, state: str = "", saved: int = 0
) -> Response:
    """The laws of one state (the actor's own unless ``?state=`` says another)."""
    require(actor, P.REFERENCE_LAW_READ)
    chosen = _chosen_state(db, actor, state)
    laws = reference.laws_for_state(db, chosen) if chosen else []
    rows = [
        {
            "law": law,
            "unverified": reference.unverified_fields(law.verified),
            "editable": reference.may_edit(db, actor, law),
        }
        for law in laws
    ]
    context = {
        **labels(),
        "state": chosen,
        "states": sorted({*reference.states(db), *([chosen] if chosen else [])}),
        "rows": rows,
        "saved": saved,
    }
    return render(request, "reference/firearm_laws.html", context)


def _values_of(law: FirearmLaw) -> dict[str, Any]:
    """The form's values for a row as stored."""
    values: dict[str, Any] = {name: getattr(law, name) for name in TEXT_FIELDS}
    values["petitioner_kinds"] = list(law.petitioner_kinds)
    values["verified"] = [f for f in reference.VERIFIABLE_FIELDS if law.verified.get(f) is True]
    values["as_of"] = law.as_of.isoformat() if law.as_of else ""
    return values


def _edit_page(
    request: Request, law: FirearmLaw, values: dict[str, Any], errors: dict[str, str] | None = None
) -> Response:
    context = {
        **labels(),
        "law": law,
        "values": values,
        "errors": errors or {},
        "MAX_LENGTHS": MAX_LENGTHS,
    }
    return render_form(request, "reference/firearm_law_form.html", context, errors or {})


@router.get("/{law_id}/edit")
def edit_form(request: Request, db: Db, actor: CurrentActor, law_id: int) -> Response:
    """The edit form of one row (administrators; jurisdiction writers of that state)."""
    require(actor, P.ACCESS_JURISDICTION_WRITE)
    law = reference.get_law(db, law_id)
    reference.require_edit(db, actor, law)
    return _edit_page(request, law, _values_of(law))


@router.post("/{law_id}/edit")
def save_law(
    request: Request, db: Db, ctx: Ctx, actor: CurrentActor, submitted: SubmittedForm, law_id: int
) -> Response:
    """Save an edit with its reason; every problem is shown by its field."""
    require(actor, P.ACCESS_JURISDICTION_WRITE)
    law = reference.get_law(db, law_id)
    values = form_values(submitted, LIST_FIELDS)
    reason = str(values.pop("reason", ""))
    try:  # an unknown field is refused by name, like any other problem
        reference.update_law(db, actor, law, values=values, reason=reason, now=ctx.clock.now())
    except reference.LawEditInvalid as exc:
        return _edit_page(request, law, {**values, "reason": reason}, exc.errors)
    target = f"/reference/firearm-laws?state={law.state}&saved={law.id}#law-{law.id}"
    return RedirectResponse(target, status_code=303)


@router.get("/{law_id}/history")
def law_history(request: Request, db: Db, actor: CurrentActor, law_id: int) -> Response:
    """Every edit of one row, newest first: when, who, why, and each field's old and new."""
    require(actor, P.REFERENCE_LAW_READ)
    law = reference.get_law(db, law_id)
    context = {**labels(), "law": law, "entries": reference.history(db, law)}
    return render(request, "reference/firearm_law_history.html", context)


# --- the case page's panel ----------------------------------------------------------------


def _case_place(db: Session, case: Any) -> tuple[str | None, list[tuple[str, str]]]:
    """The case's state (its team's jurisdiction, else its agency's) and the ``(name,
    kind)`` of the active agencies working it: the owning agency and the team members'."""
    team = db.get(Team, case.team_id) if case.team_id else None
    agency = db.get(Agency, case.agency_id)
    jurisdiction_id = team.jurisdiction_id if team else agency.jurisdiction_id if agency else None
    jurisdiction = db.get(Jurisdiction, jurisdiction_id) if jurisdiction_id else None
    agency_ids = {case.agency_id}
    if team is not None:
        members = select(User.agency_id).join(TeamMembership, TeamMembership.user_id == User.id)
        agency_ids |= set(db.scalars(members.where(TeamMembership.team_id == team.id)))
    rows = db.execute(
        select(Agency.name, Agency.kind).where(Agency.id.in_(agency_ids), Agency.active)
    )
    return (jurisdiction.state if jurisdiction else None), [(name, kind) for name, kind in rows]


def case_options_context(db: Session, actor: Actor, case: Any) -> dict[str, Any]:
    """The context of ``reference/_case_options.html`` for a case page: the instruments
    of the case's state, which of the team's agencies may petition under each, and their
    unverified fields. Empty options when the actor may not read the law table."""
    if not can(actor, P.REFERENCE_LAW_READ):
        return {**labels(), "firearm_law_state": None, "firearm_options": None}
    state, agencies = _case_place(db, case)
    return {
        **labels(),
        "firearm_law_state": state,
        "firearm_options": reference.options_for_case(db, state, agencies),
    }
