"""Surge clustering: shingles, signatures, band keys, place keys and the batch clustering."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from defchain.triage import clusters
from defchain.triage.clusters import (
    BANDS,
    NUM_PERM,
    PERSON_WINDOW,
    PLACE_WINDOW,
    TEXT_THRESHOLD,
    TEXT_WINDOW,
    Tip,
    band_keys,
    cluster,
    explain,
    place_key,
    shingles,
    signature,
    similarity,
)

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)

BASE = (
    "A man in a grey hoodie was seen with what looked like a rifle near the main entrance "
    "of Harper High School. Students are sheltering in the gym."
)
VARIANTS = (
    # typos
    "A man in a gery hoodie was seen with what lookd like a rifle near the main entrance "
    "of Harper High School. Students are sheltering in the gym.",
    # case, punctuation, a phrase in front
    "I HEARD THAT a man in a grey hoodie was seen with what looked like a rifle near the "
    "main entrance of harper high school!!! students are sheltering in the gym",
    # sentences reordered
    "Students are sheltering in the gym. A man in a grey hoodie was seen with what looked "
    "like a rifle near the main entrance of Harper High School.",
    # truncated
    "A man in a grey hoodie was seen with what looked like a rifle near the main entrance "
    "of Harper High",
)
UNRELATED = (
    "My neighbor keeps posting angry messages about the city council and the new budget.",
    "There is a blue van that has been parked outside the library every night this week.",
    "A former employee said on the phone that he would come back to settle things.",
)


def sig(text: str) -> bytes:
    out = signature(text)
    assert out is not None
    return out


def tip(tip_id: int, text: str = "", hours: float = 0.0, **kw: object) -> Tip:
    return Tip(id=tip_id, at=T0 + timedelta(hours=hours), text=text, **kw)  # type: ignore[arg-type]


# ------------------------------------------------------------------ signatures


def test_identical_texts_have_similarity_one() -> None:
    assert similarity(sig(BASE), sig(BASE)) == 1.0
    assert len(sig(BASE)) == 4 * NUM_PERM


def test_normalization_ignores_case_spacing_and_punctuation() -> None:
    assert sig(BASE) == sig("  " + BASE.upper().replace(" ", "   ").replace(".", "!?"))


@pytest.mark.parametrize("text", ["", "   ", "help!!", "gun at school", "...---..."])
def test_short_or_empty_text_has_no_signature(text: str) -> None:
    assert signature(text) is None


@pytest.mark.parametrize("variant", VARIANTS)
def test_near_duplicates_score_above_threshold_and_share_a_band(variant: str) -> None:
    a, b = sig(BASE), sig(variant)
    assert similarity(a, b) >= TEXT_THRESHOLD
    assert set(band_keys(a)) & set(band_keys(b))


@pytest.mark.parametrize("text", UNRELATED)
def test_unrelated_texts_score_low_and_share_no_band(text: str) -> None:
    a, b = sig(BASE), sig(text)
    assert similarity(a, b) < 0.2
    assert not set(band_keys(a)) & set(band_keys(b))


def test_band_keys_are_short_distinct_strings() -> None:
    keys = band_keys(sig(BASE))
    assert len(keys) == BANDS == len(set(keys))
    assert all(isinstance(k, str) and len(k) <= 40 for k in keys)


def test_signature_rejects_wrong_length() -> None:
    with pytest.raises(ValueError):
        similarity(b"\x00" * 12, sig(BASE))


def test_shingles_are_distinct_and_normalized() -> None:
    s = shingles("Hello, World! hello world")
    assert s.size == len(set(s.tolist()))
    assert set(shingles("HELLO   world").tolist()) <= set(s.tolist())
    assert shingles("abc").size == 0


def test_signatures_and_band_keys_are_stable_across_processes() -> None:
    """Another interpreter (with another hash seed) computes the same bytes and keys."""
    code = (
        "import sys\n"
        "from defchain.triage.clusters import band_keys, shingles, signature\n"
        "text = sys.stdin.read()\n"
        "s = signature(text)\n"
        "sys.stdout.write(s.hex() + '\\n' + ','.join(band_keys(s)) + '\\n'"
        " + ','.join(map(str, shingles(text).tolist())))\n"
    )
    text = BASE + " Ünïcödé café 東京"
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=text,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    ).stdout.split("\n")
    assert bytes.fromhex(out[0]) == sig(text)
    assert out[1].split(",") == band_keys(sig(text))
    assert [int(x) for x in out[2].split(",")] == shingles(text).tolist()


def test_batch_signatures_match_single_signatures() -> None:
    texts = [BASE, "", *VARIANTS, "short", *UNRELATED, "x" * 50_000]
    rows, present = clusters._signature_matrix(texts)
    for i, text in enumerate(texts):
        single = signature(text)
        if single is None:
            assert not present[i]
        else:
            assert present[i]
            assert rows[i].astype("<u4").tobytes() == single


# ------------------------------------------------------------------ place keys


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Lincoln High School, 100 Main St.", "lincoln high school 100 main street"),
        ("100 Main Street (Lincoln HS)", "Lincoln High School, 100 Main St."),
        ("at the Lincoln High School", "LINCOLN HIGH SCHOOL"),
        ("near 42 Oak Ave.", "42 oak avenue"),
        ("Café Rosé, 9 N. Elm Rd", "cafe rose 9 north elm road"),
    ],
)
def test_place_key_variants_are_equal(a: str, b: str) -> None:
    assert place_key(a) is not None
    assert place_key(a) == place_key(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Lincoln High School", "Lincoln Middle School"),
        ("100 Main Street", "102 Main Street"),
        ("42 Oak Avenue", "42 Oak Road"),
    ],
)
def test_place_key_different_places_differ(a: str, b: str) -> None:
    assert place_key(a) != place_key(b)


@pytest.mark.parametrize("vague", ["", "   ", "school", "the mall", "Downtown", "online", "12"])
def test_vague_places_have_no_key(vague: str) -> None:
    assert place_key(vague) is None


# ------------------------------------------------------------------ clustering


def test_near_duplicate_texts_cluster_and_unrelated_do_not() -> None:
    tips = [tip(10, BASE)]
    tips += [tip(20 + i, v, hours=i) for i, v in enumerate(VARIANTS)]
    tips += [tip(30 + i, u, hours=i) for i, u in enumerate(UNRELATED)]
    labels = cluster(tips)
    assert all(labels[20 + i] == 10 for i in range(len(VARIANTS)))
    assert all(labels[30 + i] == 30 + i for i in range(len(UNRELATED)))


def test_similar_text_outside_the_window_does_not_cluster() -> None:
    hours = TEXT_WINDOW / timedelta(hours=1)
    labels = cluster([tip(1, BASE), tip(2, VARIANTS[0], hours=hours + 1)])
    assert labels == {1: 1, 2: 2}


def test_same_person_within_window_clusters_and_outside_does_not() -> None:
    days = PERSON_WINDOW / timedelta(hours=1)
    tips = [
        tip(5, UNRELATED[0], person_id=7),
        tip(3, UNRELATED[1], hours=days - 1, person_id=7),
        tip(9, UNRELATED[2], hours=3 * days, person_id=7),
        tip(4, "", hours=1, person_id=8),
        tip(6, "", hours=2),
    ]
    assert cluster(tips) == {5: 3, 3: 3, 9: 9, 4: 4, 6: 6}


def test_person_window_chains_through_intermediate_tips() -> None:
    step = PERSON_WINDOW / timedelta(hours=1) * 0.9
    tips = [tip(i, "", hours=i * step, person_id=1) for i in range(1, 5)]
    assert set(cluster(tips).values()) == {1}


def test_same_place_within_window_clusters_and_outside_does_not() -> None:
    hours = PLACE_WINDOW / timedelta(hours=1)
    tips = [
        tip(1, UNRELATED[0], location="Lincoln High School, 100 Main St."),
        tip(2, UNRELATED[1], hours=hours / 2, location="100 main street - lincoln hs"),
        tip(3, UNRELATED[2], hours=3 * hours, location="Lincoln High School 100 Main Street"),
        tip(4, "", hours=1, location="school"),
        tip(5, "", hours=1, location="school"),
    ]
    assert cluster(tips) == {1: 1, 2: 1, 3: 3, 4: 4, 5: 5}


def test_explain_gives_one_reason_per_non_root_member() -> None:
    tips = [
        tip(1, BASE),
        tip(2, VARIANTS[2], hours=1),
        tip(3, "", hours=2, location="Oak Park, 5 Elm St", person_id=4),
        tip(4, "", hours=3, location="5 elm street oak park"),
        tip(5, UNRELATED[0], hours=4, person_id=4),
    ]
    reasons = explain(tips)
    assert set(reasons) == {2, 4, 5}
    assert reasons[2].kind == "text" and reasons[2].other_id == 1
    assert reasons[2].score is not None and reasons[2].score >= TEXT_THRESHOLD
    assert reasons[4].kind == "place" and reasons[4].other_id == 3 and reasons[4].score is None
    assert reasons[5].kind == "person" and reasons[5].other_id == 3


def test_invalid_input_is_rejected() -> None:
    with pytest.raises(ValueError):
        cluster([tip(1), tip(1, hours=1)])
    with pytest.raises(ValueError):
        cluster([Tip(id=1, at=datetime(2026, 1, 1), text="naive")])
    assert cluster([]) == {}


def test_large_bucket_of_duplicates_is_one_cluster() -> None:
    tips = [tip(1000 - i, VARIANTS[i % len(VARIANTS)], hours=i / 60) for i in range(300)]
    assert set(cluster(tips).values()) == {701}


# ------------------------------------------------------------------ properties

_texts = st.sampled_from([BASE, *VARIANTS, *UNRELATED, "", "short"])
_places = st.sampled_from(["", "school", "Lincoln HS, 100 Main St", "100 main street lincoln hs"])
_tips = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=24 * 20),
        _texts,
        _places,
        st.one_of(st.none(), st.integers(min_value=0, max_value=3)),
    ),
    max_size=25,
).map(
    lambda rows: [
        Tip(
            id=i * 7 + 3,
            at=T0 + timedelta(hours=h),
            text=text,
            location=loc,
            person_id=pid,
        )
        for i, (h, text, loc, pid) in enumerate(rows)
    ]
)


@settings(max_examples=60, deadline=None)
@given(tips=_tips, seed=st.randoms(use_true_random=False))
def test_labels_are_a_partition_invariant_to_order(tips: list[Tip], seed: object) -> None:
    labels = cluster(tips)
    assert set(labels) == {t.id for t in tips}
    members: dict[int, set[int]] = {}
    for tip_id, label in labels.items():
        members.setdefault(label, set()).add(tip_id)
    for label, group in members.items():
        assert label == min(group)  # the label is the smallest id and a member
        assert labels[label] == label
    shuffled = list(tips)
    seed.shuffle(shuffled)  # type: ignore[attr-defined]
    assert cluster(shuffled) == labels
    # Every non-root member has exactly one reason, and following reasons reaches the root.
    reasons = explain(tips)
    assert set(reasons) == {i for i, label in labels.items() if i != label}
    for tip_id in reasons:
        seen = {tip_id}
        here = tip_id
        while here in reasons:
            here = reasons[here].other_id
            assert here not in seen
            seen.add(here)
        assert here == labels[tip_id]
