"""The shipped firearm-law seed: 21 states plus DC, every dagger cell unverified, the
schema naming the field it refuses, and seeding that never duplicates or overwrites."""

from __future__ import annotations

from importlib import resources

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from defchain import reference
from defchain.clock import FrozenClock
from defchain.reference import FirearmLaw, SeedFileInvalid, load_seed, parse_seed, seed

ERPO_STATES = {
    "CA", "CO", "CT", "DE", "DC", "FL", "HI", "IL", "IN", "MD", "MA", "MI", "MN", "NV", "NJ",
    "NM", "NY", "OR", "RI", "VT", "VA", "WA",
}  # fmt: skip
# The cells DOMAIN-FACTS section 4 marks with a dagger ([memory—verify]), wholly or in part.
DAGGER_CELLS = {
    "CT": {"final_order"},
    "DC": {"petitioners", "ex_parte", "final_order"},
    "FL": {"ex_parte", "final_order"},
    "HI": {"ex_parte", "final_order"},
    "IL": {"ex_parte", "final_order"},
    "IN": {"ex_parte", "final_order"},
    "MD": {"petitioners", "ex_parte", "final_order"},
    "MA": {"ex_parte", "final_order"},
    "MI": {"ex_parte", "final_order"},
    "MN": {"petitioners", "ex_parte", "final_order"},
    "NV": {"ex_parte", "final_order"},
    "NJ": {"ex_parte", "final_order"},
    "NM": {"ex_parte", "final_order"},
    "NY": {"ex_parte", "final_order"},
    "OR": {"final_order"},
    "RI": {"ex_parte", "final_order"},
    "WA": {"ex_parte", "final_order"},
}
# Rows whose every table cell DOMAIN-FACTS gives a confirming source for.
CONFIRMED_ROWS = {"CA", "CO", "DE", "VT", "VA"}
EVERYTOWN = (
    "https://everytownresearch.org/report/"
    "appendix-b-extreme-risk-laws-save-lives-extreme-risk-laws-by-state/"
)


def shipped_text() -> str:
    return resources.files("defchain.reference").joinpath(reference.service.DATA_FILE).read_text()


def test_the_seed_has_one_erpo_row_for_each_of_the_21_states_and_dc() -> None:
    rows = load_seed()
    assert len(rows) == 22
    assert {r.state for r in rows} == ERPO_STATES
    assert {r.instrument for r in rows} == {"erpo"}


def test_every_dagger_cell_is_unverified() -> None:
    by_state = {r.state: r for r in load_seed()}
    for state, cells in DAGGER_CELLS.items():
        for cell in cells:
            assert by_state[state].verified[cell] is False, (state, cell)


def test_standards_and_citations_are_empty_and_unverified_until_looked_up() -> None:
    for row in load_seed():
        assert (row.standard_of_proof, row.citation) == ("", ""), row.state
        assert row.verified["standard_of_proof"] is False
        assert row.verified["citation"] is False


def test_rows_with_a_confirming_source_are_verified_and_florida_is_not() -> None:
    by_state = {r.state: r for r in load_seed()}
    for state in CONFIRMED_ROWS:
        assert reference.unverified_fields(by_state[state].verified) == [
            "standard_of_proof",
            "citation",
        ], state
    # DOMAIN-FACTS marks Florida's "law enforcement only" as uncertain.
    assert by_state["FL"].verified["petitioners"] is False
    assert by_state["VA"].source_url.startswith("https://www.womenslaw.org/laws/va/")


def test_everytown_rows_are_as_of_the_appendix_date_and_others_are_undated() -> None:
    for row in load_seed():
        if row.source_url == EVERYTOWN:
            assert row.as_of is not None and row.as_of.isoformat() == "2023-04-05", row.state
        else:
            assert row.as_of is None, row.state
            assert row.state in {"MI", "MN", "VT", "VA"}


def test_default_guidance_is_labelled_for_local_counsel() -> None:
    for row in load_seed():
        assert "reviewed by local counsel" in row.guidance_use
        assert "reviewed by local counsel" in row.guidance_avoid


@pytest.mark.parametrize(
    ("old", "new", "field", "fragment"),
    [
        ('as_of: "2023-04-05"', 'as_of: "April 2023"', "laws[0].as_of", "April 2023"),
        ("instrument: erpo", "instrument: red_flag", "laws[0].instrument", "red_flag"),
        ("state: CA", "state: Cal", "laws[0].state", "Cal"),
        ("ex_parte: 21 days", "ex_parte: 21 days\n    notes: hi", "laws[0]", "notes"),
        ("citation: false}", "citation: maybe}", "laws[0].verified.citation", "maybe"),
        ("source_url: https://every", "source_url: ftp://every", "laws[0].source_url", "ftp"),
        ("state: CO", "state: CA", "laws[1]", "second erpo row for CA"),
        ("defaults:", "defaultz:", "document", "default"),
    ],
    ids=[
        "bad-date", "bad-instrument", "bad-state", "unknown-key", "bad-flag", "bad-url",
        "duplicate", "top-level",
    ],
)  # fmt: skip
def test_the_schema_refuses_a_bad_file_naming_the_field(
    old: str, new: str, field: str, fragment: str
) -> None:
    text = shipped_text()
    assert old in text
    with pytest.raises(SeedFileInvalid) as refused:
        parse_seed(text.replace(old, new, 1))
    assert refused.value.field == field
    assert refused.value.message.startswith(f"{field}: ")
    assert fragment in refused.value.message


def test_a_file_that_is_not_yaml_is_refused() -> None:
    with pytest.raises(SeedFileInvalid, match="not valid YAML"):
        parse_seed("laws: [\n")


def count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(FirearmLaw)) or 0


def test_seeding_is_idempotent_and_never_overwrites_an_edit(
    db: Session, clock: FrozenClock
) -> None:
    assert seed(db, clock.now()) == 22
    assert count(db) == 22
    ca = db.scalars(select(FirearmLaw).where(FirearmLaw.state == "CA")).one()
    ca.citation = "Cal. Penal Code § 18100 et seq."
    db.flush()

    assert seed(db, clock.now()) == 0

    assert count(db) == 22
    db.refresh(ca)
    assert ca.citation == "Cal. Penal Code § 18100 et seq."
    assert ca.updated_by_user_id is None and ca.updated_at == clock.now()


def test_seeding_fills_in_only_the_missing_rows(db: Session, clock: FrozenClock) -> None:
    rows = load_seed()
    assert seed(db, clock.now(), rows=rows[:5]) == 5
    assert seed(db, clock.now()) == 17
    stored = db.scalars(select(FirearmLaw).where(FirearmLaw.state == "MD")).one()
    assert stored.verified["petitioners"] is False
    assert stored.petitioner_kinds == [
        "law_enforcement", "family_household", "health_professional", "other"
    ]  # fmt: skip
