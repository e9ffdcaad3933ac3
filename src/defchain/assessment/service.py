"""Recording assessments: validate answers and their evidence, score them with the exact
instrument version, keep the result, turn information gaps into case tasks and close
the tasks whose question is now answered. Services flush; the boundary commits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from defchain import audit, ledger
from defchain.access import Actor, Permission, require
from defchain.assessment import firearm_access, rules
from defchain.assessment.instrument import (
    UNKNOWN,
    AnswerType,
    Instrument,
    default_instruments,
    get_instrument,
    version_key,
)
from defchain.assessment.models import Assessment, AssessmentAnswer
from defchain.assessment.scoring import Level, Result, Stage, score, validate_answers
from defchain.cases import Case, CaseNote
from defchain.cases import service as cases
from defchain.errors import NotFound, ValidationFailed
from defchain.intake import Report

P = Permission
WELLNESS_KIND = "wellness_check"
# Wellness-check fields worth citing (the structured ones; the officer's name is not).
WELLNESS_FIELDS: dict[str, str] = {
    "contact_made": "Contact made",
    "observed_state": "Observed state",
    "statements": "Statements",
    "weapons_seen": "Weapons seen",
    "weapons_access_reported": "Weapons access reported",
    "weapons_text": "About the weapons",
    "others_in_home": "Others in the home",
    "referral_made": "Referral made",
    "referral_to": "Referred to",
    "hold_initiated": "Hold initiated",
    "officer_concern": "Officer's concern",
}


class AnswersInvalid(ValidationFailed):
    """Some answers broke a rule; ``errors`` maps each form field to its message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        first = next(iter(errors))
        summary = "; ".join(f"{name}: {message}" for name, message in errors.items())
        super().__init__(summary, field=first)
        self.errors = dict(errors)


@dataclass(frozen=True)
class AnswerIn:
    """One answer as the assessor submitted it."""

    value: str
    citation: str = ""  # a rules.Citation token, e.g. "report:12"
    detail: str = ""  # what in the evidence supports it, in the assessor's words
    prefilled: bool = False


@dataclass(frozen=True)
class Prefilled:
    """An answer suggested by a wellness-check field, to be confirmed by the assessor."""

    value: str
    citation: rules.Citation
    label: str


@dataclass(frozen=True)
class Evidence:
    """What an assessor may cite on this case: form value and a readable label."""

    options: list[tuple[str, str]] = field(default_factory=list)
    report_ids: frozenset[int] = frozenset()
    note_ids: frozenset[int] = frozenset()
    wellness: dict[int, dict[str, Any]] = field(default_factory=dict)


def instruments() -> list[Instrument]:
    """The instruments an assessor may choose, by id (DC-TA-1 first), each id's versions
    newest first."""
    ordered = sorted(
        default_instruments().values(), key=lambda i: version_key(i.version), reverse=True
    )
    return sorted(ordered, key=lambda i: i.id)


def instrument_of(assessment: Assessment) -> Instrument:
    """The exact instrument version the assessment used."""
    return get_instrument(assessment.instrument_id, assessment.instrument_version)


def _wellness_details(report: Report) -> dict[str, Any]:
    return {k: v for k, v in (report.details or {}).items() if k in WELLNESS_FIELDS}


def evidence_for(db: Session, actor: Actor, case: Case) -> Evidence:
    """The reports, notes and wellness-check fields of the case the actor may cite."""
    options: list[tuple[str, str]] = []
    reports = cases.reports_of(db, actor, case)
    wellness: dict[int, dict[str, Any]] = {}
    for report in reports:
        options.append((f"report:{report.id}", f"Report #{report.id} ({report.kind})"))
        if report.kind == WELLNESS_KIND:
            wellness[report.id] = _wellness_details(report)
            for name, value in wellness[report.id].items():
                label = f"Wellness check #{report.id}: {WELLNESS_FIELDS[name]} = {value}"
                options.append((f"wellness:{report.id}:{name}", label))
    notes = cases.notes_visible(db, actor, case)
    for note in notes:
        options.append((f"note:{note.id}", f"Note #{note.id}: {note.body[:60]}"))
    return Evidence(
        options=options,
        report_ids=frozenset(r.id for r in reports),
        note_ids=frozenset(n.id for n in notes),
        wellness=wellness,
    )


def prefill(evidence: Evidence, instrument: Instrument) -> dict[str, Prefilled]:
    """Answers the case's wellness checks suggest, newest check first, each citing the
    field it came from. The page marks them "pre-filled, to be confirmed"."""
    out: dict[str, Prefilled] = {}
    for report_id in sorted(evidence.wellness, reverse=True):
        details = evidence.wellness[report_id]
        for item in instrument.items:
            if item.id in out or item.prefill is None:
                continue
            value = rules.prefill_value(item, details)
            if value is None:
                continue
            name = item.prefill.wellness_field
            citation = rules.Citation(rules.EvidenceKind.WELLNESS, report_id, name)
            label = f"Wellness check #{report_id}: {WELLNESS_FIELDS.get(name, name)}"
            out[item.id] = Prefilled(value, citation, label)
    return out


def _check_citation(
    instrument: Instrument, item_id: str, answer: AnswerIn, evidence: Evidence
) -> str | None:
    """The problem with an answer's evidence, or ``None``."""
    item = instrument.item(item_id)
    try:
        citation = rules.parse_citation(answer.citation)
    except ValueError as exc:
        return str(exc)
    known = (
        rules.is_known(answer.value) if item.answer is not AnswerType.TEXT else bool(answer.value)
    )
    if citation is None:
        if item.evidence_required and known:
            return "this answer needs evidence: cite a report, a note or a wellness-check field"
        return None
    if citation.kind is rules.EvidenceKind.REPORT and citation.ref not in evidence.report_ids:
        return f"report #{citation.ref} is not a report of this case you may read"
    if citation.kind is rules.EvidenceKind.NOTE and citation.ref not in evidence.note_ids:
        return f"note #{citation.ref} is not a note of this case you may read"
    if citation.kind is rules.EvidenceKind.WELLNESS:
        fields = evidence.wellness.get(citation.ref)
        if fields is None:
            return f"report #{citation.ref} is not a wellness check of this case"
        if citation.field not in fields:
            return f"wellness check #{citation.ref} has no field {citation.field!r}"
    return None


def _validate(
    instrument: Instrument,
    answers: Mapping[str, AnswerIn],
    evidence: Evidence,
    computed: Level | None,
    concluded: str,
    conclusion_reason: str,
) -> None:
    errors = {
        f"answer-{k}": v
        for k, v in validate_answers(instrument, {k: a.value for k, a in answers.items()}).items()
    }
    for item_id, answer in answers.items():
        if f"answer-{item_id}" in errors:
            continue
        problem = _check_citation(instrument, item_id, answer, evidence)
        if problem:
            errors[f"evidence-{item_id}"] = problem
        if len(answer.detail) > 500:
            errors[f"detail-{item_id}"] = "at most 500 characters"
    if concluded and concluded not in {level.value for level in Level}:
        errors["concluded_level"] = "choose low, moderate, high or imminent"
    elif (
        concluded
        and computed is not None
        and concluded != computed.value
        and len(conclusion_reason.strip()) < 10
    ):
        errors["conclusion_reason"] = (
            "say why the team's level differs from the instrument's (at least 10 characters)"
        )
    if len(conclusion_reason) > 2000:
        errors["conclusion_reason"] = "at most 2000 characters"
    if errors:
        raise AnswersInvalid(errors)


def result_json(result: Result) -> dict[str, Any]:
    """The result as stored: everything the page needs to explain it later."""
    return {
        "level": result.level.value,
        "stage": result.stage.value,
        "findings": list(result.findings),
        "reasons": [
            {
                "rule_id": r.rule_id,
                "text": r.text,
                "answers": [list(pair) for pair in r.answers],
                "level": r.level.value,
                "stage": r.stage.value,
            }
            for r in result.reasons
        ],
        "gaps": [
            {"item_id": g.item_id, "prompt": g.prompt, "where_to_look": list(g.where_to_look)}
            for g in result.gaps
        ],
        "actions": [
            {
                "id": a.id,
                "title": a.title,
                "description": a.description,
                "task_kind": a.task_kind,
                "because": list(a.because),
            }
            for a in result.actions
        ],
        "fired": list(result.fired),
        "facts": sorted(result.facts),
        "explanation": result.explanation(),
    }


def preview(instrument: Instrument, answers: Mapping[str, AnswerIn]) -> Result | None:
    """The result the answers would give, or ``None`` while some value is invalid."""
    values = {k: a.value for k, a in answers.items()}
    if validate_answers(instrument, values):
        return None
    return score(instrument, values)


def record(
    db: Session,
    actor: Actor,
    case: Case,
    *,
    instrument_key: str,
    answers: Mapping[str, AnswerIn],
    concluded_level: str = "",
    conclusion_reason: str = "",
    now: datetime,
) -> Assessment:
    """Score and store an assessment; open a task for each new information gap and
    close the gap tasks whose question this assessment answers; a yes or no on weapons
    access is written to each subject's firearm-access history where it differs. Nothing
    is written when any answer or citation is invalid."""
    require(actor, P.ASSESSMENT_ASSESSMENT_CREATE, case)
    instrument = default_instruments().get(instrument_key)
    if instrument is None:
        raise ValidationFailed(f"unknown instrument {instrument_key!r}", field="instrument")
    evidence = evidence_for(db, actor, case)
    result = preview(instrument, answers)
    _validate(
        instrument,
        answers,
        evidence,
        result.level if result else None,
        concluded_level,
        conclusion_reason,
    )
    assert result is not None  # _validate raised otherwise
    concluded = concluded_level or result.level.value
    row = Assessment(
        case_id=case.id,
        instrument_id=instrument.id,
        instrument_version=instrument.version,
        instrument_digest=instrument.digest,
        assessor_user_id=actor.user_id,
        level=result.level.value,
        stage=result.stage.value,
        concluded_level=concluded,
        conclusion_reason=conclusion_reason.strip(),
        result=result_json(result),
        created_at=now,
    )
    db.add(row)
    db.flush()
    db.add_all(_answer_rows(row.id, answers))
    db.flush()
    opened, closed = _sync_gap_tasks(db, actor, case, instrument, row, answers, result, now)
    cases.record_concern(
        db, actor, case, level=concluded, stage=result.stage.value, assessed_at=now
    )
    firearm = answers.get(firearm_access.ITEM)
    firearm_recorded = (
        firearm_access.write_back(
            db,
            actor,
            case,
            value=firearm.value,
            detail=firearm.detail.strip(),
            source=f"assessment #{row.id} ({instrument.key})",
            now=now,
        )
        if firearm is not None
        else []
    )
    for report in cases.reports_of(db, actor, case):
        ledger.complete(
            db,
            subject_type="report",
            subject_id=report.id,
            link="assessed",
            now=now,
            by=actor.label,
            user_id=actor.audit_id,
            note=f"assessment #{row.id} of case #{case.id}",
        )
    audit.record_by(
        db,
        actor,
        tag="assessment:assessment:recorded",
        subject_type="assessment",
        subject_id=row.id,
        changes={
            "case_id": [None, case.id],
            "instrument": [None, instrument.key],
            "level": [None, result.level.value],
            "concluded_level": [None, concluded],
            "stage": [None, result.stage.value],
            "gap_tasks_opened": [None, opened],
            "gap_tasks_closed": [None, closed],
            "firearm_access_recorded": [None, firearm_recorded],
        },
        at=now,
    )
    return row


def _answer_rows(assessment_id: int, answers: Mapping[str, AnswerIn]) -> list[AssessmentAnswer]:
    rows = []
    for item_id, answer in answers.items():
        citation = rules.parse_citation(answer.citation)
        rows.append(
            AssessmentAnswer(
                assessment_id=assessment_id,
                item_id=item_id,
                value=answer.value,
                evidence_kind=citation.kind.value if citation else "",
                evidence_report_id=(
                    citation.ref
                    if citation and citation.kind is not rules.EvidenceKind.NOTE
                    else None
                ),
                evidence_note_id=(
                    citation.ref if citation and citation.kind is rules.EvidenceKind.NOTE else None
                ),
                evidence_field=citation.field if citation else "",
                evidence_detail=answer.detail.strip(),
                prefilled=answer.prefilled,
            )
        )
    return rows


def _sync_gap_tasks(
    db: Session,
    actor: Actor,
    case: Case,
    instrument: Instrument,
    assessment: Assessment,
    answers: Mapping[str, AnswerIn],
    result: Result,
    now: datetime,
) -> tuple[list[str], list[str]]:
    """Open a task for each gap without one; close each gap task now answered."""
    prefix = rules.gap_origin(instrument.id, "")
    open_by_origin = {t.origin or "": t for t in cases.open_tasks(db, case, origin_prefix=prefix)}
    opened: list[str] = []
    for gap in result.gaps:
        origin = rules.gap_origin(instrument.id, gap.item_id)
        if origin in open_by_origin:
            continue
        cases.add_task(
            db,
            actor,
            case,
            kind="information_gap",
            title=f"Find out: {gap.prompt}"[:200],
            owner_user_id=case.lead_user_id,
            due_at=now + rules.gap_due(result.level),
            origin=origin,
            now=now,
        )
        opened.append(gap.item_id)
    closed: list[str] = []
    for origin, task in open_by_origin.items():
        item_id = origin.removeprefix(prefix)
        answer = answers.get(item_id)
        if answer is not None and rules.is_known(answer.value):
            cases.complete_task(
                db,
                actor,
                task,
                outcome=f"Answered in assessment #{assessment.id}: {answer.value}",
                now=now,
            )
            closed.append(item_id)
    return opened, closed


def history(db: Session, case: Case) -> list[Assessment]:
    """The case's assessments, oldest first."""
    return list(
        db.scalars(
            select(Assessment)
            .where(Assessment.case_id == case.id)
            .order_by(Assessment.created_at, Assessment.id)
        )
    )


def get(db: Session, case: Case, assessment_id: int) -> Assessment:
    """One assessment of this case (``NotFound`` for another case's)."""
    row = db.get(Assessment, assessment_id)
    if row is None or row.case_id != case.id:
        raise NotFound("No such assessment on this case.")
    return row


def answers_of(db: Session, assessment: Assessment) -> dict[str, AssessmentAnswer]:
    """The assessment's answers by item id."""
    rows = db.scalars(
        select(AssessmentAnswer).where(AssessmentAnswer.assessment_id == assessment.id)
    )
    return {row.item_id: row for row in rows}


def answer_values(db: Session, assessment: Assessment) -> dict[str, str]:
    """Item id to value, as scoring reads them."""
    return {k: v.value for k, v in answers_of(db, assessment).items()}


@dataclass(frozen=True)
class Comparison:
    """Two assessments of a case side by side, before the team meeting."""

    instrument: Instrument
    first: Assessment
    second: Assessment
    differences: list[rules.Difference]
    agreement: float


def compare(db: Session, case: Case, first_id: int, second_id: int) -> Comparison:
    """Where two assessments of the same case disagree, item by item."""
    first, second = get(db, case, first_id), get(db, case, second_id)
    if (first.instrument_id, first.instrument_version) != (
        second.instrument_id,
        second.instrument_version,
    ):
        raise ValidationFailed(
            "These assessments used different instruments; compare two made with the same "
            "instrument and version.",
            field="second",
        )
    instrument = instrument_of(first)
    diffs = rules.compare(instrument, answer_values(db, first), answer_values(db, second))
    return Comparison(instrument, first, second, diffs, rules.agreement(instrument, diffs))


def chart_points(db: Session, case: Case, names: Mapping[int, str]) -> list[dict[str, str]]:
    """The level of concern and pathway stage over time, one point per assessment."""
    return [
        {
            "at": a.created_at.isoformat(),
            "label": f"Assessment #{a.id} by {names.get(a.assessor_user_id, '?')}",
            "level": a.concluded_level,
            "stage": a.stage,
        }
        for a in history(db, case)
    ]


def stage_label(stage: str) -> str:
    """A pathway stage as people say it."""
    try:
        return Stage(stage).label
    except ValueError:
        return stage


def note_of(db: Session, note_id: int | None) -> CaseNote | None:
    """The note an answer cites (the caller has already filtered visibility)."""
    return db.get(CaseNote, note_id) if note_id else None


def blank_answers(instrument: Instrument) -> dict[str, AnswerIn]:
    """Every item unknown (text items empty): the start of a first assessment."""
    return {
        item.id: AnswerIn(value="" if item.answer is AnswerType.TEXT else UNKNOWN)
        for item in instrument.items
    }


def starting_answers(
    db: Session, actor: Actor, case: Case, instrument: Instrument, evidence: Evidence
) -> tuple[dict[str, AnswerIn], set[str]]:
    """What the form starts with: the actor's own latest assessment with this instrument
    (a reassessment starts from it), else blanks; then wellness pre-fills for every item
    still unknown, then weapons access from the subjects' firearm-access history when
    still unknown (with no citation: the assessor cites the evidence). Returns the
    answers and the ids of the pre-filled items."""
    answers = blank_answers(instrument)
    mine = [
        a
        for a in history(db, case)
        if a.assessor_user_id == actor.user_id and a.instrument_id == instrument.id
    ]
    if mine:
        for item_id, row in answers_of(db, mine[-1]).items():
            if item_id in answers:
                answers[item_id] = AnswerIn(
                    value=row.value,
                    citation=citation_token(row),
                    detail=row.evidence_detail,
                )
    prefilled: set[str] = set()
    for item_id, suggestion in prefill(evidence, instrument).items():
        current = answers.get(item_id)
        if current is None or rules.is_known(current.value):
            continue
        answers[item_id] = AnswerIn(
            value=suggestion.value, citation=suggestion.citation.token, prefilled=True
        )
        prefilled.add(item_id)
    firearm = answers.get(firearm_access.ITEM)
    if firearm is not None and not rules.is_known(firearm.value):
        found = firearm_access.on_file(db, case, instrument)
        if found is not None:
            # No citation: the history is not case evidence, so the assessor cites it.
            answers[firearm_access.ITEM] = AnswerIn(
                value=found.value, detail=found.label, prefilled=True
            )
            prefilled.add(firearm_access.ITEM)
    return answers, prefilled


def citation_token(row: AssessmentAnswer) -> str:
    """The form value naming the evidence a stored answer cites (empty when none)."""
    if row.evidence_kind == rules.EvidenceKind.NOTE.value and row.evidence_note_id:
        return f"note:{row.evidence_note_id}"
    if row.evidence_kind == rules.EvidenceKind.WELLNESS.value and row.evidence_report_id:
        return f"wellness:{row.evidence_report_id}:{row.evidence_field}"
    if row.evidence_kind == rules.EvidenceKind.REPORT.value and row.evidence_report_id:
        return f"report:{row.evidence_report_id}"
    return ""


def latest_by_assessor(db: Session, case: Case) -> Sequence[Assessment]:
    """Each assessor's latest assessment, newest first (the comparison's default pair)."""
    seen: dict[int, Assessment] = {}
    for a in reversed(history(db, case)):
        seen.setdefault(a.assessor_user_id, a)
    return list(seen.values())
