"""Loading instruments: the shipped ones load; broken ones are refused with the element named.

Each bad instrument is a small valid one (``minimal()``) with one thing broken, so the
test shows which check refuses it.
"""

from __future__ import annotations

import copy
import re
from typing import Any, get_args

import pytest
import yaml

from defchain.assessment.instrument import (
    SOURCES,
    TASK_KINDS,
    UNKNOWN,
    WELLNESS_FIELDS,
    AnswerType,
    Basis,
    Instrument,
    InstrumentError,
    Level,
    Stage,
    action_catalog,
    default_instruments,
    get_instrument,
    load_text,
    parse_actions,
    protected_term,
    registry_from,
)


def minimal() -> dict[str, Any]:
    """A small valid instrument using every kind of item, fact and condition."""
    return {
        "id": "LOCAL-1",
        "version": "1.0",
        "title": "Local test instrument",
        "source": "Our own wording.",
        "sections": [{"id": "main", "title": "Main", "description": "Everything."}],
        "items": [
            {
                "id": "threat",
                "section": "main",
                "prompt": "Did the person threaten to harm someone?",
                "guidance": "Ask the witnesses; record the words in interviews.",
                "sources": ["interviews", "reports"],
                "answer": "yes_no",
                "basis": "communication",
                "key": True,
            },
            {
                "id": "weapons_access",
                "section": "main",
                "prompt": "Can the person get a weapon?",
                "guidance": "Check the wellness check and ask the household.",
                "sources": ["wellness_check", "weapons_check"],
                "answer": "yes_no",
                "basis": "capacity",
                "key": True,
                "evidence_required": True,
                "prefill": {
                    "wellness_field": "weapons_access_reported",
                    "map": {"yes": "yes", "no": "no"},
                },
            },
            {
                "id": "severity",
                "section": "main",
                "prompt": "How severe was the harm threatened?",
                "guidance": "Judge from the words used.",
                "sources": ["reports"],
                "answer": "scale",
                "options": [
                    {"value": "none", "label": "no harm"},
                    {"value": "some", "label": "some harm"},
                    {"value": "grave", "label": "grave harm"},
                ],
                "basis": "behavior",
            },
            {
                "id": "support",
                "section": "main",
                "prompt": "Does the person have someone they trust?",
                "guidance": "Ask the person.",
                "sources": ["interviews"],
                "answer": "yes_no",
                "basis": "protective",
            },
            {
                "id": "notes",
                "section": "main",
                "prompt": "What did the officer see?",
                "guidance": "Pre-filled from the wellness check.",
                "sources": ["wellness_check"],
                "answer": "text",
                "basis": "circumstance",
                "prefill": {"wellness_field": "observed_state"},
            },
        ],
        "facts": [
            {
                "id": "armed",
                "description": "The person can get a weapon.",
                "when": {"answer": "weapons_access", "in": ["yes"]},
            }
        ],
        "rules": [
            {
                "id": "r-armed-threat",
                "description": "an armed threat is high",
                "when": {"all": [{"answer": "threat", "in": ["yes"]}, {"fact": "armed"}]},
                "level": "high",
                "stage": "violent_ideation",
                "finding": "Armed threat",
                "actions": ["notify_protect_target", "weapons_access_check"],
            },
            {
                "id": "r-threat",
                "description": "a threat is moderate",
                "when": {"answer": "threat", "in": ["yes"]},
                "level": "moderate",
                "actions": ["interview_subject"],
            },
            {
                "id": "r-severity",
                "description": "harm threatened means a grievance at least",
                "when": {"at_least": 1, "of": [{"answer": "severity", "at_least": "some"}]},
                "level": "moderate",
                "stage": "grievance",
            },
            {
                "id": "r-support",
                "description": "no trusted person, so find one",
                "when": {"any": [{"answer": "support", "in": ["no", "unknown"]}]},
                "level": "low",
                "actions": ["mentoring"],
            },
        ],
    }


def load(data: dict[str, Any]) -> Instrument:
    return load_text(yaml.safe_dump(data, sort_keys=False), origin="test.yaml")


def refused(data: dict[str, Any]) -> InstrumentError:
    with pytest.raises(InstrumentError) as caught:
        load(data)
    return caught.value


# ------------------------------------------------------------------ good instruments


def test_both_default_instruments_load_with_their_keys() -> None:
    instruments = default_instruments()
    assert set(instruments) == {"DC-TA-1@1.0", "DC-TA-K12@1.0"}
    for key, instrument in instruments.items():
        assert instrument.key == key
        assert instrument.source.count("https://") >= 2


def test_general_instrument_size_matches_its_design() -> None:
    general = get_instrument("DC-TA-1")
    assert 25 <= len(general.items) <= 40
    assert 8 <= sum(item.key for item in general.items) <= 12
    assert 12 <= len(general.rules) <= 21
    meloy = {
        "fixation",
        "identification",
        "novel_aggression",
        "energy_burst",
        "leakage",
        "last_resort",
        "direct_threat",
        "research_planning",  # pathway, with preparation and probing_breaching
    }
    assert meloy <= {item.id for item in general.items}


@pytest.mark.parametrize("key", ["DC-TA-1@1.0", "DC-TA-K12@1.0"])
def test_weapons_access_is_a_key_cited_item_prefilled_from_the_wellness_check(key: str) -> None:
    item = default_instruments()[key].item("weapons_access")
    assert item.answer is AnswerType.YES_NO
    assert item.key and item.evidence_required
    assert item.prefill is not None
    assert item.prefill.wellness_field == "weapons_access_reported"
    assert item.prefill.map["yes"] == "yes"


@pytest.mark.parametrize("key", ["DC-TA-1@1.0", "DC-TA-K12@1.0"])
def test_every_item_says_where_to_look(key: str) -> None:
    for item in default_instruments()[key].items:
        assert item.sources, item.id
        assert set(item.sources) <= set(SOURCES), item.id
        assert len(item.guidance) >= 20, item.id


def test_minimal_instrument_parses_every_part() -> None:
    instrument = load(minimal())
    assert instrument.key == "LOCAL-1@1.0"
    severity = instrument.item("severity")
    assert [o.value for o in severity.options] == ["none", "some", "grave"]
    assert severity.allowed_values() == ("none", "some", "grave", UNKNOWN)
    assert severity.risk_raising() == {"some", "grave"}
    assert instrument.item("support").risk_raising() == {"no"}
    assert instrument.item("threat").risk_raising() == {"yes"}
    assert instrument.item("notes").allowed_values() == ()
    assert instrument.item("notes").risk_raising() == frozenset()
    assert instrument.item("weapons_access").prefill is not None
    assert instrument.rules[0].level is Level.HIGH
    assert instrument.rules[1].stage is Stage.NONE
    assert [a.id for a in instrument.actions] == [
        a
        for a in action_catalog()
        if a in {"notify_protect_target", "weapons_access_check", "interview_subject", "mentoring"}
    ]
    with pytest.raises(KeyError):
        instrument.item("nope")


def test_yes_and_no_stay_strings_in_yaml() -> None:
    text = yaml.safe_dump(minimal(), sort_keys=False).replace("'yes'", "yes").replace("'no'", "no")
    assert "'yes'" not in text and "- yes" in text
    instrument = load_text(text)
    assert instrument.facts[0].when == load(minimal()).facts[0].when
    assert (
        instrument.item("weapons_access").prefill == load(minimal()).item("weapons_access").prefill
    )


def test_instruments_are_hashable_and_equal_by_content() -> None:
    assert hash(load(minimal())) == hash(load(minimal()))
    assert len({load(minimal()), load(minimal())}) == 1


# ------------------------------------------------------------- protected characteristics

PROTECTED_CASES = [
    (
        ("items", 0, "prompt"),
        "Does the person's religion worry you?",
        'items[0] "threat" prompt',
        "religion",
    ),
    (
        ("items", 1, "guidance"),
        "Ask about their sexual orientation.",
        'items[1] "weapons_access" guidance',
        "sexual orientation",
    ),
    (
        ("items", 2, "options", 1, "label"),
        "disabled person",
        'items[2] "severity" options[1].label',
        "disabled",
    ),
    (("facts", 0, "id"), "ethnic_group", 'facts[0] "ethnic_group" id', "ethnic"),
    (
        ("rules", 1, "description"),
        "political extremism is moderate",
        'rules[1] "r-threat" description',
        "political",
    ),
    (
        ("rules", 0, "finding"),
        "Immigrant with a weapon",
        'rules[0] "r-armed-threat" finding',
        "Immigrant",
    ),
    (("sections", 0, "title"), "Gender", 'sections[0] "main" title', "Gender"),
    (("items", 3, "id"), "religious_views", 'items[3] "religious_views" id', "religious"),
    (("items", 0, "prompt"), "Is the person's sex relevant?", 'items[0] "threat" prompt', "sex"),
]


@pytest.mark.parametrize(("path", "text", "element", "term"), PROTECTED_CASES)
def test_protected_characteristic_is_refused_with_the_element(
    path: tuple[str | int, ...], text: str, element: str, term: str
) -> None:
    data = minimal()
    target: Any = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = text
    if path == ("items", 3, "id"):  # keep the rule that refers to it valid
        data["rules"][3]["when"]["any"][0]["answer"] = text
    error = refused(data)
    assert error.element == element
    assert (
        error.reason
        == f'refers to a protected characteristic ("{term}"); assess behavior, not identity'
    )
    assert element in str(error) and "behavior, not identity" in str(error)


@pytest.mark.parametrize(
    "text",
    ["interviews with witnesses", "review the posts", "a grave threat", "embrace", "reviews"],
)
def test_ordinary_words_containing_a_protected_word_pass(text: str) -> None:
    assert protected_term(text) is None


# ------------------------------------------------------------------------ monotone rules


def test_condition_accepting_unknown_but_not_yes_is_refused() -> None:
    data = minimal()
    data["rules"][1]["when"] = {"answer": "threat", "in": ["unknown"]}
    error = refused(data)
    assert error.element == 'rules[1] "r-threat" when'
    assert 'item "threat"' in error.reason and "yes" in error.reason
    assert "not monotone" in error.reason


def test_protective_condition_accepting_unknown_needs_no() -> None:
    data = minimal()
    data["rules"][3]["when"] = {"any": [{"answer": "support", "in": ["yes", "unknown"]}]}
    error = refused(data)
    assert error.element == 'rules[3] "r-support" when.any[0]'
    assert 'item "support"' in error.reason and "risk-raising answer(s) no" in error.reason


def test_scale_condition_accepting_unknown_needs_every_higher_option() -> None:
    data = minimal()
    data["facts"].append(
        {
            "id": "harm",
            "description": "Harm.",
            "when": {"answer": "severity", "in": ["grave", "unknown"]},
        }
    )
    error = refused(data)
    assert error.element == 'facts[1] "harm" when'
    assert "some" in error.reason


def test_unknown_with_every_risk_raising_answer_is_allowed() -> None:
    data = minimal()
    data["facts"].append(
        {
            "id": "harm",
            "description": "Harm.",
            "when": {"answer": "severity", "in": ["some", "grave", "unknown"]},
        }
    )
    assert load(data).facts[1].id == "harm"


# ------------------------------------------------------------------------ references


@pytest.mark.parametrize(
    ("change", "element", "reason"),
    [
        (
            lambda d: d["rules"][0]["when"]["all"][0].update(answer="thret"),
            'rules[0] "r-armed-threat" when.all[0]',
            'refers to unknown item "thret"',
        ),
        (
            lambda d: d["rules"][1].update(actions=["summon_cavalry"]),
            'rules[1] "r-threat" actions[0]',
            '"summon_cavalry" is not in the action catalog',
        ),
        (
            lambda d: d["rules"][1].update(when={"fact": "armd"}),
            'rules[1] "r-threat" when',
            'refers to fact "armd", which is not defined before it',
        ),
        (
            lambda d: d["facts"].insert(
                0, {"id": "early", "description": "x", "when": {"fact": "armed"}}
            ),
            'facts[0] "early" when',
            'refers to fact "armed", which is not defined before it',
        ),
        (
            lambda d: d["rules"][1].update(when={"answer": "threat", "in": ["maybe"]}),
            'rules[1] "r-threat" when',
            '"maybe" is not an answer of item "threat" (yes, no, unknown)',
        ),
        (
            lambda d: d["rules"][1].update(when={"answer": "threat", "at_least": "yes"}),
            'rules[1] "r-threat" when',
            '"at_least" needs an option of scale item "threat"',
        ),
        (
            lambda d: d["rules"][2]["when"]["of"][0].update(at_least="unknown"),
            'rules[2] "r-severity" when.of[0]',
            '"at_least" needs an option of scale item "severity"',
        ),
        (
            lambda d: d["rules"][1].update(when={"answer": "notes", "in": ["yes"]}),
            'rules[1] "r-threat" when',
            'item "notes" is free text and cannot be used in a condition',
        ),
        (
            lambda d: d["rules"][2]["when"].update(at_least=2),
            'rules[2] "r-severity" when',
            "asks for at least 2 of 1 conditions",
        ),
        (
            lambda d: d["items"].append(copy.deepcopy(d["items"][0])),
            'items[5] "threat"',
            "repeats an id",
        ),
        (
            lambda d: d["rules"].append(copy.deepcopy(d["rules"][0])),
            'rules[4] "r-armed-threat"',
            "repeats an id",
        ),
        (
            lambda d: d["items"][0].update(section="elsewhere"),
            'items[0] "threat" section',
            'names no section "elsewhere"',
        ),
        (
            lambda d: d["items"][2].pop("options"),
            'items[2] "severity"',
            "is a scale item without options",
        ),
        (
            lambda d: d["items"][0].update(
                options=[{"value": "a", "label": "A"}, {"value": "b", "label": "B"}]
            ),
            'items[0] "threat" options',
            "only scale items have options",
        ),
        (
            lambda d: d["items"][1]["prefill"].update(wellness_field="shoe_size"),
            'items[1] "weapons_access" prefill',
            '"shoe_size" is not a wellness-check field',
        ),
        (
            lambda d: d["items"][1]["prefill"].update(map={"yes": "definitely"}),
            'items[1] "weapons_access" prefill',
            'maps "yes" to "definitely", not an answer of item "weapons_access"',
        ),
        (
            lambda d: d["items"][1]["prefill"].update(map={"maybe": "yes"}),
            'items[1] "weapons_access" prefill',
            '"maybe" is not a value of "weapons_access_reported"',
        ),
        (
            lambda d: d["items"][1]["prefill"].update(wellness_field="statements", map={}),
            'items[1] "weapons_access" prefill',
            '"statements" is free text: it can only pre-fill a text item',
        ),
        (
            lambda d: d["items"][0].update(prefill={"wellness_field": "officer_concern"}),
            'items[0] "threat" prefill',
            'needs a map: values of "officer_concern" are not all answers of "threat"',
        ),
    ],
)
def test_broken_meaning_is_refused_naming_the_element(
    change: Any, element: str, reason: str
) -> None:
    data = minimal()
    change(data)
    error = refused(data)
    assert error.element == element
    assert reason in error.reason


def test_prefill_from_concern_with_a_map_loads() -> None:
    data = minimal()
    data["items"][0]["prefill"] = {"wellness_field": "officer_concern", "map": {"high": "yes"}}
    assert load(data).item("threat").prefill is not None


# ------------------------------------------------------------------------------ shape


@pytest.mark.parametrize(
    ("change", "element", "reason"),
    [
        (
            lambda d: d["items"][0].pop("prompt"),
            'items[0] "threat"',
            "'prompt' is a required property",
        ),
        (
            lambda d: d["items"][0].update(colour="red"),
            'items[0] "threat"',
            "('colour' was unexpected)",
        ),
        (
            lambda d: d["items"][0].update(answer="multiple_choice"),
            'items[0] "threat" answer',
            "'multiple_choice' is not one of",
        ),
        (
            lambda d: d["rules"][0].update(level="severe"),
            'rules[0] "r-armed-threat" level',
            "'severe' is not one of",
        ),
        (
            lambda d: d["rules"][0].update(stage="plotting"),
            'rules[0] "r-armed-threat" stage',
            "'plotting' is not one of",
        ),
        (lambda d: d.pop("rules"), "top level", "'rules' is a required property"),
        (lambda d: d.update(version=1.0), "version", "1.0 is not of type 'string'"),
        (
            lambda d: d["items"][0].update(sources=["gossip"]),
            'items[0] "threat" sources[0]',
            "'gossip' is not one of",
        ),
        (
            lambda d: d["items"][2]["options"][0].update(colour="x"),
            'items[2] "severity" options[0]',
            "'colour' was unexpected",
        ),
    ],
)
def test_bad_shape_is_refused_with_the_schema_path(change: Any, element: str, reason: str) -> None:
    data = minimal()
    change(data)
    error = refused(data)
    assert error.element == element
    assert reason in error.reason


def test_invalid_yaml_names_the_origin() -> None:
    with pytest.raises(InstrumentError) as caught:
        load_text("id: [unclosed", origin="county.yaml")
    assert caught.value.element == "document"
    assert "not valid YAML" in caught.value.reason
    assert 'in "county.yaml", line 1' in caught.value.reason


def test_a_repeated_yaml_key_is_refused() -> None:
    text = yaml.safe_dump(minimal(), sort_keys=False) + "title: Second title\n"
    with pytest.raises(InstrumentError, match="duplicate key 'title'"):
        load_text(text)


# ------------------------------------------------------------------------ digest and registry


def test_digest_is_stable_and_follows_content_not_layout() -> None:
    text = yaml.safe_dump(minimal(), sort_keys=False)
    first = load_text(text).digest
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert load_text(text).digest == first
    assert load_text("# a comment\n" + yaml.safe_dump(minimal(), sort_keys=True)).digest == first
    changed = minimal()
    changed["items"][0]["prompt"] = "Did the person threaten to hurt someone?"
    assert load(changed).digest != first


def versioned(version: str) -> Instrument:
    data = minimal()
    data["version"] = version
    return load(data)


def test_latest_version_is_numeric_not_textual() -> None:
    registry = registry_from([versioned("1.0"), versioned("1.10"), versioned("1.9")])
    assert get_instrument("LOCAL-1", registry=registry).version == "1.10"
    assert get_instrument("LOCAL-1", "1.9", registry=registry).version == "1.9"
    with pytest.raises(KeyError):
        get_instrument("LOCAL-1", "2.0", registry=registry)
    with pytest.raises(KeyError):
        get_instrument("OTHER", registry=registry)


def test_registry_refuses_two_instruments_with_one_key() -> None:
    with pytest.raises(ValueError, match=r"LOCAL-1@1\.0"):
        registry_from([versioned("1.0"), versioned("1.0")])


def test_default_lookup_finds_the_shipped_version() -> None:
    assert get_instrument("DC-TA-K12").key == "DC-TA-K12@1.0"
    assert get_instrument("DC-TA-1", "1.0") is default_instruments()["DC-TA-1@1.0"]


def test_instrument_error_names_element_and_reason() -> None:
    error = InstrumentError('items[4] "fixation" prompt', "is empty")
    assert str(error) == 'items[4] "fixation" prompt: is empty'
    assert isinstance(error, ValueError)


# ---------------------------------------------------------------------- enums and catalogs


def test_levels_and_stages_compare_by_seriousness() -> None:
    assert Level.LOW < Level.MODERATE < Level.HIGH < Level.IMMINENT
    assert max([Level.HIGH, Level.MODERATE, Level.IMMINENT, Level.LOW]) is Level.IMMINENT
    assert [level.rank() for level in Level] == [0, 1, 2, 3]
    assert Stage.PREPARATION > Stage.RESEARCH > Stage.NONE
    assert Stage.PROBING.rank == 5 and Stage.RESEARCH.label == "research and planning"
    assert sorted([Stage.ATTACK, Stage.GRIEVANCE]) == [Stage.GRIEVANCE, Stage.ATTACK]


def test_levels_do_not_compare_alphabetically_with_plain_strings() -> None:
    with pytest.raises(TypeError):
        assert Level.HIGH > "moderate"
    with pytest.raises(TypeError):
        assert "imminent" < Level.LOW  # noqa: SIM300 - the reflected comparison on purpose
    with pytest.raises(TypeError):
        assert Level.HIGH > Stage.NONE


def test_action_catalog_uses_only_case_task_kinds() -> None:
    catalog = action_catalog()
    assert {a.task_kind for a in catalog.values()} <= set(TASK_KINDS)
    for instrument in default_instruments().values():
        for rule in instrument.rules:
            assert set(rule.actions) <= set(catalog), rule.id
    for term_free in catalog.values():
        assert protected_term(term_free.title + " " + term_free.description) is None


def test_action_catalog_refuses_an_unknown_task_kind() -> None:
    text = "actions:\n  - {id: x, title: X, description: Do x., task_kind: teleport}\n"
    with pytest.raises(InstrumentError) as caught:
        parse_actions(text)
    assert caught.value.element == 'actions[0] "x" task_kind'


def test_wellness_fields_mirror_the_intake_schema() -> None:
    from defchain.intake.rules import Concern, YesNoUnknown
    from defchain.intake.schemas import WellnessCheckDetails

    model = WellnessCheckDetails.model_fields
    for name, values in WELLNESS_FIELDS.items():
        annotation = model[name].annotation
        if annotation is bool:
            assert values == frozenset({"yes", "no"}), name
        elif annotation is YesNoUnknown:
            assert values == frozenset(v.value for v in YesNoUnknown), name
        elif annotation is Concern:
            assert values == frozenset(v.value for v in Concern), name
        else:
            assert str in (annotation, *get_args(annotation)), name
            assert values is None, name


def test_basis_protective_flips_the_risk_raising_answer() -> None:
    protective = [i for i in get_instrument("DC-TA-1").items if i.basis is Basis.PROTECTIVE]
    assert protective and all(i.risk_raising() == {"no"} for i in protective)
