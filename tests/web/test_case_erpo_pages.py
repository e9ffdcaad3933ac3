"""The case page's ERPO tracker through the web: the panel (stages with their times and
the state's deadlines, late marked, the inventory and receipt, the expiry alert), each
form's happy path, and bad input that names the field and writes nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import pytest
from faker import Faker
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from defchain import cases, firearms
from defchain.access import Grant
from defchain.audit import AuditEvent
from defchain.cases import Case
from defchain.errors import ValidationFailed
from defchain.firearms import ErpoOrder, SurrenderedFirearm
from defchain.people import Person
from tests.web.conftest import field_errors

fake = Faker()
Faker.seed(8)
DAY = timedelta(days=1)


@pytest.fixture
def subject(db: Session, clock: Any) -> Person:
    person = Person(display_name=fake.name(), created_at=clock.now())
    db.add(person)
    db.flush()
    return person


@pytest.fixture
def case(db: Session, cast: Any, clock: Any, subject: Person) -> Case:
    """Agency A's case on team T about the subject, led by lead_a (Ohio: no deadline)."""
    opened: Case = cases.open_case(
        db, cast.actor("lead_a"), title="Threats after a custody hearing", team_id=cast.team.id,
        person_ids=[subject.id], now=clock.now(),
    )  # fmt: skip
    return opened


def start(db: Session, cast: Any, clock: Any, case: Case, subject: Person) -> ErpoOrder:
    """An order in California (hearing within 21 days of the ex parte order)."""
    order: ErpoOrder = firearms.create_order(
        db, cast.actor("lead_a"), case_id=case.id, person_id=subject.id, at=clock.now(),
        now=clock.now(), state="CA",
    )  # fmt: skip
    return order


def at_final_order(db: Session, cast: Any, clock: Any, order: ErpoOrder, days: int) -> None:
    """Move the order to a final order that expires ``days`` from now."""
    firearms.advance(
        db, cast.actor("lead_a"), order, stage="final_order", at=clock.now(), now=clock.now(),
        expires_at=clock.now() + days * DAY,
    )  # fmt: skip


def summary(html: str) -> list[str]:
    """The lines of the page's error summary."""
    box = html.split('id="error-summary"', 1)[1].split("</ul>", 1)[0]
    return [" ".join(line.split()) for line in re.findall(r"<li>([^<]+)</li>", box)]


def panel(html: str) -> str:
    """The ERPO section of the case page."""
    return html.split('<section class="margin-top-4" id="erpo"', 1)[1].split("</section>", 1)[0]


def words(html: str) -> str:
    """The text of some HTML, tags stripped, entities decoded, spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def row(html: str, order: ErpoOrder, stage: str) -> str:
    """One stage's row of an order's table, tags stripped."""
    part = html.split(f'id="erpo-{order.id}-{stage}"', 1)[1].split("</tr>", 1)[0]
    return words(part.split(">", 1)[1])


def writes(db: Session) -> tuple[int, int, int]:
    """What a refused form must leave as it was: audit events, orders, firearms."""
    db.expire_all()
    return tuple(  # type: ignore[return-value]
        db.scalar(select(func.count()).select_from(model)) or 0
        for model in (AuditEvent, ErpoOrder, SurrenderedFirearm)
    )


# --- the panel ---------------------------------------------------------------------------


def test_the_panel_starts_empty_with_a_form_to_start_tracking(
    browser_for: Any, cast: Any, case: Case, subject: Person
) -> None:
    page = browser_for(cast.lead_a.id).get(f"/cases/{case.id}")
    assert page.status_code == 200
    section = panel(page.text)
    assert '<h2 id="erpo-heading">Extreme risk protection orders</h2>' in section
    assert "No order tracked on this case." in section
    assert f'action="/cases/{case.id}/erpo"' in section
    assert f'<option value="{subject.id}">{subject.display_name}</option>' in section
    assert "the case&#39;s state (OH)" in section


def test_start_tracking_and_every_form_through_the_web(
    browser_for: Any, cast: Any, db: Session, clock: Any, case: Case, subject: Person
) -> None:
    lead = browser_for(cast.lead_a.id)
    base = f"/cases/{case.id}/erpo"

    def post(path: str, data: dict[str, str]) -> None:
        response = lead.form(path, data)
        assert response.status_code == 303, (path, field_errors(response.text))
        assert response.headers["location"] == f"/cases/{case.id}#erpo"

    post(base, {"person_id": str(subject.id), "drafted_on": "2026-01-05", "state": "ca"})
    order = db.scalars(select(ErpoOrder).where(ErpoOrder.case_id == case.id)).one()
    # 2026-01-05 in New York ends at 04:59 UTC the next day.
    assert (order.stage, order.state) == ("petition_drafted", "CA")
    assert order.petition_drafted_at == datetime(2026, 1, 6, 4, 59, tzinfo=UTC)
    for stage, day in (("filed", "2026-01-06"), ("ex_parte", "2026-01-07")):
        post(f"{base}/{order.id}/stage", {"stage": stage, "at": day, "expires_on": ""})
    db.refresh(order)
    assert order.stage == "ex_parte"
    page = lead.get(f"/cases/{case.id}").text
    assert row(page, order, "hearing") == "Hearing — 2026-01-28"  # 21 days in California
    assert row(page, order, "ex_parte").startswith("Ex parte or temporary order Current 2026-01-07")

    post(f"{base}/{order.id}/stage", {"stage": "hearing", "at": "2026-01-20"})
    post(
        f"{base}/{order.id}/stage",
        {"stage": "final_order", "at": "2026-01-21", "expires_on": "2027-01-21"},
    )
    post(f"{base}/{order.id}/stage", {"stage": "served", "at": "2026-01-22"})
    guns = [(fake.company(), fake.bothify("??#######").upper()) for _ in range(2)]
    post(f"{base}/{order.id}/surrender", {
        "firearms.0.type": "Handgun", "firearms.0.make": guns[0][0],
        "firearms.0.serial_number": guns[0][1], "firearms.0.stored_at": "Sheriff's property room",
        "firearms.1.type": "", "firearms.1.make": "", "firearms.1.serial_number": "",
        "firearms.1.stored_at": "",
        "firearms.2.type": "Rifle", "firearms.2.make": guns[1][0],
        "firearms.2.serial_number": guns[1][1], "firearms.2.stored_at": "Licensed dealer",
        "receipt": "Receipt R-2026-0042", "surrendered_on": "2026-01-23",
    })  # fmt: skip
    post(f"{base}/{order.id}/renew", {"expires_on": "2027-07-21"})
    post(f"{base}/{order.id}/return-date", {"return_on": "2027-07-22"})

    db.refresh(order)
    assert order.stage == "surrendered" and order.receipt == "Receipt R-2026-0042"
    assert order.expires_at == datetime(2027, 7, 22, 3, 59, tzinfo=UTC)  # EDT
    assert order.return_at == datetime(2027, 7, 23, 3, 59, tzinfo=UTC)
    inventory = firearms.erpo.inventory(db, order)
    assert [(f.type, f.make, f.serial_number) for f in inventory] == [
        ("Handgun", guns[0][0], guns[0][1]),
        ("Rifle", guns[1][0], guns[1][1]),
    ]
    page = lead.get(f"/cases/{case.id}").text
    section = words(panel(page))
    assert "Firearms surrendered Current 2026-01-23" in section
    assert "Hearing 2026-01-20 2026-01-28" in section  # held before its deadline
    assert "Late" not in section
    assert f"Handgun {guns[0][0]} {guns[0][1]} Sheriff's property room 2026-01-23" in section
    assert "Receipt R-2026-0042" in section
    assert "Expires 2027-07-21" in section and "Return of firearms 2027-07-22" in section
    assert "expires within 30 days" not in section.lower()
    # Moving on: the surrender has its own form, so the stage form offers only expiry.
    stage_form = page.split(f'id="erpo-{order.id}-stage-form"', 1)[1].split("</form>", 1)[0]
    assert re.findall(r'<option value="(\w+)"', stage_form) == ["expired"]

    post(f"{base}/{order.id}/return-date", {"return_on": ""})  # cleared
    db.refresh(order)
    assert order.return_at is None
    post(f"{base}/{order.id}/stage", {"stage": "expired", "at": "2027-07-21"})
    db.refresh(order)
    assert order.stage == "expired"
    page = lead.get(f"/cases/{case.id}").text
    assert f'id="erpo-{order.id}-stage-form"' not in page
    assert f'id="erpo-{order.id}-renew-form"' not in page


def test_a_hearing_past_its_deadline_is_marked_late(
    browser_for: Any, cast: Any, db: Session, clock: Any, case: Case, subject: Person
) -> None:
    order = start(db, cast, clock, case, subject)
    firearms.advance(
        db, cast.actor("lead_a"), order, stage="ex_parte", at=clock.now(), now=clock.now()
    )
    lead = browser_for(cast.lead_a.id)
    assert "Late" not in row(lead.get(f"/cases/{case.id}").text, order, "hearing")
    clock.advance(days=22)
    lead = browser_for(cast.lead_a.id)  # a new session: the old one has expired
    page = lead.get(f"/cases/{case.id}").text
    hearing = page.split(f'id="erpo-{order.id}-hearing"', 1)[1].split("</tr>", 1)[0]
    assert '<span class="dc-danger">2026-01-26</span>' in hearing
    assert '<span class="usa-tag usa-tag--new">Late</span>' in hearing
    # Held after the deadline: still marked late.
    firearms.advance(
        db, cast.actor("lead_a"), order, stage="hearing", at=clock.now(), now=clock.now()
    )
    assert "Late" in row(lead.get(f"/cases/{case.id}").text, order, "hearing")


def test_an_order_expiring_within_30_days_asks_for_a_renewal_review(
    browser_for: Any, cast: Any, db: Session, clock: Any, case: Case, subject: Person
) -> None:
    order = start(db, cast, clock, case, subject)
    at_final_order(db, cast, clock, order, days=45)
    lead = browser_for(cast.lead_a.id)
    assert f'id="erpo-{order.id}-expiring"' not in lead.get(f"/cases/{case.id}").text
    clock.advance(days=16)
    page = browser_for(cast.lead_a.id).get(f"/cases/{case.id}").text
    alert = page.split(f'id="erpo-{order.id}-expiring"', 1)[1].split("</div></div>", 1)[0]
    assert "Expires within 30 days — review a renewal." in alert
    assert "2026-02-19" in alert


def test_the_forms_are_only_for_those_who_may_change_the_case(
    browser_for: Any, cast: Any, db: Session, clock: Any, case: Case, subject: Person
) -> None:
    order = start(db, cast, clock, case, subject)
    db.add(
        Grant(
            resource_type="case", resource_id=case.id, grantee_type="user",
            grantee_id=cast.user_c.id, level="read", reason="Consulted", created_at=clock.now(),
        )
    )  # fmt: skip
    db.flush()
    reader = browser_for(cast.user_c.id)
    page = reader.get(f"/cases/{case.id}")
    assert page.status_code == 200
    section = panel(page.text)
    assert f'id="erpo-{order.id}-stages"' in section
    assert "<form" not in section
    response = reader.form(f"/cases/{case.id}/erpo/{order.id}/stage", {"stage": "filed"})
    assert response.status_code == 403


# --- bad input -----------------------------------------------------------------------------

# (path after /cases/{case}/erpo, form, field named in the summary, its message)
BAD_INPUT = [
    ("", {"person_id": "", "drafted_on": "2026-01-05"}, "Person",
     "choose a subject of the case"),
    ("", {"person_id": "{other}", "drafted_on": "2026-01-05"}, "Person",
     "choose a subject of the case"),
    ("", {"person_id": "{subject}", "drafted_on": ""}, "Petition drafted on",
     "enter the date, like 2026-03-31"),
    ("", {"person_id": "{subject}", "drafted_on": "05/01/2026"}, "Petition drafted on",
     "enter a date like 2026-03-31"),
    ("", {"person_id": "{subject}", "drafted_on": "2026-01-05", "state": "C1"}, "State",
     "a two-letter state code, like CA"),
    ("/{order}/stage", {"stage": "", "at": "2026-01-06"}, "Stage",
     "choose the stage the order reached"),
    ("/{order}/stage", {"stage": "filed", "at": ""}, "Date of the stage",
     "enter the date, like 2026-03-31"),
    ("/{order}/stage", {"stage": "filed", "at": "2026-02-30"}, "Date of the stage",
     "enter a date like 2026-03-31"),
    ("/{order}/stage", {"stage": "filed", "at": "2026-01-01"}, "Date of the stage",
     "before the stage already recorded"),
    ("/{order}/stage", {"stage": "petition_drafted", "at": "2026-01-06"}, "Stage",
     "the order is at petition drafted; it can move to petition filed; ex parte or "
     "temporary order; hearing; final order; order served; firearms surrendered; expired"),
    ("/{order}/stage", {"stage": "final_order", "at": "2026-01-06", "expires_on": ""},
     "Expires on", "a final order needs the day it expires"),
    ("/{order}/stage", {"stage": "final_order", "at": "2026-01-06", "expires_on": "2026-01-06"},
     "Expires on", "when the final order ends"),
    ("/{order}/stage", {"stage": "surrendered", "at": "2026-01-06"}, "Stage",
     "record the surrender with its inventory and receipt"),
    ("/{order}/surrender", {"receipt": "R-1", "surrendered_on": "2026-01-06"},
     "Firearms surrendered", "list at least one firearm surrendered"),
    ("/{order}/surrender", {"firearms.1.make": "Acme", "firearms.1.stored_at": "Evidence room",
                            "receipt": "R-1", "surrendered_on": "2026-01-06"},
     "Firearm 2: type", "enter the type of firearm"),
    ("/{order}/surrender", {"firearms.0.type": "Handgun", "receipt": "R-1",
                            "surrendered_on": "2026-01-06"},
     "Firearm 1: where stored", "enter where it is stored"),
    ("/{order}/surrender", {"firearms.0.type": "Handgun", "firearms.0.stored_at": "Evidence room",
                            "receipt": " ", "surrendered_on": "2026-01-06"},
     "Receipt", "the receipt given (its number or text)"),
    ("/{order}/surrender", {"firearms.0.type": "Handgun", "firearms.0.stored_at": "Evidence room",
                            "receipt": "R-1", "surrendered_on": ""},
     "Surrendered on", "enter the date, like 2026-03-31"),
    ("/{order}/renew", {"expires_on": "2026-06-01"}, "Stage",
     "only an order in force can be renewed"),
    ("/{order}/renew", {"expires_on": ""}, "Expires on", "enter the date, like 2026-03-31"),
    ("/{order}/return-date", {"return_on": "next week"}, "Return of firearms on",
     "enter a date like 2026-03-31"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "data", "label", "message"), BAD_INPUT)
def test_bad_input_names_the_field_and_writes_nothing(
    browser_for: Any,
    cast: Any,
    db: Session,
    clock: Any,
    case: Case,
    subject: Person,
    path: str,
    data: dict[str, str],
    label: str,
    message: str,
) -> None:
    order = start(db, cast, clock, case, subject)
    other = Person(display_name=fake.name(), created_at=clock.now())
    db.add(other)
    db.flush()
    ids = {"subject": subject.id, "other": other.id, "order": order.id}
    before = writes(db)
    response = browser_for(cast.lead_a.id).form(
        f"/cases/{case.id}/erpo{path.format(**ids)}",
        {k: v.format(**ids) for k, v in data.items()},
    )
    assert response.status_code == 422
    assert summary(response.text) == [f"{label}: {message}"]
    assert f"{label}: {message}" in field_errors(response.text)
    assert writes(db) == before
    db.refresh(order)
    assert (order.stage, order.expires_at, order.receipt) == ("petition_drafted", None, "")


def test_renewal_must_come_after_the_current_expiry(
    browser_for: Any, cast: Any, db: Session, clock: Any, case: Case, subject: Person
) -> None:
    order = start(db, cast, clock, case, subject)
    at_final_order(db, cast, clock, order, days=365)
    expires, before = order.expires_at, writes(db)
    response = browser_for(cast.lead_a.id).form(
        f"/cases/{case.id}/erpo/{order.id}/renew", {"expires_on": "2026-06-01"}
    )
    assert response.status_code == 422
    assert summary(response.text) == ["Expires on: after the current expiry"]
    assert f'id="erpo-{order.id}-renew-expires-error"' in response.text
    assert writes(db) == before
    db.refresh(order)
    assert order.expires_at == expires


def test_an_order_of_another_case_is_not_found(
    browser_for: Any, cast: Any, db: Session, clock: Any, case: Case, subject: Person
) -> None:
    order = start(db, cast, clock, case, subject)
    elsewhere = cases.open_case(
        db, cast.actor("lead_a"), title="Another matter", team_id=cast.team.id,
        person_ids=[subject.id], now=clock.now(),
    )  # fmt: skip
    lead = browser_for(cast.lead_a.id)
    for action, data in (
        ("stage", {"stage": "filed", "at": "2026-01-06"}),
        ("renew", {"expires_on": "2027-01-06"}),
        ("return-date", {"return_on": ""}),
        ("surrender", {"firearms.0.type": "Rifle", "firearms.0.stored_at": "Vault",
                       "receipt": "R-1", "surrendered_on": "2026-01-06"}),
    ):  # fmt: skip
        response = lead.form(f"/cases/{elsewhere.id}/erpo/{order.id}/{action}", data)
        assert response.status_code == 404, action
    db.refresh(order)
    assert order.stage == "petition_drafted"


def surrendered(db: Session, cast: Any, clock: Any, case: Case, subject: Person) -> ErpoOrder:
    """An order served and surrendered (one handgun, receipt R-1) today."""
    order = start(db, cast, clock, case, subject)
    at_final_order(db, cast, clock, order, 365)
    firearms.record_surrender(
        db, cast.actor("lead_a"), order, receipt="R-1", at=clock.now(), now=clock.now(),
        firearms=[firearms.FirearmIn("Handgun", "Acme", "SN-1", "Property room")],
    )  # fmt: skip
    return order


def test_firearms_surrendered_later_join_the_inventory_with_their_receipt(
    browser_for: Any, cast: Any, db: Session, clock: Any, case: Case, subject: Person
) -> None:
    order = surrendered(db, cast, clock, case, subject)
    lead = browser_for(cast.lead_a.id)
    page = lead.get(f"/cases/{case.id}").text
    assert f'action="/cases/{case.id}/erpo/{order.id}/inventory"' in page
    day = (clock.now() + DAY).date().isoformat()
    response = lead.form(f"/cases/{case.id}/erpo/{order.id}/inventory", {
        "firearms.0.type": "Rifle", "firearms.0.stored_at": "Licensed dealer",
        "firearms.1.type": "Shotgun", "firearms.1.make": "Example", "firearms.1.stored_at": "Vault",
        "receipt": "R-2 (found at the cabin)", "received_on": day,
    })  # fmt: skip
    assert response.status_code == 303, field_errors(response.text)
    db.refresh(order)
    inventory = firearms.erpo.inventory(db, order)
    assert [f.type for f in inventory] == ["Handgun", "Rifle", "Shotgun"]
    assert order.receipt == "R-1\nR-2 (found at the cabin)"
    tags = db.scalars(
        select(AuditEvent.tag).where(
            AuditEvent.subject_type == "erpo", AuditEvent.subject_id == str(order.id)
        )
    ).all()
    assert "firearms:erpo:inventory_added" in tags


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"receipt": "R-2", "received_on": "2030-01-01"}, "Firearms surrendered"),
        (
            {"firearms.0.type": "Rifle", "receipt": "R-2", "received_on": "2030-01-01"},
            "Firearm 1: where stored",
        ),
        (
            {
                "firearms.0.type": "Rifle",
                "firearms.0.stored_at": "Vault",
                "receipt": "",
                "received_on": "2030-01-01",
            },
            "Receipt",
        ),
        (
            {
                "firearms.0.type": "Rifle",
                "firearms.0.stored_at": "Vault",
                "receipt": "R-2",
                "received_on": "2000-01-01",
            },
            "Received on",
        ),
        (
            {
                "firearms.0.type": "Rifle",
                "firearms.0.stored_at": "Vault",
                "receipt": "R-2",
                "received_on": "soon",
            },
            "Received on",
        ),
    ],
)
def test_a_bad_later_surrender_names_the_field_and_adds_nothing(
    browser_for: Any,
    cast: Any,
    db: Session,
    clock: Any,
    case: Case,
    subject: Person,
    data: dict[str, str],
    field: str,
) -> None:
    order = surrendered(db, cast, clock, case, subject)
    before = db.scalar(select(func.count()).select_from(SurrenderedFirearm))
    response = browser_for(cast.lead_a.id).form(f"/cases/{case.id}/erpo/{order.id}/inventory", data)
    assert response.status_code == 422
    assert any(line.startswith(f"{field}:") for line in summary(response.text)), summary(
        response.text
    )
    assert db.scalar(select(func.count()).select_from(SurrenderedFirearm)) == before
    db.refresh(order)
    assert order.receipt == "R-1"


def test_firearms_cannot_be_added_before_the_surrender(
    cast: Any, db: Session, clock: Any, case: Case, subject: Person
) -> None:
    order = start(db, cast, clock, case, subject)
    with pytest.raises(ValidationFailed, match="record the surrender first"):
        firearms.add_firearms(
            db, cast.actor("lead_a"), order, receipt="R", at=clock.now(), now=clock.now(),
            firearms=[firearms.FirearmIn("Rifle", "", "", "Vault")],
        )  # fmt: skip
