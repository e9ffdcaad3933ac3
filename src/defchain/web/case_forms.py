"""The plumbing shared by the case page's panels (guardrails, ERPO tracker): a submitted
form bound to its case, typed text and dates, and one service call that either goes
back to the panel or re-shows the case page naming the field (the unit of work rolls
back, so nothing is half-written)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from defchain.access import Actor, Agency, Permission, load_for
from defchain.cases import Case
from defchain.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from defchain.web import report_forms as rf
from defchain.web.forms import domain_error_fields, field_text, form_values

text = field_text


def day_end(db: Session, case: Case, values: dict[str, Any], name: str) -> datetime:
    """A date typed on the form, as the end of that day (23:59) in the case's time zone."""
    typed = text(values, name)
    if not typed:
        raise ValidationFailed(f"{name}: enter the date, like 2026-03-31", field=name)
    try:
        day = date.fromisoformat(typed)
    except ValueError:
        raise ValidationFailed(f"{name}: enter a date like 2026-03-31", field=name) from None
    agency = db.get(Agency, case.agency_id)
    tz = rf.zone(agency.jurisdiction.timezone if agency else None)
    return datetime.combine(day, time(23, 59), tz).astimezone(UTC)


@dataclass
class CaseForm:
    """One submitted form of a case-page panel: the case it acts on, what was typed, and
    the panel's anchor on the case page (where a saved form goes back to)."""

    request: Request
    db: Session
    actor: Actor
    case: Case
    values: dict[str, Any]
    anchor: str

    def text(self, name: str) -> str:
        """A typed field, trimmed ("" when absent)."""
        return text(self.values, name)

    def day(self, name: str) -> datetime:
        """A typed date, as the end of that day in the case's time zone."""
        return day_end(self.db, self.case, self.values, name)

    def act(
        self, form: str, work: Callable[[], object], rename: dict[str, str] | None = None
    ) -> Response:
        """Run one service call: back to the panel, or the page again naming the field
        (``form`` tells the page which form to open with the errors; ``rename`` maps the
        service's field names to the form's)."""
        # The case page's module imports the panels that import this one: look it up here.
        from defchain.web.routes import cases as case_pages

        try:
            work()
        except (NotFound, PermissionDenied):
            raise
        except DomainError as exc:
            errors = {(rename or {}).get(k, k): v for k, v in domain_error_fields(exc).items()}
            return case_pages._case_page(
                self.request, self.db, self.actor, self.case, errors=errors,
                values=self.values, active_form=form,
                status=exc.status_code if 400 <= exc.status_code < 500 else 422,
            )  # fmt: skip
        return RedirectResponse(f"/cases/{self.case.id}#{self.anchor}", status_code=303)


def case_form(
    request: Request, db: Session, actor: Actor, case_id: int, submitted: Any, anchor: str
) -> CaseForm:
    """The case (the actor must be able to change it) and the submitted fields."""
    case = load_for(db, actor, "case", case_id, Permission.CASES_CASE_UPDATE)
    return CaseForm(request, db, actor, case, form_values(submitted), anchor)
