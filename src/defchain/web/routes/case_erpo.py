"""The case page's ERPO tracker: each extreme risk protection order pursued on the case,
stage by stage, with the state's deadlines, the surrender inventory and receipt, the
expiry (and its renewal) and the return-of-firearms date.

Each form posts here, calls one ``firearms.erpo`` service function and goes back to the
case page (``#erpo``); any problem re-shows the case page (``cases._case_page``) naming
the field, and the unit of work rolls back, so nothing is written.

**Dates.** Every date is typed as an ISO date (``<input type="date">``) and means the
*end* of that day (23:59) in the case's time zone, like the check-in dates of
``case_forms.day_end``: a stage reached on a day is counted as reached by the end
of it, so a hearing held on the last day the law allows is on time (the deadline, the
ex parte order's day-end plus N days, is a day-end too); an order expiring on a day is
in force through that day; the return of the firearms is due by the end of its day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from defchain.access import Actor, Agency, Permission, can
from defchain.cases import Case
from defchain.cases import queries as case_queries
from defchain.errors import NotFound, ValidationFailed
from defchain.firearms import erpo, queries
from defchain.firearms.models import ErpoOrder
from defchain.firearms.rules import (
    ERPO_STAGE_LABELS,
    IN_FORCE,
    STAGE_FIELD,
    ErpoStage,
    may_add_firearms,
    reached_late,
)
from defchain.web import case_forms
from defchain.web import report_forms as rf
from defchain.web.case_forms import CaseForm
from defchain.web.deps import Ctx, CurrentActor, Db, SubmittedForm
from defchain.web.routes import case_lifecycle
from defchain.web.routes import cases as case_pages

router = APIRouter()
P = Permission

INVENTORY_ROWS = 3  # blank firearm rows on the surrender form
MAX_INVENTORY_ROWS = 20  # rows read from a submitted form
FIREARM_FIELDS = {
    "type": "type",
    "make": "make",
    "serial_number": "serial number",
    "stored_at": "where stored",
}

# How this panel's form fields are named in the page's error summary ("person_id" is
# already "Person" on the case page).
FIELD_NAMES = {
    "drafted_on": "Petition drafted on",
    "state": "State",
    "stage": "Stage",
    "at": "Date of the stage",
    "expires_on": "Expires on",
    "firearms": "Firearms surrendered",
    "receipt": "Receipt",
    "surrendered_on": "Surrendered on",
    "return_on": "Return of firearms on",
    "received_on": "Received on",
    **{
        f"firearms.{index}.{name}": f"Firearm {index + 1}: {label}"
        for index in range(MAX_INVENTORY_ROWS)
        for name, label in FIREARM_FIELDS.items()
    },
}
# The surrender form's fields that have a place of their own on the form.
_SURRENDER_FIELDS = (
    "firearms",
    "receipt",
    "surrendered_on",
    *(f"firearms.{i}.{name}" for i in range(INVENTORY_ROWS) for name in FIREARM_FIELDS),
)
# The service names a stage's date by its column; the stage form calls it "at".
_STAGE_DATES = {column: "at" for column in STAGE_FIELD.values()}


# --- the panel's context ---------------------------------------------------------------------


def _zone(db: Session, case: Case) -> ZoneInfo:
    agency = db.get(Agency, case.agency_id)
    return rf.zone(agency.jurisdiction.timezone if agency else None)


def _order_view(
    db: Session, actor: Actor, order: ErpoOrder, names: dict[int, str], now: datetime
) -> dict[str, Any]:
    """One order as the panel shows it: ``queries.erpo_context`` plus what the forms
    need (the stages the stage form offers; whether surrender, renewal and the return
    date apply) and, per stage, whether it was reached after its deadline."""
    shown = queries.erpo_context(db, actor, order.id, now)
    current = ErpoStage(order.stage)
    moves = [(v, label) for v, label in shown["allowed"] if v != ErpoStage.SURRENDERED]
    stages = [{**s, "reached_late": reached_late(s["at"], s["due_at"])} for s in shown["stages"]]
    may_surrender = ErpoStage.SURRENDERED.value in {v for v, _ in shown["allowed"]}
    may_renew, may_return = current in IN_FORCE, order.surrendered_at is not None
    forms = {"stage": bool(moves), "surrender": may_surrender, "renew": may_renew}
    forms["return"] = may_return
    forms["more"] = may_add_firearms(current)  # firearms surrendered later
    view: dict[str, Any] = {
        **shown,
        "stages": stages,
        "person_name": names.get(order.person_id, f"Person #{order.person_id}"),
        "stage_label": ERPO_STAGE_LABELS[current],
        # The surrender has its own form (it needs the inventory and the receipt).
        "moves": moves,
        "may_surrender": may_surrender,
        "may_renew": may_renew,
        "may_return": may_return,
        # The forms the panel shows for this order, by the end of their key.
        "forms": {name for name, on in forms.items() if on},
    }
    return view


def context(db: Session, actor: Actor, case: Case, now: datetime) -> dict[str, Any]:
    """What this module adds to the case page's template context: every order of the
    case (each through ``firearms.queries.erpo_context``), the subjects an order may be
    about, and whether the actor may change the case (the forms are shown only then)."""
    subjects = case_queries.subjects_of(db, case)
    names = {p.id: p.display_name for p in subjects}
    orders = [_order_view(db, actor, o, names, now) for o in erpo.orders_of_case(db, case.id)]
    tz = _zone(db, case)
    return {
        "FIELD_NAMES": {**case_pages.FIELD_NAMES, **case_lifecycle.FIELD_NAMES, **FIELD_NAMES},
        "erpo_orders": orders,
        "erpo_subjects": subjects,
        "erpo_may_update": can(actor, P.CASES_CASE_UPDATE, case),
        "erpo_state": erpo.case_state(db, case),
        "erpo_rows": INVENTORY_ROWS,
        "erpo_firearm_fields": FIREARM_FIELDS,
        "erpo_surrender_fields": _SURRENDER_FIELDS,
        "erpo_day": lambda moment: _day_shown(moment, tz),
    }


def _day_shown(moment: datetime | None, tz: ZoneInfo) -> str:
    """The local date of a moment (``""`` for none): the panel's dates are whole days."""
    return moment.astimezone(tz).date().isoformat() if moment is not None else ""


# --- form plumbing ---------------------------------------------------------------------------


_text = case_forms.text


def _firearms(values: dict[str, Any]) -> list[erpo.FirearmIn]:
    """The inventory rows typed (``firearms.N.type`` …); fully blank rows are ignored,
    and a row that is not blank needs its type and where it is stored."""
    rows: list[erpo.FirearmIn] = []
    for index in range(MAX_INVENTORY_ROWS):
        typed = {name: _text(values, f"firearms.{index}.{name}") for name in FIREARM_FIELDS}
        if not any(typed.values()):
            continue
        for name, what in (("type", "the type of firearm"), ("stored_at", "where it is stored")):
            if not typed[name]:
                field = f"firearms.{index}.{name}"
                raise ValidationFailed(f"{field}: enter {what}", field=field)
        rows.append(erpo.FirearmIn(**typed))
    if not rows:
        raise ValidationFailed("firearms: list at least one firearm surrendered", field="firearms")
    return rows


@dataclass
class _Form(CaseForm):
    """A submitted form of the ERPO panel."""

    def order(self, order_id: int) -> ErpoOrder:
        """The order, which must be one of this case's."""
        found = self.db.get(ErpoOrder, order_id)
        if found is None or found.case_id != self.case.id:
            raise NotFound(f"No ERPO order with id {order_id} on this case.")
        return found


def _form(request: Request, db: Session, actor: Actor, case_id: int, submitted: Any) -> _Form:
    """The case (the actor must be able to change it) and the submitted fields."""
    f = case_forms.case_form(request, db, actor, case_id, submitted, "erpo")
    return _Form(f.request, f.db, f.actor, f.case, f.values, f.anchor)


# --- the routes ------------------------------------------------------------------------------


@router.post("/cases/{case_id}/erpo")
def start_order(
    request: Request, db: Db, ctx: Ctx, actor: CurrentActor, case_id: int, submitted: SubmittedForm
) -> Response:
    """Start tracking an ERPO about a subject of the case, at the drafted petition
    (``person_id``, ``drafted_on``; ``state`` defaults to the case's)."""
    f = _form(request, db, actor, case_id, submitted)

    def work() -> object:
        person = f.text("person_id")
        if not person.isdigit():
            raise ValidationFailed("person_id: choose a subject of the case", field="person_id")
        state = f.text("state").upper()
        if state and not (len(state) == 2 and state.isascii() and state.isalpha()):
            raise ValidationFailed("state: a two-letter state code, like CA", field="state")
        return erpo.create_order(
            db, actor, case_id=f.case.id, person_id=int(person), at=f.day("drafted_on"),
            now=ctx.clock.now(), state=state or None,
        )  # fmt: skip

    return f.act("erpo-new", work, rename={"petition_drafted_at": "drafted_on"})


@router.post("/cases/{case_id}/erpo/{order_id}/stage")
def move_stage(
    request: Request,
    db: Db,
    ctx: Ctx,
    actor: CurrentActor,
    case_id: int,
    order_id: int,
    submitted: SubmittedForm,
) -> Response:
    """Move the order to a later stage (``stage``) reached on a day (``at``); a final
    order also needs its expiry (``expires_on``). The surrender has its own form."""
    f = _form(request, db, actor, case_id, submitted)
    order = f.order(order_id)

    def work() -> object:
        stage = f.text("stage")
        if not stage:
            raise ValidationFailed("stage: choose the stage the order reached", field="stage")
        if stage == ErpoStage.SURRENDERED:
            raise ValidationFailed(
                "stage: record the surrender with its inventory and receipt", field="stage"
            )
        at = f.day("at")
        expires_at = None
        if stage == ErpoStage.FINAL_ORDER:
            if not f.text("expires_on"):
                raise ValidationFailed(
                    "expires_on: a final order needs the day it expires", field="expires_on"
                )
            expires_at = f.day("expires_on")
        return erpo.advance(
            db, actor, order, stage=stage, at=at, now=ctx.clock.now(), expires_at=expires_at
        )

    rename = {**_STAGE_DATES, "expires_at": "expires_on"}
    return f.act(f"erpo-{order.id}-stage", work, rename=rename)


@router.post("/cases/{case_id}/erpo/{order_id}/surrender")
def surrender(
    request: Request,
    db: Db,
    ctx: Ctx,
    actor: CurrentActor,
    case_id: int,
    order_id: int,
    submitted: SubmittedForm,
) -> Response:
    """Record the surrender: the inventory (rows ``firearms.N.type``, ``.make``,
    ``.serial_number``, ``.stored_at``; blank rows ignored), the ``receipt`` and the day
    (``surrendered_on``). The order moves to "firearms surrendered"."""
    f = _form(request, db, actor, case_id, submitted)
    order = f.order(order_id)

    def work() -> object:
        firearms = _firearms(f.values)
        return erpo.record_surrender(
            db, actor, order, firearms=firearms, receipt=f.text("receipt"),
            at=f.day("surrendered_on"), now=ctx.clock.now(),
        )  # fmt: skip

    rename = {column: "surrendered_on" for column in STAGE_FIELD.values()}
    return f.act(f"erpo-{order.id}-surrender", work, rename=rename)


@router.post("/cases/{case_id}/erpo/{order_id}/renew")
def renew(
    request: Request,
    db: Db,
    ctx: Ctx,
    actor: CurrentActor,
    case_id: int,
    order_id: int,
    submitted: SubmittedForm,
) -> Response:
    """Renew an order in force: its new expiry day (``expires_on``)."""
    f = _form(request, db, actor, case_id, submitted)
    order = f.order(order_id)
    return f.act(f"erpo-{order.id}-renew", lambda: erpo.renew(
        db, actor, order, expires_at=f.day("expires_on"), now=ctx.clock.now()
    ), rename={"expires_at": "expires_on"})  # fmt: skip


@router.post("/cases/{case_id}/erpo/{order_id}/return-date")
def return_date(
    request: Request,
    db: Db,
    ctx: Ctx,
    actor: CurrentActor,
    case_id: int,
    order_id: int,
    submitted: SubmittedForm,
) -> Response:
    """Set the day the surrendered firearms are to be (or were) returned
    (``return_on``); left blank, the date is cleared."""
    f = _form(request, db, actor, case_id, submitted)
    order = f.order(order_id)

    def work() -> object:
        when = f.day("return_on") if f.text("return_on") else None
        return erpo.set_return_date(db, actor, order, return_at=when, now=ctx.clock.now())

    return f.act(f"erpo-{order.id}-return", work, rename={"return_at": "return_on"})


@router.post("/cases/{case_id}/erpo/{order_id}/inventory")
def add_to_inventory(
    request: Request,
    db: Db,
    ctx: Ctx,
    actor: CurrentActor,
    case_id: int,
    order_id: int,
    submitted: SubmittedForm,
) -> Response:
    """Firearms surrendered after the first surrender: the rows (as on the surrender
    form), their ``receipt`` and the day they were received (``received_on``)."""
    f = _form(request, db, actor, case_id, submitted)
    order = f.order(order_id)

    def work() -> object:
        firearms = _firearms(f.values)
        return erpo.add_firearms(
            db, actor, order, firearms=firearms, receipt=f.text("receipt"),
            at=f.day("received_on"), now=ctx.clock.now(),
        )  # fmt: skip

    return f.act(f"erpo-{order.id}-more", work, rename={"at": "received_on"})
