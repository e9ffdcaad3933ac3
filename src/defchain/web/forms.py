"""Turn submitted forms into validated schemas, keeping what the user typed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from defchain.errors import DomainError, ValidationFailed

M = TypeVar("M", bound=BaseModel)

FIELD_LABELS = {
    "name": "Name",
    "state": "State",
    "county": "County",
    "city": "City",
    "timezone": "Time zone",
    "kind": "Kind",
    "jurisdiction_id": "Jurisdiction",
    "phone": "Phone",
    "email": "E-mail",
    "username": "Username",
    "full_name": "Full name",
    "agency_id": "Agency",
    "roles": "Roles",
    "clearances": "Clearances",
    "password": "Password",
    "description": "Description",
    "user_id": "User",
    "code": "6-digit code",
    "current_password": "Current password",
    "new_password": "New password",
    "intake_agency_id": "Agency that receives public tips",
    "warning_signs_md": "Warning-signs page",
}


@dataclass
class FormResult(Generic[M]):
    """A parsed form: the model when valid, else errors by field; ``values`` as typed."""

    values: dict[str, Any]
    model: M | None = None
    errors: dict[str, str] = field(default_factory=dict)


def form_values(form: FormData, list_fields: tuple[str, ...] = ()) -> dict[str, Any]:
    """Plain dict of the submitted fields, lists for multi-valued fields, no CSRF token."""
    values: dict[str, Any] = {}
    for key in form:
        if key == "csrf_token":
            continue
        if key in list_fields:
            values[key] = [v for v in form.getlist(key) if isinstance(v, str)]
        else:
            raw = form.get(key)
            values[key] = raw if isinstance(raw, str) else ""
    for key in list_fields:
        values.setdefault(key, [])
    return values


def parse(schema: type[M], values: dict[str, Any], *, fields: tuple[str, ...]) -> FormResult[M]:
    """Validate the known ``fields`` of ``values`` against ``schema``."""
    data = {k: values[k] for k in fields if k in values and values[k] != ""}
    for k in fields:
        if k in values and isinstance(values[k], list):
            data[k] = values[k]
    unknown = set(values) - set(fields)
    errors: dict[str, str] = {k: "is not a field of this form" for k in sorted(unknown)}
    try:
        model = schema.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = str(err["loc"][0]) if err["loc"] else "form"
            message = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "missing":
                message = "is required"
            elif err["type"] == "too_short" and isinstance(data.get(loc), list):
                message = "choose at least one"
            errors.setdefault(loc, message)
        return FormResult(values=values, errors=errors)
    if errors:
        return FormResult(values=values, errors=errors)
    return FormResult(values=values, model=model)


def domain_error_fields(exc: DomainError) -> dict[str, str]:
    """A service's error as a field error for the form."""
    field_name = exc.field or "form"
    message = exc.message
    prefix = f"{field_name}: "
    if message.startswith(prefix):
        message = message[len(prefix) :]
    return {field_name: message}


def error_summary(errors: dict[str, str]) -> list[str]:
    """Human sentences naming each field."""
    return [f"{FIELD_LABELS.get(k, k)}: {v}" for k, v in errors.items()]


def field_text(values: dict[str, Any], name: str) -> str:
    """A typed field, trimmed ("" when absent or not text)."""
    value = values.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def chosen_id(values: dict[str, Any], name: str, what: str) -> int:
    """A record chosen on the form by its id; otherwise the field is named."""
    text = field_text(values, name)
    if not text.isdigit() or int(text) < 1:
        raise ValidationFailed(f"{name}: choose {what}", field=name)
    return int(text)
