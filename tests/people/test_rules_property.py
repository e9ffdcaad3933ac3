"""Properties of the linkage rules on random profiles drawn from small alphabets (so that
exact, fuzzy, nickname and partial matches all happen): comparison is symmetric and does
not depend on the order values were added, a score is a probability, and blocking keys
depend only on the profile."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from defchain.people import rules
from defchain.people.model import nicknames
from defchain.people.rules import NULL, Field, LinkageModel, Profile

NICKNAMES = nicknames()

VALUES: dict[Field, list[str]] = {
    Field.GIVEN: [
        "jayden",
        "jaydne",
        "jay",
        "jaden",
        "jake",
        "j",
        "william",
        "bill",
        "liam",
        "b",
        "katherine",
        "kate",
        "al",
        "alexander",
        "albert",
    ],
    Field.SURNAME: ["morales", "moralez", "morris", "smith", "smyth", "robert", "rupert"],
    Field.DOB: [
        "2008",
        "2008-03",
        "2008-04",
        "2008-03-14",
        "2008-03-15",
        "2008-03-04",
        "2008-04-03",
        "2009-03-14",
        "2010",
        "2010-11-02",
    ],
    Field.AGE: ["16@2026", "17@2026", "15@2024", "18@2026", "22@2026"],
    Field.ORG: ["westfield hs", "westfeild hs", "westfield ms", "eastside hs"],
    Field.HANDLE: ["jay_dee.99", "jaydee99", "jaydee", "kate.m"],
    Field.PHONE: ["+12024561111", "+12024561112"],
    Field.EMAIL: ["jay@example.com", "kate@example.org"],
    Field.ADDRESS: [
        "12 elm st|07090",
        "12 elmst|07090",
        "12 elm sst|07090",
        "40 oak ave|07090",
        "12 elm st|07091",
        "|07090",
    ],
    Field.ID_NUMBER: ["12345678", "12345679", "1234567", "87654321"],
}
assert set(VALUES) == set(Field)

# A drawn profile: for each field, its values in the order they are added.
Drawn = dict[Field, list[str]]


@st.composite
def drawn_profiles(draw: st.DrawFn) -> Drawn:
    return {
        name: draw(st.lists(st.sampled_from(choices), max_size=3, unique=True))
        for name, choices in VALUES.items()
    }


@st.composite
def reordered(draw: st.DrawFn, drawn: Drawn) -> Drawn:
    """The same values, added in another order (fields too)."""
    fields = draw(st.permutations(list(drawn)))
    return {name: draw(st.permutations(drawn[name])) for name in fields}


def build(drawn: Drawn) -> Profile:
    profile = Profile()
    for name, values in drawn.items():
        for value in values:
            profile.add(name, value)
    return profile


def hand_made_model(strong: float = 0.9) -> LinkageModel:
    """m/u per level of every field; ``strong`` is m of the best level."""
    m: dict[str, dict[str, float]] = {}
    u: dict[str, dict[str, float]] = {}
    for name, levels in rules.LEVELS.items():
        rest = len(levels) - 1
        m[name] = {levels[0]: strong} | {lv: (1 - strong) / rest for lv in levels[1:]}
        u[name] = {levels[-1]: 0.9} | {lv: 0.1 / rest for lv in levels[:-1]}
    return LinkageModel(
        version="property",
        prior=0.001,
        m=m,
        u=u,
        link_threshold=0.95,
        review_threshold=0.5,
    )


MODELS = [hand_made_model(), hand_made_model(strong=1 - 1e-12)]


@given(drawn_profiles(), drawn_profiles())
def test_compare_is_symmetric(a: Drawn, b: Drawn) -> None:
    query, candidate = build(a), build(b)
    forward = rules.compare(query, candidate, NICKNAMES)
    assert forward == rules.compare(candidate, query, NICKNAMES)
    assert set(forward) == set(Field)
    for name, level in forward.items():
        assert level == NULL or level in rules.LEVELS[name]


@given(st.data(), drawn_profiles(), drawn_profiles())
def test_compare_ignores_insertion_order(data: st.DataObject, a: Drawn, b: Drawn) -> None:
    a_again = data.draw(reordered(a))
    b_again = data.draw(reordered(b))
    expected = rules.compare(build(a), build(b), NICKNAMES)
    assert rules.compare(build(a_again), build(b_again), NICKNAMES) == expected


@given(drawn_profiles())
def test_compare_with_itself_is_the_best_level(a: Drawn) -> None:
    levels = rules.compare(build(a), build(a), NICKNAMES)
    for name, level in levels.items():
        known = bool(a[name])
        best = rules.LEVELS[name][0]
        if name == Field.AGE:
            known = known and not a[Field.DOB]  # dates of birth already say it
        if name == Field.ADDRESS and not any(v.partition("|")[0] for v in a[name]):
            best = "zip"  # a ZIP code without a street is never an exact address
        if name == Field.DOB:  # a partial date agrees only as far as it is known
            longest = max((len(v) for v in a[name]), default=0)
            best = {10: "exact", 7: "year_month"}.get(longest, "year")
        assert level == (best if known else NULL)


@given(drawn_profiles(), drawn_profiles())
def test_score_is_a_probability(a: Drawn, b: Drawn) -> None:
    levels = rules.compare(build(a), build(b), NICKNAMES)
    for model in MODELS:
        result = rules.score(levels, model)
        assert 0.0 <= result.probability <= 1.0
        assert (
            result.probability
            == rules.score(rules.compare(build(b), build(a), NICKNAMES), model).probability
        )
        for name, level in levels.items():
            if level == NULL:
                assert result.weights[name] == 0.0


@given(drawn_profiles(), st.sampled_from(list(Field)))
def test_score_improves_with_a_better_level(a: Drawn, name: Field) -> None:
    """Raising one field's level never lowers the match probability."""
    levels = rules.compare(build(a), build(a), NICKNAMES)
    model = MODELS[0]
    ladder = [
        rules.score({**levels, name: level}, model).probability for level in rules.LEVELS[name]
    ]
    assert ladder == sorted(ladder, reverse=True)


@given(st.data(), drawn_profiles())
def test_blocking_keys_are_deterministic(data: st.DataObject, a: Drawn) -> None:
    keys = rules.blocking_keys(build(a), NICKNAMES)
    assert keys == rules.blocking_keys(build(a), NICKNAMES)
    assert keys == rules.blocking_keys(build(data.draw(reordered(a))), NICKNAMES)
    assert all(not key.endswith("|") and ":|" not in key for key in keys)


@given(drawn_profiles(), drawn_profiles())
def test_exact_strong_identifier_shares_a_key(a: Drawn, b: Drawn) -> None:
    """Two profiles with the same handle (but for punctuation), phone, e-mail, ID number or
    address are always compared."""
    levels = rules.compare(build(a), build(b), NICKNAMES)
    strong = (Field.HANDLE, Field.PHONE, Field.EMAIL, Field.ID_NUMBER)
    if (
        any(levels[name] == "exact" for name in strong)
        or levels[Field.HANDLE] == "variant"
        or levels[Field.ADDRESS] == "exact"
    ):
        shared = rules.blocking_keys(build(a), NICKNAMES) & rules.blocking_keys(build(b), NICKNAMES)
        assert shared


@given(drawn_profiles(), drawn_profiles())
def test_surname_within_one_edit_and_birth_year_share_a_key(a: Drawn, b: Drawn) -> None:
    """A surname misspelt by one edit and a birth year a year apart or less (of a date of
    birth or implied by an age) are always compared."""
    from rapidfuzz.distance import DamerauLevenshtein

    pa, pb = build(a), build(b)
    close_names = any(
        DamerauLevenshtein.distance(x, y) <= 1
        for x in pa.get(Field.SURNAME)
        for y in pb.get(Field.SURNAME)
    )
    dob_years_b = {int(v[:4]) for v in pb.get(Field.DOB)}
    born_about_a = {int(v[3:]) - int(v[:2]) for v in pa.get(Field.AGE)}  # "16@2026"
    close_years = bool({int(v[:4]) for v in pa.get(Field.DOB)} & dob_years_b) or any(
        abs(x - y) <= 1 for x in born_about_a for y in dob_years_b
    )
    if close_names and close_years:
        assert rules.blocking_keys(pa, NICKNAMES) & rules.blocking_keys(pb, NICKNAMES)
