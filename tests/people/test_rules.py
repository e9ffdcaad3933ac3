"""The pure linkage rules: normalization, nicknames, blocking keys, comparison levels,
Fellegi-Sunter scoring, and the nickname table shipped with the package."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pytest

from defchain.people import rules
from defchain.people.model import NICKNAMES_FILE, read_nicknames
from defchain.people.model import nicknames as shipped_nicknames
from defchain.people.rules import (
    NULL,
    Decision,
    Field,
    InvalidValue,
    LinkageModel,
    Nicknames,
    PartialDate,
    PersonName,
    Profile,
)

NICKNAMES = Nicknames(
    [
        ["jayden", "jay", "jaden", "jaiden"],
        ["jacob", "jake", "jay"],
        ["william", "will", "bill", "billy", "liam"],
        ["alexander", "alex", "xander", "sasha", "al"],
        ["albert", "al", "bert"],
        ["katherine", "kathryn", "kate", "katie", "kathy"],
    ]
)


def model(link: float = 0.9, review: float = 0.5) -> LinkageModel:
    """A small hand-made model: better levels have a higher m/u ratio."""
    m: dict[str, dict[str, float]] = {}
    u: dict[str, dict[str, float]] = {}
    for name, levels in rules.LEVELS.items():
        count = len(levels)
        # m falls and u rises from the best level to the worst ("else").
        m[name] = {level: (count - i) / 10 for i, level in enumerate(levels)}
        u[name] = {level: (i + 1) / 10 for i, level in enumerate(levels)}
    return LinkageModel(
        version="test",
        prior=0.01,
        m=m,
        u=u,
        link_threshold=link,
        review_threshold=review,
    )


# --- normalization ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("José", "jose"),
        ("ÉLODIE  MÜLLER", "elodie muller"),
        ("  O'Brien-Smith!! ", "obrien smith"),
        ("D\u2019Angelo", "dangelo"),
        ("Nguyễn\tThị", "nguyen thi"),
        ("Łukasz Søren Straße", "lukasz soren strasse"),
        ("Ærø", "aero"),
        ("", ""),
        ("  ...  ", ""),
    ],
)
def test_fold(raw: str, folded: str) -> None:
    assert rules.fold(raw) == folded


@pytest.mark.parametrize(
    ("raw", "part"),
    [
        ("Jayden", "jayden"),
        ("Mary Ann", "maryann"),
        ("Dr. Smith Jr.", "smith"),
        ("Morales III", "morales"),
        ("Mrs. O'Neil", "oneil"),
        ("Drew", "drew"),  # "dr" only as a whole word
        ("Ivy", "ivy"),  # "iv" only as a whole word
        ("Jr.", ""),
    ],
)
def test_name_part(raw: str, part: str) -> None:
    assert rules.name_part(raw) == part


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("Jayden R. Morales", PersonName("jayden", "r", "morales")),
        ("MORALES, JAYDEN", PersonName("jayden", "", "morales")),
        ("Morales, Jayden R.", PersonName("jayden", "r", "morales")),
        ("Jayden Robert Lee Morales Jr.", PersonName("jayden", "robert lee", "morales")),
        ("José de la Cruz", PersonName("jose", "de la", "cruz")),
        ("Cher", PersonName("cher", "", "")),
        ("Morales,", PersonName("", "", "morales")),
        ("   ", PersonName("", "", "")),
    ],
)
def test_split_name(raw: str, name: PersonName) -> None:
    assert rules.split_name(raw) == name


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("Westfield High School", "westfield hs"),
        ("WESTFIELD HIGH SCHOOL.", "westfield hs"),
        ("The University of Saint Thomas", "univ st thomas"),
        ("St. Mary's Middle School", "st marys ms"),
        ("Lincoln Elementary School", "lincoln es"),
        ("Oak Grove Junior High", "oak grove jh"),
        ("Riverside Community College", "riverside comm coll"),
        ("Acme Hardware", "acme hardware"),
        ("Theodore Roosevelt High School", "theodore roosevelt hs"),  # "the" only as a word
    ],
)
def test_org(raw: str, normalized: str) -> None:
    assert rules.org(raw) == normalized


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("@Jay_Dee.99", "jay_dee.99"),
        ("  @JayDee  ", "jaydee"),
        ("@ jay dee!!", "jaydee"),
        ("jay-dee#1", "jaydee1"),
        ("@@", ""),
    ],
)
def test_handle(raw: str, normalized: str) -> None:
    assert rules.handle(raw) == normalized


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        (" Jay.Morales@Example.COM ", "jay.morales@example.com"),
        ("not an email", ""),
        ("jay@localhost", ""),
        ("@example.com", ""),
        ("jay morales@example.com", ""),
        ("", ""),
    ],
)
def test_email(raw: str, normalized: str) -> None:
    assert rules.email(raw) == normalized


@pytest.mark.parametrize(
    "raw", ["(202) 456-1111", "202.456.1111", "+1 202 456 1111", "1-202-456-1111"]
)
def test_phone_to_e164(raw: str) -> None:
    assert rules.phone(raw) == "+12024561111"


def test_phone_other_region() -> None:
    assert rules.phone("020 7946 0958", region="GB") == "+442079460958"


@pytest.mark.parametrize("raw", ["12", "abc", "555-0100", ""])
def test_phone_invalid_names_the_field(raw: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        rules.phone(raw)
    assert caught.value.field == "phone"
    assert caught.value.value == raw
    assert str(caught.value).startswith("phone: ")
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("raw", "parsed", "text"),
    [
        ("2008-03-14", PartialDate(2008, 3, 14), "2008-03-14"),
        (" 2008-3-4 ", PartialDate(2008, 3, 4), "2008-03-04"),
        ("2008-03", PartialDate(2008, 3), "2008-03"),
        ("2008", PartialDate(2008), "2008"),
        ("3/14/2008", PartialDate(2008, 3, 14), "2008-03-14"),
        ("2024-02-29", PartialDate(2024, 2, 29), "2024-02-29"),
    ],
)
def test_partial_date(raw: str, parsed: PartialDate, text: str) -> None:
    value = rules.partial_date(raw)
    assert value == parsed
    assert str(value) == text
    assert value.complete == (parsed.day is not None)


@pytest.mark.parametrize(
    "raw",
    [
        "2008-02-30",
        "2007-02-29",
        "13/45/2008",
        "2008-13",
        "2008-00",  # month zero
        "2008-03-00",  # day zero
        "0/14/2008",
        "1899-12-31",
        "14-03-2008",
        "March 14, 2008",
        "",
    ],
)
def test_partial_date_invalid(raw: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        rules.partial_date(raw)
    assert caught.value.field == "date_of_birth"


@pytest.mark.parametrize("raw", ["2026-01-06", "2026-02", "2027"])
def test_partial_date_in_the_future(raw: str) -> None:
    with pytest.raises(InvalidValue, match="plausible"):
        rules.partial_date(raw, today=date(2026, 1, 5))


@pytest.mark.parametrize("raw", ["2026-01-05", "2026-01", "2026"])
def test_partial_date_up_to_today(raw: str) -> None:
    assert rules.partial_date(raw, today=date(2026, 1, 5)).year == 2026


def test_partial_date_order() -> None:
    assert PartialDate(2008, 3, 14) < PartialDate(2008, 3, 15) < PartialDate(2008, 4, 1)
    assert PartialDate(2007, 12, 31) < PartialDate(2008, 1, 1)
    assert PartialDate(2007) < PartialDate(2008)


# --- nicknames and profiles -------------------------------------------------------------


def test_nicknames_groups() -> None:
    assert NICKNAMES.same_name("jay", "jayden")
    assert NICKNAMES.same_name("jay", "jake")  # "jay" is in two groups
    assert not NICKNAMES.same_name("jayden", "jake")
    assert NICKNAMES.same_name("al", "alexander")
    assert NICKNAMES.same_name("al", "bert")
    assert not NICKNAMES.same_name("alexander", "bert")
    assert not NICKNAMES.same_name("zed", "zed")  # in no group
    assert NICKNAMES.groups("unknown") == frozenset()
    assert len(NICKNAMES.groups("al")) == 2


def test_nicknames_normalize_their_names() -> None:
    table = Nicknames([["  José ", "PEPE"], ["", "  "]])
    assert table.same_name("jose", "pepe")
    assert len(table) == 2


def test_profile() -> None:
    profile = Profile.of({Field.GIVEN: ["jayden", "jay", ""], "surname": ["morales"]})
    assert profile.get(Field.GIVEN) == {"jayden", "jay"}
    assert profile.get(Field.SURNAME) == {"morales"}
    assert profile.get(Field.PHONE) == set()
    assert not profile.is_empty()
    assert Profile.of({Field.GIVEN: [""]}).is_empty()
    assert Profile().is_empty()
    with pytest.raises(ValueError):
        Profile.of({"nickname": ["jay"]})


def test_informative() -> None:
    assert rules.informative(Profile.of({Field.GIVEN: ["jay"]}))
    assert rules.informative(Profile.of({Field.EMAIL: ["jay@example.com"]}))
    assert not rules.informative(Profile.of({Field.ORG: ["westfield hs"], Field.DOB: ["2008"]}))


# --- blocking keys ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "code"),
    [
        ("morales", "M642"),
        ("robert", "R163"),
        ("rupert", "R163"),
        ("ashcraft", "A261"),  # "h" does not separate two letters of the same code
        ("tymczak", "T522"),
        ("pfister", "P236"),  # the second letter has the first one's code
        ("lee", "L000"),
        ("", ""),
    ],
)
def test_soundex(word: str, code: str) -> None:
    assert rules.soundex(word) == code


def test_blocking_nickname_and_full_name_at_the_same_school() -> None:
    short = Profile.of({Field.GIVEN: ["jay"], Field.ORG: ["westfield hs"]})
    full = Profile.of(
        {Field.GIVEN: ["jayden"], Field.SURNAME: ["morales"], Field.ORG: ["westfield hs"]}
    )
    shared = rules.blocking_keys(short, NICKNAMES) & rules.blocking_keys(full, NICKNAMES)
    assert len(shared) == 1
    assert next(iter(shared)).endswith("|o:westfield hs")


def test_blocking_nickname_in_another_group_or_school() -> None:
    jake = Profile.of({Field.GIVEN: ["jake"], Field.ORG: ["westfield hs"]})
    jayden = Profile.of({Field.GIVEN: ["jayden"], Field.ORG: ["westfield hs"]})
    elsewhere = Profile.of({Field.GIVEN: ["jay"], Field.ORG: ["eastside hs"]})
    assert not rules.blocking_keys(jake, NICKNAMES) & rules.blocking_keys(jayden, NICKNAMES)
    assert not rules.blocking_keys(elsewhere, NICKNAMES) & rules.blocking_keys(jayden, NICKNAMES)


def test_blocking_handle_only() -> None:
    profile = Profile.of({Field.HANDLE: ["jay_dee.99"]})
    assert rules.blocking_keys(profile, NICKNAMES) == {"h:jaydee99"}


@pytest.mark.parametrize("other", ["jaydee99", "jay.dee_99", "jay_dee.99"])
def test_blocking_handle_written_without_punctuation(other: str) -> None:
    keys = rules.blocking_keys(Profile.of({Field.HANDLE: [other]}), NICKNAMES)
    assert keys == rules.blocking_keys(Profile.of({Field.HANDLE: ["jay_dee.99"]}), NICKNAMES)


def test_blocking_handle_of_punctuation_only_has_no_key() -> None:
    assert rules.blocking_keys(Profile.of({Field.HANDLE: ["_."]}), NICKNAMES) == set()


def test_blocking_strong_identifiers_stand_alone() -> None:
    profile = Profile.of(
        {
            Field.PHONE: ["+12024561111"],
            Field.EMAIL: ["jay@example.com"],
            Field.ADDRESS: ["12 elm st|07090"],
            Field.DOB: ["2008-03-14", "2008"],
            Field.ID_NUMBER: ["d12345678"],
        }
    )
    assert rules.blocking_keys(profile, NICKNAMES) == {
        "p:+12024561111",
        "e:jay@example.com",
        "a:12elmst|07090",  # spaces in a street are not reliable
        "d:2008-03-14",
        "i:d12345678",
    }


def test_blocking_address_without_spaces() -> None:
    spaced = Profile.of({Field.ADDRESS: ["264 ainsworth street|3500"]})
    joined = Profile.of({Field.ADDRESS: ["264 ainsworthstreet|3500"]})
    assert rules.blocking_keys(spaced, NICKNAMES) == rules.blocking_keys(joined, NICKNAMES)


def test_blocking_name_keys() -> None:
    profile = Profile.of({Field.GIVEN: ["jayden"], Field.SURNAME: ["lee"], Field.DOB: ["2008-03"]})
    assert rules.blocking_keys(profile, NICKNAMES) == {
        "gs:j|lee",
        "sx:L000|j",
        "sxy:L000|2008",
        "sy:lee|2008",
        "sy:ee|2008",
        "sy:le|2008",
    }


@pytest.mark.parametrize(
    ("word", "forms"),
    [
        ("lee", {"lee", "ee", "le"}),
        ("ab", {"ab", "a", "b"}),
        ("a", {"a", ""}),
        ("", {""}),
    ],
)
def test_one_edit_keys(word: str, forms: set[str]) -> None:
    assert rules.one_edit_keys(word) == forms


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("morales", "moralez"),  # replaced
        ("morales", "moales"),  # dropped
        ("morales", "morrales"),  # doubled
        ("morales", "moarles"),  # swapped
        ("thompson", "thomspon"),  # swapped, another Soundex code
        ("ng", "nag"),
    ],
)
def test_one_edit_keys_meet_within_one_edit(a: str, b: str) -> None:
    assert rules.one_edit_keys(a) & rules.one_edit_keys(b)


def test_one_edit_keys_apart_beyond_one_edit() -> None:
    assert not rules.one_edit_keys("morales") & rules.one_edit_keys("smith")
    assert not rules.one_edit_keys("morales") & rules.one_edit_keys("moarlez")


@pytest.mark.parametrize(
    ("values", "years"),
    [
        ({Field.DOB: ["2010-03-14", "2011"]}, {2010, 2011}),
        ({Field.AGE: ["16@2026"]}, {2009, 2010, 2011}),
        ({Field.AGE: ["16@2026"], Field.DOB: ["2003"]}, {2003, 2009, 2010, 2011}),
        ({Field.GIVEN: ["jay"]}, set()),
    ],
)
def test_birth_years(values: dict[Field | str, list[str]], years: set[int]) -> None:
    assert rules.birth_years(Profile.of(values)) == years


@pytest.mark.parametrize(
    ("query", "shared"),
    [
        # A misspelt surname (Soundex kept) and an age: Soundex and year.
        (
            {Field.SURNAME: ["moralez"], Field.AGE: ["16@2026"]},
            {"sxy:M642|2010", "sy:morale|2010"},
        ),
        # Another Soundex code: the one-edit forms still meet.
        ({Field.SURNAME: ["morakes"], Field.AGE: ["17@2026"]}, {"sy:moraes|2010"}),
        # The age said a year later: born 2009 to 2011 either way.
        (
            {Field.SURNAME: ["morales"], Field.AGE: ["15@2026"]},
            {"sxy:M642|2010"} | {f"sy:{form}|2010" for form in rules.one_edit_keys("morales")},
        ),
    ],
)
def test_blocking_surname_and_age_find_the_date_of_birth(
    query: dict[Field | str, list[str]], shared: set[str]
) -> None:
    base = Profile.of(
        {Field.GIVEN: ["jayden"], Field.SURNAME: ["morales"], Field.DOB: ["2010-03-14"]}
    )
    found = rules.blocking_keys(Profile.of(query), NICKNAMES) & rules.blocking_keys(base, NICKNAMES)
    assert found == shared


def test_blocking_surname_and_age_too_far_apart() -> None:
    base = Profile.of({Field.SURNAME: ["morales"], Field.DOB: ["2010-03-14"]})
    query = Profile.of({Field.SURNAME: ["morales"], Field.AGE: ["19@2026"]})  # born about 2007
    assert not rules.blocking_keys(query, NICKNAMES) & rules.blocking_keys(base, NICKNAMES)


def test_blocking_surname_typo_with_an_extra_given_name() -> None:
    """Same soundex and the same initial share a key, whatever other names one side has."""
    query = Profile.of({Field.GIVEN: ["jay", "jayden", "robert"], Field.SURNAME: ["moralez"]})
    candidate = Profile.of({Field.GIVEN: ["jayden"], Field.SURNAME: ["morales"]})
    shared = rules.blocking_keys(query, NICKNAMES) & rules.blocking_keys(candidate, NICKNAMES)
    assert shared == {"sx:M642|j"}


@pytest.mark.parametrize(
    "values",
    [
        {Field.SURNAME: ["morales"]},
        {Field.SURNAME: ["morales"], Field.DOB: ["2008"]},
        {Field.GIVEN: ["jay"]},
        {Field.GIVEN: ["zed"], Field.ORG: ["westfield hs"]},
        {Field.DOB: ["2008-03"]},
        {},
    ],
)
def test_blocking_no_dangling_keys(values: dict[Field | str, list[str]]) -> None:
    keys = rules.blocking_keys(Profile.of(values), NICKNAMES)
    assert all(not key.endswith("|") and ":|" not in key for key in keys)


def test_blocking_surname_alone_and_given_alone_yield_no_key() -> None:
    assert rules.blocking_keys(Profile.of({Field.SURNAME: ["morales"]}), NICKNAMES) == set()
    assert rules.blocking_keys(Profile.of({Field.GIVEN: ["jay"]}), NICKNAMES) == set()


# --- comparison levels ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        ("jayden", "jayden", "exact"),
        ("jayden", "jaydne", "fuzzy"),
        ("katherine", "katherne", "fuzzy"),
        # A last letter dropped cannot be told from another name (Kristine / Kristin).
        ("katherine", "katherin", "else"),
        ("bill", "william", "nickname"),
        ("jay", "jayden", "nickname"),
        ("jaiden", "jayden", "nickname"),
        ("j", "jayden", "initial"),
        ("jayden", "j", "initial"),
        ("k", "jayden", "else"),
        ("jake", "jayden", "else"),
        ("bill", "robert", "else"),
        # Different names, not typos: a letter added at the end, or two.
        ("michael", "michaela", "else"),
        ("kristin", "kristina", "else"),
        ("daniel", "danielle", "else"),
        ("jayden", "jaydenn", "fuzzy"),  # a doubled last letter is a typo
        ("jayden", "jayde", "else"),
        ("michael", "micheal", "fuzzy"),
    ],
)
def test_given_level(a: str, b: str, level: str) -> None:
    assert rules.given_level(a, b, NICKNAMES) == level
    assert rules.given_level(b, a, NICKNAMES) == level


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        ("morales", "morales", "exact"),
        ("morales", "moralez", "fuzzy"),
        ("johnson", "jonson", "fuzzy"),
        ("smith", "smyth", "soundex"),
        ("robert", "rupert", "soundex"),
        ("morales", "smith", "else"),
    ],
)
def test_surname_level(a: str, b: str, level: str) -> None:
    assert rules.surname_level(a, b) == level
    assert rules.surname_level(b, a) == level


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        ("2008-03-14", "2008-03-14", "exact"),
        ("2008-03-14", "2008-03-15", "typo"),  # one digit
        ("2008-03-14", "2008-03-24", "typo"),
        ("2008-03-12", "2008-03-21", "typo"),  # two digits swapped
        ("2008-03-04", "2008-04-03", "typo"),  # day and month transposed
        ("2008-03-14", "2008-03-27", "year_month"),
        ("2008-03-14", "2008-03", "year_month"),
        ("2008-03", "2008-03", "year_month"),
        ("2008-03-14", "2008-07-25", "year"),
        ("2008-03", "2008-11", "year"),
        ("2008", "2008-03-14", "year"),
        ("2008", "2008", "year"),
        ("2008-03-14", "2011-09-27", "else"),
        ("2008", "2011", "else"),
    ],
)
def test_dob_level(a: str, b: str, level: str) -> None:
    assert rules.dob_level(a, b) == level
    assert rules.dob_level(b, a) == level


@pytest.mark.parametrize(
    ("age", "other", "level"),
    [
        ("16@2026", "16@2026", "close"),
        ("16@2026", "15@2024", "close"),  # born about 2010 and 2009
        ("16@2026", "13@2026", "near"),
        ("16@2026", "19@2026", "near"),
        ("16@2026", "20@2026", "else"),
        ("16@2026", "2010-05-01", "close"),
        ("16@2026", "2011", "close"),
        ("16@2026", "2007-12", "near"),
        ("16@2026", "2013-01-01", "near"),
        ("16@2026", "2005-06-30", "else"),
        ("16@2026", "2015", "else"),
    ],
)
def test_age_level(age: str, other: str, level: str) -> None:
    assert rules.age_level(age, other) == level
    if "@" in other:
        assert rules.age_level(other, age) == level


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        ("westfield hs", "westfield hs", "exact"),
        ("westfield hs", "westfeild hs", "fuzzy"),
        ("westfield hs", "westfied hs", "fuzzy"),
        ("westfield hs", "eastside hs", "else"),
        ("westfield hs", "eastfield hs", "else"),  # another school, not a typo
        ("westfield hs", "westfield ms", "else"),  # another kind of school
        ("lincoln es", "lincon es", "fuzzy"),
        ("acme hardware", "acme hardwre", "fuzzy"),
        ("ace", "acme", "else"),  # too short to call a typo
        ("westfield hs", "acme hardware", "else"),
    ],
)
def test_org_level(a: str, b: str, level: str) -> None:
    assert rules.org_level(a, b) == level
    assert rules.org_level(b, a) == level


@pytest.mark.parametrize(
    ("value", "parts"),
    [
        ("westfield hs", ("hs", "westfield")),
        ("riverside comm coll", ("coll comm", "riverside")),
        ("acme hardware", ("", "acme hardware")),
    ],
)
def test_org_parts(value: str, parts: tuple[str, str]) -> None:
    assert rules.org_parts(value) == parts


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        ("jay_dee.99", "jay_dee.99", "exact"),
        ("jay_dee.99", "jaydee99", "variant"),
        ("jay_dee.99", "jay.dee_99", "variant"),
        ("jay_dee.99", "jay_dee.98", "else"),
        ("_", ".", "else"),  # nothing left to compare
    ],
)
def test_handle_level(a: str, b: str, level: str) -> None:
    assert rules.handle_level(a, b) == level
    assert rules.handle_level(b, a) == level


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        ("12345678", "12345678", "exact"),
        ("12345678", "12345679", "typo"),
        ("12345678", "12354678", "typo"),  # two digits swapped
        ("12345678", "1234567", "typo"),  # one dropped
        ("12345678", "12354679", "else"),
        ("1234", "1235", "else"),  # too short to call a typo
        ("d1234567", "d1234567", "exact"),
    ],
)
def test_id_level(a: str, b: str, level: str) -> None:
    assert rules.id_level(a, b) == level
    assert rules.id_level(b, a) == level


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [("D123-456 78", "d12345678"), (" 4066625 ", "4066625"), ("--", "")],
)
def test_id_number(raw: str, normalized: str) -> None:
    assert rules.id_number(raw) == normalized


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        ("12 elm st|07090", "12 elm st|07090", "exact"),
        ("12 elm st|07090", "40 oak ave|07090", "zip"),
        ("12 elm st|07090", "12 elm st|07091", "street"),  # a ZIP typo, or another town
        ("|07090", "|07090", "zip"),  # no street: the zip still agrees
        ("12 elm st|", "12 elm st|", "exact"),
        ("12 elm st|", "40 oak ave|", "else"),  # no zip on either side is no agreement
        ("264 ainsworth street|3500", "264 ainsworthstreet|3500", "exact"),  # spaces
        ("8 stanley street|4223", "8 stanely street|4223", "typo"),
        ("8 stanley street|4223", "9 stanley street|4223", "zip"),  # a neighbour
        ("8 stanley street|4223", "8 oak avenue|4223", "zip"),
        ("stanley street|4223", "stanely street|4223", "typo"),  # no house number
        ("8 stanley street|4223", "8 stanley street|4233", "street"),  # ZIP typo
        ("8 stanley street|4223", "8 stanley street|", "street"),
        ("8 stanley street|4223", "8 stanely street|4233", "else"),
    ],
)
def test_address_level(a: str, b: str, level: str) -> None:
    assert rules.address_level(a, b) == level
    assert rules.address_level(b, a) == level


# --- compare ----------------------------------------------------------------------------

JAYDEN = Profile.of(
    {
        Field.GIVEN: ["jayden"],
        Field.SURNAME: ["morales"],
        Field.DOB: ["2010-03-14"],
        Field.ORG: ["westfield hs"],
        Field.HANDLE: ["jay_dee.99"],
        Field.PHONE: ["+12024561111"],
        Field.EMAIL: ["jay@example.com"],
        Field.ADDRESS: ["12 elm st|07090"],
        Field.ID_NUMBER: ["d12345678"],
    }
)


def test_compare_self_is_exact() -> None:
    levels = rules.compare(JAYDEN, JAYDEN, NICKNAMES)
    assert set(levels) == set(Field)
    assert levels[Field.AGE] == NULL  # dates of birth already compared
    assert all(level == "exact" for name, level in levels.items() if name != Field.AGE)


def test_compare_best_pair_of_values() -> None:
    query = Profile.of({Field.GIVEN: ["j", "bill", "jay"], Field.ORG: ["x", "westfeild hs"]})
    levels = rules.compare(query, JAYDEN, NICKNAMES)
    assert levels[Field.GIVEN] == "nickname"
    assert levels[Field.ORG] == "fuzzy"


@pytest.mark.parametrize("name", [f for f in Field if f != Field.AGE])
def test_compare_null_when_a_side_knows_nothing(name: Field) -> None:
    without = Profile({f: set(v) for f, v in JAYDEN.values.items() if f != name})
    assert rules.compare(JAYDEN, without, NICKNAMES)[name] == NULL
    assert rules.compare(without, JAYDEN, NICKNAMES)[name] == NULL
    assert rules.compare(JAYDEN, JAYDEN, NICKNAMES)[name] != NULL


def test_compare_empty_profiles() -> None:
    assert set(rules.compare(Profile(), JAYDEN, NICKNAMES).values()) == {NULL}
    assert set(rules.compare(JAYDEN, Profile(), NICKNAMES).values()) == {NULL}


def test_compare_age_against_age_and_date_of_birth() -> None:
    aged = Profile.of({Field.GIVEN: ["jay"], Field.AGE: ["16@2026"]})
    levels = rules.compare(aged, JAYDEN, NICKNAMES)
    assert levels[Field.DOB] == NULL
    assert levels[Field.AGE] == "close"
    assert rules.compare(JAYDEN, aged, NICKNAMES)[Field.AGE] == "close"
    older = Profile.of({Field.AGE: ["30@2026"]})
    assert rules.compare(older, aged, NICKNAMES)[Field.AGE] == "else"
    assert rules.compare(older, Profile.of({Field.GIVEN: ["jay"]}), NICKNAMES)[Field.AGE] == NULL


def test_compare_age_ignored_when_both_dates_of_birth_known() -> None:
    query = Profile.of({Field.DOB: ["2010"], Field.AGE: ["40@2026"]})
    levels = rules.compare(query, JAYDEN, NICKNAMES)
    assert levels[Field.DOB] == "year"
    assert levels[Field.AGE] == NULL


def test_compare_exact_identifiers() -> None:
    other = Profile.of(
        {
            Field.HANDLE: ["someone"],
            Field.PHONE: ["+12024561112"],
            Field.EMAIL: ["jay@example.org"],
        }
    )
    levels = rules.compare(other, JAYDEN, NICKNAMES)
    assert levels[Field.HANDLE] == levels[Field.PHONE] == levels[Field.EMAIL] == "else"


@pytest.mark.parametrize(
    ("query", "levels"),
    [
        # "Morales Jayden": given name and surname the other way round.
        ({Field.GIVEN: ["morales"], Field.SURNAME: ["jayden"]}, ("swapped", "swapped")),
        # Swapped, but the surnames also agree the usual way: that level stands.
        ({Field.GIVEN: ["morales"], Field.SURNAME: ["morales"]}, ("else", "exact")),
        # Only one of the two names on the other side: not a swap.
        ({Field.GIVEN: ["morales"], Field.SURNAME: ["smith"]}, ("else", "else")),
        ({Field.GIVEN: ["morales"]}, ("else", NULL)),
    ],
)
def test_compare_swapped_names(
    query: dict[Field | str, list[str]], levels: tuple[str, str]
) -> None:
    found = rules.compare(Profile.of(query), JAYDEN, NICKNAMES)
    assert (found[Field.GIVEN], found[Field.SURNAME]) == levels
    back = rules.compare(JAYDEN, Profile.of(query), NICKNAMES)
    assert (back[Field.GIVEN], back[Field.SURNAME]) == levels


def test_compare_handle_variant_and_id_typo() -> None:
    other = Profile.of({Field.HANDLE: ["jaydee99"], Field.ID_NUMBER: ["d12345687"]})
    levels = rules.compare(other, JAYDEN, NICKNAMES)
    assert levels[Field.HANDLE] == "variant"
    assert levels[Field.ID_NUMBER] == "typo"


@pytest.mark.parametrize(
    ("street", "parts"),
    [("12 elm st", ("12", "elm st")), ("elm st", ("", "elm st")), ("12", ("12", ""))],
)
def test_street_parts(street: str, parts: tuple[str, str]) -> None:
    assert rules.street_parts(street) == parts


# --- the levels in SQL (training) mirror the Python levels ------------------------------

MIRROR_VALUES: dict[Field, list[str]] = {
    Field.GIVEN: [
        "jayden",
        "jaydne",
        "jaydenn",
        "jayde",
        "jay",
        "jake",
        "j",
        "michael",
        "michaela",
        "micheal",
        "kristin",
        "kristina",
        "daniel",
        "danielle",
        "morales",
        "bill",
        "william",
    ],
    Field.SURNAME: ["morales", "moralez", "smith", "smyth", "jayden", "michael", "lee"],
    Field.DOB: ["2008", "2008-03", "2008-03-14", "2008-03-15", "2008-04-03", "2010-11-02"],
    Field.AGE: ["16@2026", "18@2026", "22@2026"],
    Field.ORG: [
        "westfield hs",
        "westfeild hs",
        "eastfield hs",
        "westfield ms",
        "acme hardware",
        "acme hardwre",
        "ace",
        "acme",
        "riverside comm coll",
    ],
    Field.HANDLE: ["jay_dee.99", "jaydee99", "jay.dee_99", "jay_dee.98", "_", "."],
    Field.PHONE: ["+12024561111", "+12024561112"],
    Field.EMAIL: ["jay@example.com", "kate@example.org"],
    Field.ADDRESS: [
        "12 elm st|07090",
        "12 elmst|07090",
        "12 elm sst|07090",
        "13 elm st|07090",
        "12 elm st|07091",
        "12 elm st|",
        "elm st|07090",
        "elm sst|07090",
        "|07090",
        "40 oak ave|07090",
    ],
    Field.ID_NUMBER: ["12345678", "12345679", "12354678", "1234567", "12354679", "1234", "1235"],
}


def test_sql_levels_mirror_python_levels() -> None:
    """Every level in ``training.comparison_sql`` (what Splink estimates) gives the label
    ``rules.compare`` gives, on every pair of one-valued profiles drawn from tricky values."""
    import random

    import duckdb
    import pandas as pd

    from defchain.people import training

    assert set(MIRROR_VALUES) == set(Field)
    rng = random.Random(5)
    profiles = []
    for _ in range(400):
        values = {
            name: [rng.choice(choices)]
            for name, choices in MIRROR_VALUES.items()
            if rng.random() < 0.8
        }
        profiles.append(Profile.of(values))
    rows = [training.splink_row(str(i), None, p, NICKNAMES) for i, p in enumerate(profiles)]
    pairs = [(rng.randrange(len(rows)), rng.randrange(len(rows))) for _ in range(4000)]
    frame = pd.DataFrame(
        [
            {
                **{f"{k}_l": v for k, v in rows[a].items()},
                **{f"{k}_r": v for k, v in rows[b].items()},
            }
            for a, b in pairs
        ]
    )
    sql = training.comparison_sql()
    cases = []
    for name, levels in sql.items():
        whens = " ".join(
            f"WHEN {level['sql_condition']} THEN '{level['label_for_charts']}'"
            for level in levels
            if level["sql_condition"] != "ELSE"
        )
        cases.append(f"CASE {whens} ELSE 'else' END AS \"{name.value}\"")
    con = duckdb.connect()
    con.register("pairs", frame)
    got = con.execute(f"SELECT {', '.join(cases)} FROM pairs").fetchall()
    columns = list(sql)
    for (a, b), labels in zip(pairs, got, strict=True):
        expected = rules.compare(profiles[a], profiles[b], NICKNAMES)
        for name, label in zip(columns, labels, strict=True):
            assert label == expected[name], (name, profiles[a].values, profiles[b].values)


# --- scoring ----------------------------------------------------------------------------


def test_weight() -> None:
    test_model = model()
    count = len(rules.GIVEN_LEVELS)  # m = count/10 .. 1/10, u = 1/10 .. count/10
    assert test_model.weight(Field.GIVEN, "exact") == pytest.approx(math.log2(count / 1))
    assert test_model.weight(Field.GIVEN, "else") == pytest.approx(math.log2(1 / count))
    assert test_model.weight(Field.GIVEN, NULL) == 0.0
    assert test_model.weight(Field.GIVEN, "no such level") == 0.0


def test_score_prior_only_when_nothing_is_known() -> None:
    result = rules.score(rules.compare(Profile(), JAYDEN, NICKNAMES), model())
    assert result.total == pytest.approx(math.log2(0.01 / 0.99))
    assert result.probability == pytest.approx(0.01)
    assert all(weight == 0.0 for weight in result.weights.values())


def test_score_missing_fields_add_zero_weight() -> None:
    test_model = model()
    levels = {Field.GIVEN: "exact", Field.SURNAME: "fuzzy"}
    with_nulls = {**levels, Field.PHONE: NULL, Field.DOB: NULL, Field.AGE: NULL}
    assert rules.score(with_nulls, test_model).total == rules.score(levels, test_model).total
    assert rules.score(with_nulls, test_model).weights[Field.PHONE] == 0.0


def test_score_total_is_prior_plus_weights() -> None:
    test_model = model()
    levels = {Field.GIVEN: "nickname", Field.DOB: "typo", Field.ORG: "else"}
    result = rules.score(levels, test_model)
    expected = math.log2(0.01 / 0.99) + sum(test_model.weight(f, lv) for f, lv in levels.items())
    assert result.total == pytest.approx(expected)
    assert result.probability == pytest.approx(1 / (1 + 2 ** (-expected)))
    assert result.levels == levels


@pytest.mark.parametrize("name", list(Field))
def test_score_higher_level_higher_probability(name: Field) -> None:
    test_model = model()
    base = {Field.GIVEN: "nickname", Field.SURNAME: "exact"}
    probabilities = [
        rules.score({**base, name: level}, test_model).probability for level in rules.LEVELS[name]
    ]
    assert probabilities == sorted(probabilities, reverse=True)
    assert len(set(probabilities)) == len(probabilities)


def test_score_extremes() -> None:
    test_model = model()
    best = {name: levels[0] for name, levels in rules.LEVELS.items()}
    worst = {name: levels[-1] for name, levels in rules.LEVELS.items()}
    assert rules.score(best, test_model).probability > 0.99
    assert rules.score(worst, test_model).probability < 0.0001


def test_score_underflow_is_zero() -> None:
    hopeless = LinkageModel(
        version="t",
        prior=0.5,
        m={Field.PHONE: {"else": 1e-300}},
        u={Field.PHONE: {"else": 1.0}},
        link_threshold=0.9,
        review_threshold=0.5,
    )
    result = rules.score({Field.PHONE: "else"}, hopeless)
    assert result.total < -990
    assert 0.0 <= result.probability < 1e-290


@pytest.mark.parametrize(
    ("levels", "decision"),
    [
        ({name: levels[0] for name, levels in rules.LEVELS.items()}, Decision.LINK),
        (
            {
                Field.GIVEN: "exact",
                Field.SURNAME: "exact",
                Field.ORG: "exact",
                Field.HANDLE: "exact",
                Field.PHONE: "exact",
            },
            Decision.REVIEW,
        ),
        ({Field.GIVEN: "exact", Field.SURNAME: "exact", Field.DOB: "year"}, Decision.NEW),
        ({Field.GIVEN: "exact"}, Decision.NEW),
    ],
)
def test_decision(levels: dict[Field, str], decision: Decision) -> None:
    test_model = model(link=0.9, review=0.5)
    result = rules.score(levels, test_model)
    assert result.decision(test_model) == decision


def test_decision_thresholds_are_inclusive() -> None:
    result = rules.score({Field.GIVEN: "exact"}, model())
    at_link = model(link=result.probability, review=0.0)
    at_review = model(link=1.0, review=result.probability)
    above = model(link=1.0, review=min(1.0, result.probability * 1.001))
    assert result.decision(at_link) == Decision.LINK
    assert result.decision(at_review) == Decision.REVIEW
    assert result.decision(above) == Decision.NEW


# --- the shipped nickname table ---------------------------------------------------------


def test_shipped_nicknames() -> None:
    table = shipped_nicknames()
    assert len(table) > 500
    assert table.same_name("jay", "jayden")
    assert table.same_name("bill", "william")
    assert table.same_name("liam", "william")
    assert table.same_name("bob", "robert")
    assert table.same_name("kate", "katherine")
    assert table.same_name("xander", "alexander")
    assert table.same_name("al", "alexander")
    assert table.same_name("al", "albert")
    assert table.same_name("betsy", "elizabeth")
    assert table.same_name("topher", "christopher")
    assert table.same_name("mikey", "michael")
    assert not table.same_name("jayden", "robert")
    assert not table.same_name("bob", "william")


def test_shipped_nickname_lines() -> None:
    lines = NICKNAMES_FILE.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("#")
    groups = [line.split(",") for line in lines if line and not line.startswith("#")]
    assert 300 <= len(groups) <= 600
    for group in groups:
        assert len(group) >= 2, group
        assert len(set(group)) == len(group), group  # no duplicates within a line
        assert all(name == rules.name_part(name) for name in group), group


def test_read_nicknames_skips_comments_and_blanks(tmp_path: Path) -> None:
    path = tmp_path / "nicknames.csv"
    path.write_text("# jay,jake\njayden, Jay ,\n\n,\nbill,william\n", encoding="utf-8")
    table = read_nicknames(path)
    assert table.same_name("jay", "jayden")
    assert not table.same_name("jay", "jake")
    assert table.same_name("bill", "william")
    assert len(table) == 4


def test_a_remark_in_parentheses_is_not_part_of_the_name() -> None:
    assert rules.split_name("Jordan Smith (demo)") == rules.PersonName("jordan", "", "smith")
    assert rules.split_name("SMITH, JORDAN (aka JJ)").surname == "smith"
