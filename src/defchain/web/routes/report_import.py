"""Bulk import through the browser: a CSV or JSON Lines file of one kind of report."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile
from starlette.responses import Response

from defchain.access import Permission, require
from defchain.errors import DomainError
from defchain.intake import KIND_LABELS, ReportKind
from defchain.intake.importer import FORMATS, import_file
from defchain.web.deps import Ctx, CurrentActor, Db, SubmittedForm
from defchain.web.forms import domain_error_fields
from defchain.web.templating import render_form

router = APIRouter()
FORMAT_LABELS = {
    "csv": "CSV (header row, one report a row)",
    "jsonl": "JSON Lines (one object a line)",
}


def _page(
    request: Request, values: dict[str, Any], errors: dict[str, str], result: Any = None
) -> Response:
    context = {
        "values": values,
        "errors": errors,
        "result": result,
        "kinds": [(k.value, KIND_LABELS[k]) for k in ReportKind],
        "formats": [(f, FORMAT_LABELS[f]) for f in FORMATS],
    }
    return render_form(request, "reports/import.html", context, errors)


@router.get("/reports/import")
def import_form(request: Request, actor: CurrentActor) -> Response:
    """Choose a kind and a file."""
    require(actor, Permission.INTAKE_REPORT_IMPORT)
    return _page(request, {"fmt": "csv"}, {})


@router.post("/reports/import")
def import_upload(
    request: Request, db: Db, ctx: Ctx, actor: CurrentActor, form: SubmittedForm
) -> Response:
    """Import every row, or none when a row is bad (unless "skip bad rows" is ticked)."""
    require(actor, Permission.INTAKE_REPORT_IMPORT)
    values: dict[str, str] = {}
    for key in ("kind", "fmt", "skip_bad"):
        raw = form.get(key)
        values[key] = raw if isinstance(raw, str) else ""
    errors: dict[str, str] = {}
    if values["kind"] not in set(ReportKind):
        errors["kind"] = "choose a kind of report"
    if values["fmt"] not in FORMATS:
        errors["fmt"] = "choose CSV or JSON Lines"
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        errors["file"] = "choose a file"
    if errors or not isinstance(upload, UploadFile):
        return _page(request, values, errors)
    try:
        result = import_file(
            db,
            actor=actor,
            kind=ReportKind(values["kind"]),
            fmt="csv" if values["fmt"] == "csv" else "jsonl",
            stream=upload.file,
            skip_bad=bool(values["skip_bad"]),
            now=ctx.clock.now(),
        )
    except DomainError as exc:
        return _page(request, values, domain_error_fields(exc))
    return _page(request, values, {}, result)
