"""Scoring on a small purpose-built instrument: how rules combine, what reasons, gaps and
actions say, and how answers are validated."""

from __future__ import annotations

import pytest

from defchain.assessment.instrument import ActionSpec, Level, Stage, load_text
from defchain.assessment.scoring import (
    TEXT_MAX,
    AnswerError,
    Result,
    score,
    validate_answers,
)

CATALOG = {
    spec.id: spec
    for spec in (
        ActionSpec("protect", "Protect the target", "Protect them.", "target_protection"),
        ActionSpec("weapons", "Check weapons", "Check weapons.", "weapons_access_check"),
        ActionSpec("talk", "Interview", "Talk to them.", "interview"),
        ActionSpec("mentor", "Mentor", "Find a mentor.", "mentoring"),
    )
}

TEXT = """
id: T-1
version: "1.0"
title: Scoring test
source: Our own.
sections:
  - {id: s, title: S, description: Everything.}
items:
  - id: threat
    section: s
    prompt: "Did the person threaten harm?"
    guidance: Ask.
    sources: [interviews]
    answer: yes_no
    basis: communication
    key: true
  - id: weapon
    section: s
    prompt: "Can the person get a weapon?"
    guidance: Check.
    sources: [weapons_check, wellness_check]
    answer: yes_no
    basis: capacity
    key: true
  - id: harm
    section: s
    prompt: How grave was the harm threatened?
    guidance: Judge.
    sources: [reports]
    answer: scale
    options:
      - {value: none, label: no harm}
      - {value: some, label: some harm}
      - {value: grave, label: grave harm}
    basis: behavior
  - id: probing
    section: s
    prompt: "Has the person probed the target?"
    guidance: Ask.
    sources: [reports]
    answer: yes_no
    basis: behavior
  - id: trusted
    section: s
    prompt: "Does the person have a trusted adult?"
    guidance: Ask.
    sources: [interviews]
    answer: yes_no
    basis: protective
  - id: story
    section: s
    prompt: "What happened?"
    guidance: Write it down.
    sources: [reports]
    answer: text
    basis: circumstance
    key: true
facts:
  - id: armed
    description: A weapon is within reach.
    when: {answer: weapon, in: [yes]}
rules:
  - id: r-armed-threat
    description: an armed threat is high.
    when:
      all:
        - {answer: threat, in: [yes]}
        - {fact: armed}
    level: high
    stage: violent_ideation
    finding: Armed threat
    actions: [weapons, protect]
  - id: r-probing
    description: probing is the furthest step
    when: {answer: probing, in: [yes]}
    level: moderate
    stage: probing_breaching
    finding: Probing
    actions: [protect]
  - id: r-harm
    description: harm threatened is moderate
    when: {answer: harm, at_least: some}
    level: moderate
    stage: grievance
    actions: [talk]
  - id: r-doubt
    description: while the weapon question is open, check it
    when:
      at_least: 1
      of:
        - {answer: weapon, in: [yes, unknown]}
    level: low
    actions: [weapons]
  - id: r-trusted
    description: find a trusted adult
    when: {answer: trusted, in: [no]}
    level: low
    actions: [mentor]
"""

INSTRUMENT = load_text(TEXT, actions=CATALOG)


def run(**answers: str) -> Result:
    return score(INSTRUMENT, answers)


def test_when_no_rule_fires_the_level_is_low() -> None:
    result = run(weapon="no")
    assert result.level is Level.LOW and result.stage is Stage.NONE
    assert result.fired == () and result.reasons == () and result.actions == ()
    assert result.explanation()[:2] == [
        "Level of concern: low. Pathway stage: none identified.",
        "No rule fired, so the level of concern is low.",
    ]


def test_level_is_the_highest_and_stage_the_furthest_of_the_fired_rules() -> None:
    result = run(threat="yes", weapon="yes", probing="yes", harm="grave")
    assert result.fired == ("r-armed-threat", "r-probing", "r-harm", "r-doubt")
    assert result.level is Level.HIGH  # from r-armed-threat
    assert result.stage is Stage.PROBING  # from r-probing, a moderate rule
    assert result.findings == ("Armed threat", "Probing")
    assert result.facts == {"armed"}
    assert [r.level for r in result.reasons] == [
        Level.HIGH,
        Level.MODERATE,
        Level.MODERATE,
        Level.LOW,
    ]


def test_protective_answer_does_not_lower_a_conclusion() -> None:
    without = run(threat="yes", weapon="yes")
    with_support = run(threat="yes", weapon="yes", trusted="yes")
    assert with_support.level is without.level is Level.HIGH
    lacking = run(threat="yes", weapon="yes", trusted="no")
    assert lacking.level is Level.HIGH
    assert [a.id for a in lacking.actions][-1] == "mentor"


def test_reason_reads_aloud_with_prompts_and_answers() -> None:
    result = run(threat="yes", weapon="yes", harm="some")
    armed = result.reasons[0]
    assert armed.rule_id == "r-armed-threat"
    assert armed.answers == (("threat", "yes"), ("weapon", "yes"))
    assert armed.text == (
        'Because the answer to "Did the person threaten harm?" is "yes" and the answer to '
        '"Can the person get a weapon?" is "yes", an armed threat is high.'
    )
    harm = next(r for r in result.reasons if r.rule_id == "r-harm")
    assert '"How grave was the harm threatened?" is "some harm"' in harm.text  # the label
    assert harm.answers == (("harm", "some"),)
    assert harm.stage is Stage.GRIEVANCE


def test_reason_says_when_an_unknown_answer_made_a_rule_fire() -> None:
    result = run()
    doubt = result.reasons[0]
    assert doubt.rule_id == "r-doubt"
    assert doubt.answers == (("weapon", "unknown"),)
    assert doubt.text == (
        'Because "Can the person get a weapon?" is not known yet, '
        "while the weapon question is open, check it."
    )


def test_explanation_numbers_the_chain() -> None:
    lines = run(threat="yes", weapon="yes", harm="none").explanation()
    assert lines[0] == "Level of concern: high. Pathway stage: violent ideation."
    assert lines[1] == "Findings: Armed threat."
    assert lines[2].startswith('1. Because the answer to "Did the person threaten harm?"')
    assert lines[3].startswith("2. Because")
    assert lines[4] == "Recommended actions: Protect the target; Check weapons."
    assert lines[5:] == ["Information gap: What happened? (look in: reports)"]


def test_gaps_are_unknown_or_unanswered_key_items_in_item_order() -> None:
    result = run(threat="unknown", harm="unknown", probing="yes")
    assert [g.item_id for g in result.gaps] == ["threat", "weapon", "story"]
    weapon = result.gaps[1]
    assert weapon.prompt == "Can the person get a weapon?"
    assert weapon.where_to_look == ("weapons_check", "wellness_check")
    answered = run(threat="no", weapon="yes", story="He said he would come back.")
    assert answered.gaps == ()
    blank_text = run(threat="no", weapon="no", story="  ")
    assert [g.item_id for g in blank_text.gaps] == ["story"]


def test_actions_are_a_union_in_catalog_order_naming_their_rules() -> None:
    result = run(threat="yes", weapon="yes", probing="yes", harm="grave", trusted="no")
    assert [(a.id, a.because) for a in result.actions] == [
        ("protect", ("r-armed-threat", "r-probing")),
        ("weapons", ("r-armed-threat", "r-doubt")),
        ("talk", ("r-harm",)),
        ("mentor", ("r-trusted",)),
    ]
    protect = result.actions[0]
    assert (protect.title, protect.task_kind) == ("Protect the target", "target_protection")


def test_empty_string_counts_as_unanswered() -> None:
    assert run(threat="", weapon="") == run()


def test_validate_answers_names_the_item_and_the_problem() -> None:
    problems = validate_answers(
        INSTRUMENT,
        {"threat": "maybe", "harm": "extreme", "nonsense": "yes", "story": "x" * (TEXT_MAX + 1)},
    )
    assert problems == {
        "threat": 'Item "threat" (Did the person threaten harm?): "maybe" is not an allowed '
        "answer (one of: yes, no, unknown)",
        "harm": 'Item "harm" (How grave was the harm threatened?): "extreme" is not an allowed '
        "answer (one of: none, some, grave, unknown)",
        "nonsense": '"nonsense" is not an item of T-1@1.0',
        "story": f'Item "story" (What happened?): at most {TEXT_MAX} characters '
        f"({TEXT_MAX + 1} given)",
    }


def test_validate_answers_accepts_good_answers() -> None:
    good = {"threat": "yes", "harm": "unknown", "story": "x" * TEXT_MAX, "trusted": ""}
    assert validate_answers(INSTRUMENT, good) == {}


def test_validate_answers_refuses_a_non_text_value() -> None:
    problems = validate_answers(INSTRUMENT, {"threat": True})  # type: ignore[dict-item]
    assert problems == {
        "threat": 'Item "threat" (Did the person threaten harm?): the answer must be text'
    }


def test_score_refuses_invalid_answers() -> None:
    with pytest.raises(AnswerError) as caught:
        run(threat="maybe")
    assert set(caught.value.problems) == {"threat"}
    assert "maybe" in str(caught.value)


def test_at_least_on_a_scale_includes_higher_options_and_never_unknown() -> None:
    assert "r-harm" not in run(harm="none").fired
    assert "r-harm" in run(harm="some").fired
    assert "r-harm" in run(harm="grave").fired
    assert "r-harm" not in run(harm="unknown").fired


def test_any_prefers_known_answers_when_reading_reasons() -> None:
    text = TEXT.replace(
        "        - {answer: weapon, in: [yes, unknown]}",
        "        - {answer: weapon, in: [yes, unknown]}\n        - {answer: probing, in: [yes]}",
    )
    instrument = load_text(text, actions=CATALOG)
    doubt = next(r for r in score(instrument, {"probing": "yes"}).reasons if r.rule_id == "r-doubt")
    assert doubt.answers == (("probing", "yes"),)  # the unknown weapon answer is not read out
