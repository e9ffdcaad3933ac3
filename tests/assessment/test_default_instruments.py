"""Every decision rule of both shipped instruments, one row at a time.

Each rule has at least one row that fires it and, where meaningful, a near miss that does
not. A row also states the overall level the answers should give. The coverage test
fails when a rule is added without a firing row, or a row names a rule that is gone.
"""

from __future__ import annotations

from typing import NamedTuple

import pytest

from defchain.assessment.instrument import AnswerType, Level, default_instruments
from defchain.assessment.scoring import score

GENERAL = "DC-TA-1@1.0"
K12 = "DC-TA-K12@1.0"
Y, N, U = "yes", "no", "unknown"
# Answers that resolve a school threat as transient, so "when in doubt" stays quiet.
TRANSIENT = {"resolved_transient": Y, "intent_beyond_moment": N}


class Row(NamedTuple):
    instrument: str
    rule: str
    answers: dict[str, str]
    fires: bool
    level: Level


ROWS = [
    # ---------------------------------------------------------------- DC-TA-1
    Row(
        GENERAL,
        "imminent-steps-with-means",
        {"preparation": Y, "weapons_access": Y, "target_identified": Y},
        True,
        Level.IMMINENT,
    ),
    Row(
        GENERAL,
        "imminent-steps-with-means",
        {"probing_breaching": Y, "weapons_seen": Y, "specific_time_place": Y},
        True,
        Level.IMMINENT,
    ),
    Row(
        GENERAL,
        "imminent-steps-with-means",
        {"preparation": Y, "weapons_access": Y, "target_identified": N, "specific_time_place": N},
        False,
        Level.HIGH,
    ),
    Row(
        GENERAL,
        "imminent-energy-burst",
        {"energy_burst": Y, "research_planning": Y},
        True,
        Level.IMMINENT,
    ),
    Row(
        GENERAL,
        "imminent-energy-burst",
        {"energy_burst": Y, "research_planning": N},
        False,
        Level.MODERATE,
    ),
    Row(
        GENERAL,
        "imminent-last-resort-with-means",
        {"last_resort": Y, "weapons_seen": Y, "specific_time_place": Y},
        True,
        Level.IMMINENT,
    ),
    Row(
        GENERAL,
        "imminent-last-resort-with-means",
        {"last_resort": Y, "weapons_access": N, "weapons_seen": N, "target_identified": Y},
        False,
        Level.MODERATE,
    ),
    Row(GENERAL, "high-threat-with-means", {"leakage": Y, "weapons_access": Y}, True, Level.HIGH),
    Row(GENERAL, "high-threat-with-means", {"direct_threat": Y, "capacity": Y}, True, Level.HIGH),
    Row(
        GENERAL,
        "high-threat-with-means",
        {"direct_threat": Y, "weapons_access": N, "capacity": N},
        False,
        Level.MODERATE,
    ),
    Row(
        GENERAL,
        "high-three-warning-behaviors",
        {"fixation": Y, "identification": Y, "novel_aggression": Y},
        True,
        Level.HIGH,
    ),
    Row(
        GENERAL,
        "high-three-warning-behaviors",
        {"fixation": Y, "identification": Y},
        False,
        Level.MODERATE,
    ),
    Row(GENERAL, "high-probing", {"probing_breaching": Y}, True, Level.HIGH),
    Row(GENERAL, "high-probing", {"probing_breaching": N}, False, Level.LOW),
    Row(GENERAL, "high-preparation", {"preparation": Y}, True, Level.HIGH),
    Row(GENERAL, "high-preparation", {"preparation": U}, False, Level.LOW),
    Row(
        GENERAL,
        "high-despair-with-means",
        {"suicidal_thoughts": Y, "weapons_access": Y},
        True,
        Level.HIGH,
    ),
    Row(
        GENERAL,
        "high-despair-with-means",
        {"desperation": Y, "weapons_access": N},
        False,
        Level.LOW,
    ),
    Row(
        GENERAL,
        "high-concealed-planning",
        {"story_inconsistent": Y, "research_planning": Y},
        True,
        Level.HIGH,
    ),
    Row(GENERAL, "high-concealed-planning", {"story_inconsistent": Y}, False, Level.LOW),
    Row(GENERAL, "moderate-violent-ideation", {"violent_ideation": Y}, True, Level.MODERATE),
    Row(
        GENERAL,
        "moderate-violent-ideation",
        {"grievance": Y, "violence_acceptable": Y},
        True,
        Level.MODERATE,
    ),
    Row(
        GENERAL,
        "moderate-violent-ideation",
        {"grievance": Y, "violence_acceptable": N},
        False,
        Level.LOW,
    ),
    Row(GENERAL, "moderate-research-planning", {"research_planning": Y}, True, Level.MODERATE),
    Row(GENERAL, "moderate-research-planning", {"research_planning": N}, False, Level.LOW),
    Row(GENERAL, "moderate-warning-behavior", {"leakage": Y}, True, Level.MODERATE),
    Row(GENERAL, "moderate-warning-behavior", {"interest_in_attacks": Y}, False, Level.LOW),
    Row(
        GENERAL,
        "moderate-stressors-despair",
        {"recent_stressors": "several", "desperation": Y},
        True,
        Level.MODERATE,
    ),
    Row(
        GENERAL,
        "moderate-stressors-despair",
        {"recent_stressors": "one", "desperation": Y},
        False,
        Level.LOW,
    ),
    Row(
        GENERAL,
        "moderate-aggression-others-concerned",
        {"others_concerned": Y, "history_of_aggression": Y},
        True,
        Level.MODERATE,
    ),
    Row(GENERAL, "moderate-aggression-others-concerned", {"others_concerned": Y}, False, Level.LOW),
    Row(
        GENERAL,
        "moderate-interest-with-means",
        {"interest_in_attacks": Y, "weapons_seen": Y},
        True,
        Level.MODERATE,
    ),
    Row(
        GENERAL,
        "moderate-interest-with-means",
        {"interest_in_attacks": Y, "weapons_access": U},
        False,
        Level.LOW,
    ),
    Row(GENERAL, "low-grievance", {"grievance": Y}, True, Level.LOW),
    Row(GENERAL, "low-grievance", {"grievance": N}, False, Level.LOW),
    Row(GENERAL, "plan-weapons-check", {"weapons_access": Y}, True, Level.LOW),
    Row(GENERAL, "plan-weapons-check", {"weapons_access": N, "weapons_seen": U}, False, Level.LOW),
    Row(GENERAL, "plan-trusted-adult", {"trusted_relationship": N}, True, Level.LOW),
    Row(GENERAL, "plan-trusted-adult", {"trusted_relationship": U}, False, Level.LOW),
    Row(
        GENERAL,
        "plan-support-engagement",
        {"recent_stressors": "one", "engaged_in_support": N},
        True,
        Level.LOW,
    ),
    Row(
        GENERAL,
        "plan-support-engagement",
        {"desperation": Y, "future_orientation": N},
        True,
        Level.LOW,
    ),
    Row(
        GENERAL,
        "plan-support-engagement",
        {"recent_stressors": "none", "engaged_in_support": N},
        False,
        Level.LOW,
    ),
    Row(GENERAL, "plan-housing", {"stable_housing": N}, True, Level.LOW),
    Row(GENERAL, "plan-housing", {"stable_housing": Y}, False, Level.LOW),
    Row(GENERAL, "plan-work-or-school", {"stable_work_or_school": N}, True, Level.LOW),
    Row(GENERAL, "plan-work-or-school", {"stable_work_or_school": Y}, False, Level.LOW),
    # -------------------------------------------------------------- DC-TA-K12
    Row(
        K12,
        "k12-imminent-plan-means",
        {
            "resolved_transient": N,
            "threatened_harm": "injure_kill_shoot",
            "specific_plan": Y,
            "weapons_access": Y,
        },
        True,
        Level.IMMINENT,
    ),
    Row(
        K12,
        "k12-imminent-plan-means",
        {"intent_beyond_moment": Y, "weapon_mentioned": Y, "preparation": Y, "weapon_at_school": Y},
        True,
        Level.IMMINENT,
    ),
    Row(
        K12,
        "k12-imminent-plan-means",
        {
            "resolved_transient": N,
            "threatened_harm": "injure_kill_shoot",
            "specific_plan": Y,
            "weapons_access": N,
            "weapon_at_school": N,
            "preparation": N,
        },
        False,
        Level.HIGH,
    ),
    Row(
        K12,
        "k12-imminent-plan-means",
        {
            **TRANSIENT,
            "threatened_harm": "injure_kill_shoot",
            "specific_plan": Y,
            "weapons_access": Y,
        },
        False,
        Level.MODERATE,
    ),
    Row(
        K12,
        "k12-very-serious",
        {"resolved_transient": N, "threatened_harm": "injure_kill_shoot"},
        True,
        Level.HIGH,
    ),
    Row(K12, "k12-very-serious", {"threatened_harm": "injure_kill_shoot"}, True, Level.HIGH),
    Row(
        K12,
        "k12-very-serious",
        {**TRANSIENT, "threatened_harm": "injure_kill_shoot"},
        False,
        Level.LOW,
    ),
    Row(
        K12,
        "k12-very-serious",
        {"resolved_transient": N, "threatened_harm": "hit_fight_hurt", "weapon_mentioned": N},
        False,
        Level.MODERATE,
    ),
    Row(K12, "k12-weapon-at-school", {**TRANSIENT, "weapon_at_school": Y}, True, Level.HIGH),
    Row(K12, "k12-weapon-at-school", {**TRANSIENT, "weapon_at_school": N}, False, Level.LOW),
    Row(K12, "k12-preparation", {**TRANSIENT, "preparation": Y}, True, Level.HIGH),
    Row(K12, "k12-preparation", {**TRANSIENT, "preparation": N}, False, Level.LOW),
    Row(
        K12,
        "k12-told-others-with-means",
        {**TRANSIENT, "told_others": Y, "weapons_access": Y},
        True,
        Level.HIGH,
    ),
    Row(
        K12,
        "k12-told-others-with-means",
        {**TRANSIENT, "told_others": Y, "weapons_access": N},
        False,
        Level.LOW,
    ),
    Row(
        K12,
        "k12-despair-with-means",
        {**TRANSIENT, "despair": Y, "weapon_at_school": Y},
        True,
        Level.HIGH,
    ),
    Row(
        K12,
        "k12-despair-with-means",
        {**TRANSIENT, "despair": Y, "weapons_access": N},
        False,
        Level.MODERATE,
    ),
    Row(
        K12,
        "k12-serious",
        {"resolved_transient": N, "threatened_harm": "hit_fight_hurt"},
        True,
        Level.MODERATE,
    ),
    Row(
        K12,
        "k12-serious",
        {"resolved_transient": N, "threatened_harm": "no_physical_harm"},
        False,
        Level.MODERATE,
    ),
    Row(K12, "k12-serious", {**TRANSIENT, "threatened_harm": "hit_fight_hurt"}, False, Level.LOW),
    Row(K12, "k12-substantive", {}, True, Level.MODERATE),
    Row(
        K12,
        "k12-substantive",
        {"resolved_transient": Y, "intent_beyond_moment": Y},
        True,
        Level.MODERATE,
    ),
    Row(
        K12,
        "k12-substantive",
        {"resolved_transient": Y, "intent_beyond_moment": U},
        True,
        Level.MODERATE,
    ),
    Row(K12, "k12-substantive", TRANSIENT, False, Level.LOW),
    Row(K12, "k12-plan", {**TRANSIENT, "specific_plan": Y}, True, Level.MODERATE),
    Row(K12, "k12-plan", {**TRANSIENT, "specific_plan": N}, False, Level.LOW),
    Row(
        K12,
        "k12-warning-signs",
        {**TRANSIENT, "interest_in_attacks": Y, "others_concerned": Y},
        True,
        Level.MODERATE,
    ),
    Row(K12, "k12-warning-signs", {**TRANSIENT, "interest_in_attacks": Y}, False, Level.LOW),
    Row(K12, "k12-despair", {**TRANSIENT, "despair": Y}, True, Level.MODERATE),
    Row(K12, "k12-despair", {**TRANSIENT, "despair": N}, False, Level.LOW),
    Row(K12, "k12-protect-target", {"target_named": Y}, True, Level.MODERATE),
    Row(
        K12,
        "k12-protect-target",
        {"resolved_transient": N, "target_afraid": Y},
        True,
        Level.MODERATE,
    ),
    Row(K12, "k12-protect-target", {**TRANSIENT, "target_named": Y}, False, Level.LOW),
    Row(K12, "k12-transient", TRANSIENT, True, Level.LOW),
    Row(K12, "k12-transient", {"resolved_transient": Y}, False, Level.MODERATE),
    Row(
        K12,
        "k12-transient",
        {"resolved_transient": Y, "intent_beyond_moment": Y},
        False,
        Level.MODERATE,
    ),
    Row(K12, "k12-plan-bullied", {**TRANSIENT, "being_bullied": Y}, True, Level.LOW),
    Row(K12, "k12-plan-bullied", {**TRANSIENT, "being_bullied": N}, False, Level.LOW),
    Row(K12, "k12-plan-trusted-adult", {**TRANSIENT, "trusted_adult": N}, True, Level.LOW),
    Row(K12, "k12-plan-trusted-adult", {**TRANSIENT, "trusted_adult": Y}, False, Level.LOW),
    Row(K12, "k12-plan-support", {**TRANSIENT, "receiving_support": N}, True, Level.LOW),
    Row(K12, "k12-plan-support", {**TRANSIENT, "connected_to_school": N}, True, Level.LOW),
    Row(
        K12,
        "k12-plan-support",
        {**TRANSIENT, "connected_to_school": Y, "receiving_support": Y},
        False,
        Level.LOW,
    ),
    Row(K12, "k12-plan-parents", {**TRANSIENT, "parents_engaged": N}, True, Level.LOW),
    Row(K12, "k12-plan-parents", {**TRANSIENT, "parents_engaged": Y}, False, Level.LOW),
]


def _row_id(row: Row) -> str:
    outcome = "fires" if row.fires else "near-miss"
    return f"{row.rule}-{outcome}-{'-'.join(sorted(row.answers)) or 'nothing'}"


@pytest.mark.parametrize("key", [GENERAL, K12])
def test_every_rule_has_a_row_that_fires_it(key: str) -> None:
    instrument = default_instruments()[key]
    fired_rows = {row.rule for row in ROWS if row.instrument == key and row.fires}
    all_rows = {row.rule for row in ROWS if row.instrument == key}
    assert fired_rows == {rule.id for rule in instrument.rules}
    assert all_rows == fired_rows


@pytest.mark.parametrize("row", ROWS, ids=_row_id)
def test_rule(row: Row) -> None:
    instrument = default_instruments()[row.instrument]
    result = score(instrument, row.answers)
    assert (row.rule in result.fired) is row.fires, result.explanation()
    assert result.level is row.level, result.explanation()
    if row.fires:
        rule = next(r for r in instrument.rules if r.id == row.rule)
        reason = next(r for r in result.reasons if r.rule_id == row.rule)
        assert reason.level is rule.level and reason.stage is rule.stage
        assert result.level >= rule.level and result.stage >= rule.stage
        for item_id, value in reason.answers:
            assert row.answers.get(item_id, "unknown") == value
        for action in rule.actions:
            assert row.rule in next(a.because for a in result.actions if a.id == action)


def test_school_threat_classification_reads_as_findings() -> None:
    k12 = default_instruments()[K12]
    transient = score(k12, {**TRANSIENT, "threatened_harm": "injure_kill_shoot"})
    assert transient.findings == ("Transient threat",)
    serious = score(k12, {"resolved_transient": N, "threatened_harm": "hit_fight_hurt"})
    assert "Substantive threat (serious)" in serious.findings
    assert "Substantive threat (very serious)" not in serious.findings
    very = score(k12, {"resolved_transient": N, "threatened_harm": "injure_kill_shoot"})
    assert very.findings[0] == "Substantive threat (very serious)"
    assert {"safety_evaluation", "law_enforcement_consultation", "notify_parents"} <= {
        a.id for a in very.actions
    }


def test_in_doubt_a_school_threat_is_treated_as_substantive() -> None:
    result = score(default_instruments()[K12], {})
    assert result.fired == ("k12-substantive",)
    assert result.reasons[0].answers == (("resolved_transient", U), ("intent_beyond_moment", U))


def test_imminent_general_case_calls_for_immediate_response() -> None:
    general = default_instruments()[GENERAL]
    result = score(general, {"probing_breaching": Y, "weapons_access": Y, "target_identified": Y})
    assert result.level is Level.IMMINENT
    assert result.stage.value == "probing_breaching"
    assert result.actions[0].id == "immediate_law_enforcement_response"
    assert result.actions[0].task_kind == "other"


@pytest.mark.parametrize("key", [GENERAL, K12])
def test_every_scored_item_is_used_by_some_condition(key: str) -> None:
    instrument = default_instruments()[key]
    used: set[str] = set()

    def walk(condition: object) -> None:
        item = getattr(condition, "item", None)
        if item is not None:
            used.add(item)
        for part in getattr(condition, "conditions", ()):
            walk(part)

    for condition in [f.when for f in instrument.facts] + [r.when for r in instrument.rules]:
        walk(condition)
    scored = {item.id for item in instrument.items if item.answer is not AnswerType.TEXT}
    assert scored - used == set()
