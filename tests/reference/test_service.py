"""Editing the firearm-law table: audited with a history, scoped to the editor's state,
bad input refused by field; and a case's options with the team's petitioners."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from defchain.access import Actor, Permission, Role
from defchain.access import rules as access_rules
from defchain.audit import AuditEvent
from defchain.clock import FrozenClock
from defchain.errors import PermissionDenied
from defchain.reference import (
    UNVERIFIED_TEXT,
    FirearmLaw,
    FirearmLawChange,
    LawEditInvalid,
    history,
    laws_for_state,
    load_seed,
    options_for_case,
    seed,
    update_law,
)
from defchain.reference.rules import edit_changes, parse_edit, petitioning_agencies
from tests.conftest import Cast

CITATION = "Cal. Penal Code § 18100 et seq."


@pytest.fixture
def laws(db: Session, clock: FrozenClock) -> dict[str, FirearmLaw]:
    """The shipped rows, by state."""
    seed(db, clock.now())
    return {law.state: law for law in db.scalars(select(FirearmLaw))}


def events(db: Session) -> list[AuditEvent]:
    tag = "reference:firearm_law:updated"
    return list(db.scalars(select(AuditEvent).where(AuditEvent.tag == tag)))


def test_an_edit_is_audited_and_shows_in_the_history(
    db: Session, cast: Cast, clock: FrozenClock, laws: dict[str, FirearmLaw]
) -> None:
    admin = cast.actor("admin")
    ca = laws["CA"]

    change = update_law(
        db, admin, ca, values={"citation": f"  {CITATION} ", "as_of": "2025-01-02"},
        reason="Read the code section", now=clock.now(),
    )  # fmt: skip

    assert (ca.citation, ca.as_of) == (CITATION, date(2025, 1, 2))
    assert (ca.updated_at, ca.updated_by_user_id) == (clock.now(), cast.admin.id)
    assert change.changes == {"citation": ["", CITATION], "as_of": ["2023-04-05", "2025-01-02"]}
    (event,) = events(db)
    assert (event.subject_type, event.subject_id, event.actor_id) == (
        "firearm_law", str(ca.id), cast.admin.id
    )  # fmt: skip
    assert event.changes == {**change.changes, "reason": [None, "Read the code section"]}
    (entry,) = history(db, ca)
    assert (entry.who, entry.reason, entry.at) == ("Admin", "Read the code section", clock.now())
    assert entry.changes == change.changes


def test_marking_a_field_verified_is_an_edit_of_its_own(
    db: Session, cast: Cast, clock: FrozenClock, laws: dict[str, FirearmLaw]
) -> None:
    admin, dc = cast.actor("admin"), laws["DC"]
    update_law(db, admin, dc, values={"citation": "D.C. Code"}, reason="Found", now=clock.now())
    clock.advance(minutes=5)
    ticked = ["petitioners", "final_order"]
    update_law(db, admin, dc, values={"verified": ticked}, reason="Checked", now=clock.now())

    assert dc.verified == {
        "petitioners": True, "ex_parte": False, "final_order": True,
        "standard_of_proof": False, "citation": False,
    }  # fmt: skip
    newest, _ = history(db, dc)
    assert newest.changes == {
        "verified.petitioners": [False, True],
        "verified.final_order": [False, True],
    }
    assert events(db)[-1].changes["verified.final_order"] == [False, True]


def test_an_edit_that_changes_nothing_is_refused(
    db: Session, cast: Cast, clock: FrozenClock, laws: dict[str, FirearmLaw]
) -> None:
    with pytest.raises(LawEditInvalid) as refused:
        update_law(
            db, cast.actor("admin"), laws["CO"], values={"final_order": "364 days"},
            reason="Nothing new", now=clock.now(),
        )  # fmt: skip
    assert set(refused.value.errors) == {"form"}
    assert events(db) == []


def test_bad_input_is_refused_field_by_field_and_nothing_is_kept(
    db: Session, cast: Cast, clock: FrozenClock, laws: dict[str, FirearmLaw]
) -> None:
    ny = laws["NY"]
    tomorrow = (clock.now() + timedelta(days=1)).date().isoformat()
    with pytest.raises(LawEditInvalid) as refused:
        update_law(
            db, cast.actor("admin"), ny,
            values={
                "source_url": "javascript:alert(1)",
                "as_of": tomorrow,
                "citation": "x" * 501,
                "name": "  ",
                "petitioner_kinds": ["law_enforcement", "neighbour"],
                "verified": {"guidance_use": True},
                "colour": "red",
            },
            reason="", now=clock.now(),
        )  # fmt: skip
    assert refused.value.errors == {
        "source_url": "must be an http:// or https:// address",
        "as_of": "must not be in the future",
        "citation": "must be at most 500 characters",
        "name": "is required",
        "petitioner_kinds": "unknown kind 'neighbour'",
        "verified": "'guidance_use' is not a field that can be verified",
        "colour": "is not a field of the law table",
        "reason": "is required: say what you checked or why it changed",
    }
    assert ny.source_url.startswith("https://everytownresearch.org/")
    assert events(db) == [] and db.scalars(select(FirearmLawChange)).all() == []


def test_a_date_that_is_not_a_date_is_named() -> None:
    _, errors = parse_edit({"as_of": "5 April"}, today=date(2026, 1, 5))
    assert errors == {"as_of": "must be a date like 2024-02-13"}


def test_only_jurisdiction_writers_edit(
    db: Session, cast: Cast, clock: FrozenClock, laws: dict[str, FirearmLaw]
) -> None:
    for name in ("lead_a", "member_b", "oversight", "auditor"):
        with pytest.raises(PermissionDenied):
            update_law(
                db, cast.actor(name), laws["CA"], values={"citation": CITATION},
                reason="Trying", now=clock.now(),
            )  # fmt: skip
    assert laws["CA"].citation == "" and events(db) == []


def test_a_writer_who_is_not_an_administrator_edits_only_their_own_state(
    db: Session,
    cast: Cast,
    clock: FrozenClock,
    laws: dict[str, FirearmLaw],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lead_roles = access_rules.ROLE_PERMISSIONS[Role.TEAM_LEAD]
    grant = lead_roles | {Permission.ACCESS_JURISDICTION_WRITE}
    monkeypatch.setitem(access_rules.ROLE_PERMISSIONS, Role.TEAM_LEAD, grant)
    lead = cast.actor("lead_a")  # at agency A, in the cast's jurisdiction in OH
    ohio = FirearmLaw(
        state="OH", instrument="voluntary_surrender", name="Voluntary transfer",
        updated_at=clock.now(),
    )  # fmt: skip
    db.add(ohio)
    db.flush()

    update_law(db, lead, ohio, values={"citation": "ORC 0.0"}, reason="Ours", now=clock.now())
    with pytest.raises(PermissionDenied, match="not CA"):
        update_law(
            db, lead, laws["CA"], values={"citation": CITATION}, reason="Not ours",
            now=clock.now(),
        )  # fmt: skip

    assert [e.subject_id for e in events(db)] == [str(ohio.id)]
    # Administrators edit any state, and so does the command line.
    update_law(db, cast.actor("admin"), laws["CA"], values={"citation": CITATION},
               reason="Any state", now=clock.now())  # fmt: skip
    update_law(db, Actor.system("cli:test"), laws["WA"], values={"citation": "RCW 7.105"},
               reason="From the terminal", now=clock.now())  # fmt: skip
    assert history(db, laws["WA"])[0].who == "the command line"


TEAM = [
    ("Riverton Police Department", "police"),
    ("County Sheriff", "sheriff"),
    ("Riverton Schools", "school_district"),
    ("Riverton Behavioral Health", "behavioral_health"),
    ("County Social Services", "social_services"),
]


def test_a_case_sees_its_states_options_and_who_on_the_team_may_petition(
    db: Session, clock: FrozenClock, laws: dict[str, FirearmLaw]
) -> None:
    (ny,) = options_for_case(db, "ny", TEAM)
    assert ny.law.state == "NY"
    assert ny.team_petitioners == [
        "County Sheriff", "Riverton Behavioral Health", "Riverton Police Department",
        "Riverton Schools",
    ]  # fmt: skip
    assert ny.unverified == ["ex_parte", "final_order", "standard_of_proof", "citation"]
    assert ny.is_unverified("ex_parte") and not ny.is_unverified("petitioners")

    (fl,) = options_for_case(db, "FL", TEAM)
    assert fl.team_petitioners == ["County Sheriff", "Riverton Police Department"]
    assert fl.is_unverified("petitioners")
    (vt,) = options_for_case(db, "VT", TEAM)
    assert vt.team_petitioners == []  # prosecutors and family only; none on this team

    assert options_for_case(db, "OH", TEAM) == []
    assert options_for_case(db, None, TEAM) == []
    assert options_for_case(db, "New York", TEAM) == []


def test_petitioner_kinds_map_to_agency_kinds() -> None:
    agencies = [("DA", "prosecutor"), ("PD", "police"), ("Campus", "campus")]
    assert petitioning_agencies(["prosecutor"], agencies) == ["DA"]
    assert petitioning_agencies(["family_household", "employer", "other"], agencies) == []
    assert petitioning_agencies(["law_enforcement", "educator"], agencies) == ["PD"]


def test_changes_list_dates_as_text_and_each_verification_mark() -> None:
    before = {"as_of": date(2023, 4, 5), "verified": {"citation": False}, "name": "A"}
    after = {"as_of": None, "verified": {"citation": True, "ex_parte": False}, "name": "A"}
    assert edit_changes(before, after) == {
        "as_of": ["2023-04-05", None],
        "verified.citation": [False, True],
    }


def test_the_unverified_marker_says_to_check() -> None:
    assert UNVERIFIED_TEXT == "unverified — check before relying on it"


def test_laws_for_state_reads_one_state(
    db: Session, clock: FrozenClock, laws: dict[str, FirearmLaw]
) -> None:
    assert [law.state for law in laws_for_state(db, "va")] == ["VA"]
    assert load_seed()[0].state == "CA"
