"""Assessment pages: assess a case with an instrument (answers cite their evidence,
wellness-check fields pre-fill), the result that explains itself, the comparison of two
assessors, and the case page's assessment panel with the chart over time."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from defchain.access import Actor, Permission, can, load_for
from defchain.assessment import service as assessments
from defchain.assessment.instrument import (
    UNKNOWN,
    AnswerType,
    Instrument,
    default_instruments,
    get_instrument,
)
from defchain.assessment.models import Assessment
from defchain.assessment.scoring import Level, Stage
from defchain.cases import Case
from defchain.cases import service as cases
from defchain.cases.queries import user_names
from defchain.errors import DomainError, NotFound
from defchain.web.deps import Ctx, CurrentActor, Db, SubmittedForm, mark_rollback
from defchain.web.templating import render

router = APIRouter()
P = Permission
SOURCE_LABELS = {
    "records": "records",
    "interviews": "interviews",
    "wellness_check": "wellness-check fields",
    "social_media": "social media",
    "weapons_check": "weapons-access checks",
    "school_records": "school records",
    "reports": "the reports on the case",
}
LEVEL_LABELS = {level.value: level.value.capitalize() for level in Level}
DEFAULT_INSTRUMENT = "DC-TA-1"
STAGES = [(stage.value, stage.label) for stage in Stage]


def panel_context(db: Session, actor: Actor, case: Case) -> dict[str, Any]:
    """What the case page's assessment panel shows: the history, the chart's data and
    whether the actor may assess."""
    history = assessments.history(db, case)
    names = user_names(db, [a.assessor_user_id for a in history])
    chart = {
        "points": assessments.chart_points(db, case, names),
        "levels": [level.value for level in Level],
        "stages": [list(pair) for pair in STAGES],
    }
    pair = assessments.latest_by_assessor(db, case)
    return {
        "assessments": list(reversed(history)),
        "assessor_names": names,
        "chart": chart,
        "can_assess": can(actor, P.ASSESSMENT_ASSESSMENT_CREATE, case),
        "instruments": assessments.instruments(),
        "compare_pair": (pair[1].id, pair[0].id) if len(pair) >= 2 else None,
        "stage_label": assessments.stage_label,
        "LEVEL_LABELS": LEVEL_LABELS,
    }


# --- the form ---------------------------------------------------------------------------


def _instrument(key: str) -> Instrument:
    found = default_instruments().get(key)
    if found is None:
        raise NotFound("No such instrument.")
    return found


def _submitted_answers(
    form: FormData, instrument: Instrument, evidence: assessments.Evidence
) -> dict[str, assessments.AnswerIn]:
    suggestions = assessments.prefill(evidence, instrument)
    out: dict[str, assessments.AnswerIn] = {}
    for item in instrument.items:
        raw = form.get(f"answer-{item.id}")
        value = raw.strip()[:6000] if isinstance(raw, str) else ""
        if not value and item.answer is not AnswerType.TEXT:
            value = UNKNOWN
        citation = form.get(f"evidence-{item.id}")
        detail = form.get(f"detail-{item.id}")
        cite = citation[:100] if isinstance(citation, str) else ""
        suggested = suggestions.get(item.id)
        out[item.id] = assessments.AnswerIn(
            value=value,
            citation=cite,
            detail=detail[:600] if isinstance(detail, str) else "",
            prefilled=bool(
                suggested and suggested.value == value and suggested.citation.token == cite
            ),
        )
    return out


def _error_lines(instrument: Instrument, errors: dict[str, str]) -> list[tuple[str, str]]:
    """Each problem named by the question it is about, with the anchor of that question."""
    what = {"answer": "answer", "evidence": "evidence", "detail": "evidence detail"}
    labels = {
        "concluded_level": "Team's level of concern",
        "conclusion_reason": "Why the level differs",
    }
    lines = []
    for name, message in errors.items():
        kind, _, item_id = name.partition("-")
        try:
            prompt = instrument.item(item_id).prompt if item_id else ""
        except KeyError:
            prompt = ""
        if prompt:
            text = f"{prompt} ({item_id}), {what.get(kind, kind)}: {message}"
            lines.append((f"item-{item_id}", text))
        else:
            lines.append((name, f"{labels.get(name, name)}: {message}"))
    return lines


def _form_page(
    request: Request,
    db: Session,
    actor: Actor,
    case: Case,
    instrument: Instrument,
    answers: dict[str, assessments.AnswerIn],
    prefilled: set[str],
    evidence: assessments.Evidence,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    preview: Any = None,
) -> Response:
    errors = errors or {}
    if errors:
        mark_rollback(request)
    context = {
        "case": case,
        "instrument": instrument,
        "answers": answers,
        "prefilled": prefilled,
        "evidence_options": evidence.options,
        "errors": errors,
        "error_lines": _error_lines(instrument, errors),
        "values": values or {},
        "preview": preview,
        "SOURCE_LABELS": SOURCE_LABELS,
        "LEVEL_LABELS": LEVEL_LABELS,
        "stage_label": assessments.stage_label,
        "UNKNOWN": UNKNOWN,
        "AnswerType": AnswerType,
    }
    return render(request, "assessment/form.html", context, status_code=422 if errors else 200)


@router.get("/cases/{case_id}/assessments/new")
def new_assessment(
    request: Request, db: Db, actor: CurrentActor, case_id: int, instrument: str = ""
) -> Response:
    """The assessment form: starts from the actor's own latest answers with this
    instrument, and pre-fills what the case's wellness checks recorded."""
    case = load_for(db, actor, "case", case_id, P.ASSESSMENT_ASSESSMENT_CREATE)
    chosen = _instrument(instrument) if instrument else get_instrument(DEFAULT_INSTRUMENT)
    evidence = assessments.evidence_for(db, actor, case)
    answers, prefilled = assessments.starting_answers(db, actor, case, chosen, evidence)
    return _form_page(request, db, actor, case, chosen, answers, prefilled, evidence)


@router.post("/cases/{case_id}/assessments")
def create_assessment(
    request: Request,
    db: Db,
    ctx: Ctx,
    actor: CurrentActor,
    case_id: int,
    submitted: SubmittedForm,
) -> Response:
    """Check the result (``action=preview``) or record the assessment."""
    case = load_for(db, actor, "case", case_id, P.ASSESSMENT_ASSESSMENT_CREATE)
    key = submitted.get("instrument")
    instrument = _instrument(key if isinstance(key, str) else "")
    evidence = assessments.evidence_for(db, actor, case)
    answers = _submitted_answers(submitted, instrument, evidence)
    prefilled = {k for k, a in answers.items() if a.prefilled}
    concluded = submitted.get("concluded_level")
    reason = submitted.get("conclusion_reason")
    values = {
        "concluded_level": concluded[:20] if isinstance(concluded, str) else "",
        "conclusion_reason": reason[:2100] if isinstance(reason, str) else "",
    }
    page = (request, db, actor, case, instrument, answers, prefilled, evidence)
    if submitted.get("action") == "preview":
        return _form_page(*page, values=values, preview=assessments.preview(instrument, answers))
    try:
        row = assessments.record(
            db,
            actor,
            case,
            instrument_key=instrument.key,
            answers=answers,
            concluded_level=values["concluded_level"],
            conclusion_reason=values["conclusion_reason"],
            now=ctx.clock.now(),
        )
    except assessments.AnswersInvalid as exc:
        return _form_page(*page, errors=exc.errors, values=values)
    except DomainError as exc:
        return _form_page(*page, errors={exc.field or "form": exc.message}, values=values)
    return RedirectResponse(f"/cases/{case.id}/assessments/{row.id}", status_code=303)


# --- the result -------------------------------------------------------------------------


@router.get("/cases/{case_id}/assessments/compare")
def compare(
    request: Request, db: Db, actor: CurrentActor, case_id: int, first: int = 0, second: int = 0
) -> Response:
    """Where two assessments of the case disagree, item by item."""
    case = load_for(db, actor, "case", case_id, P.CASES_CASE_READ)
    history = assessments.history(db, case)
    names = user_names(db, [a.assessor_user_id for a in history])
    context: dict[str, Any] = {
        "case": case,
        "history": history,
        "names": names,
        "first": first,
        "second": second,
        "comparison": None,
        "LEVEL_LABELS": LEVEL_LABELS,
        "stage_label": assessments.stage_label,
    }
    if first and second:
        try:
            context["comparison"] = assessments.compare(db, case, first, second)
        except DomainError as exc:
            context["errors"] = {exc.field or "form": exc.message}
            return render(request, "assessment/compare.html", context, status_code=422)
    return render(request, "assessment/compare.html", context)


@router.get("/cases/{case_id}/assessments/{assessment_id}")
def assessment_page(
    request: Request, db: Db, actor: CurrentActor, case_id: int, assessment_id: int
) -> Response:
    """One assessment: the level, the stage, the reasons read aloud, the gaps (and their
    tasks), the recommended actions, and every answer with its evidence."""
    case = load_for(db, actor, "case", case_id, P.CASES_CASE_READ)
    row: Assessment = assessments.get(db, case, assessment_id)
    instrument = get_instrument(row.instrument_id, row.instrument_version)
    answers = assessments.answers_of(db, row)
    evidence = assessments.evidence_for(db, actor, case)
    labels = dict(evidence.options)
    gap_tasks = {
        (t.origin or "").rsplit(":", 1)[-1]: t
        for t in cases.tasks_of(db, case)
        if (t.origin or "").startswith(f"gap:{row.instrument_id}:")
    }
    context = {
        "case": case,
        "assessment": row,
        "instrument": instrument,
        "answers": answers,
        "citation_label": lambda a: labels.get(
            assessments.citation_token(a), "(not visible to you)"
        ),
        "token": assessments.citation_token,
        "assessor": user_names(db, [row.assessor_user_id]).get(row.assessor_user_id, "?"),
        # The file was edited without a new version: the stored result still stands.
        "digest_changed": instrument.digest != row.instrument_digest,
        "gap_tasks": gap_tasks,
        "LEVEL_LABELS": LEVEL_LABELS,
        "stage_label": assessments.stage_label,
        "UNKNOWN": UNKNOWN,
        "SOURCE_LABELS": SOURCE_LABELS,
    }
    return render(request, "assessment/result.html", context)
