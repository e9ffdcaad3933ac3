"""Validated report input, shared by the public page, staff forms, the API and imports.

Validation needs the current time (future dates are refused), passed as the validation
context: ``ReportIn.model_validate(data, context={"now": now})``.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from defchain.access import Label
from defchain.intake.rules import (
    PROTECTED_ACTIVITY_CODES,
    Channel,
    Concern,
    DenialCategory,
    ReportKind,
    SarCode,
    Setting,
    StrawIndicator,
    YesNoUnknown,
    is_future,
)

Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Medium = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Long = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20_000)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _not_future(value: datetime | date | None, info: ValidationInfo) -> Any:
    now = (info.context or {}).get("now")
    if value is None or now is None:
        return value
    moment = value if isinstance(value, datetime) else datetime.combine(value, datetime.min.time())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=now.tzinfo)
    if is_future(moment, now=now):
        raise ValueError("must not be in the future")
    return value


class SubjectIn(_In):
    """What is known about the person of concern; every field optional."""

    name: Short = ""
    nickname: Short = ""
    date_of_birth: Annotated[str, StringConstraints(strip_whitespace=True, max_length=10)] = (
        ""  # YYYY, YYYY-MM or YYYY-MM-DD; partial dates are allowed
    )
    approximate_age: int | None = Field(default=None, ge=1, le=120)
    school: Short = ""
    workplace: Short = ""
    online_handle: Short = ""
    address: Short = ""
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] = ""
    email: Short = ""

    @field_validator("date_of_birth")
    @classmethod
    def _partial_date(cls, value: str) -> str:
        if not value:
            return value
        parts = value.split("-")
        try:
            numbers = [int(p) for p in parts]
        except ValueError:
            raise ValueError("must be YYYY, YYYY-MM or YYYY-MM-DD") from None
        if not 1 <= len(numbers) <= 3 or not 1900 <= numbers[0] <= 2100:
            raise ValueError("must be YYYY, YYYY-MM or YYYY-MM-DD")
        if len(numbers) == 3:
            date(numbers[0], numbers[1], numbers[2])
        elif len(numbers) == 2 and not 1 <= numbers[1] <= 12:
            raise ValueError("month must be 01-12")
        return value

    def is_empty(self) -> bool:
        return not any(v for v in self.model_dump().values())


class ReporterIn(_In):
    """A reporter who gives contact details (absent = anonymous)."""

    name: Short = ""
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] = ""
    email: Short = ""
    relationship: Short = ""


class TipDetails(_In):
    """The guided questions of a tip."""

    weapons: YesNoUnknown = YesNoUnknown.UNKNOWN
    weapons_text: Medium = ""
    date_or_target: YesNoUnknown = YesNoUnknown.UNKNOWN
    date_or_target_text: Medium = ""
    how_known: Medium = ""
    # Structured answers the triage rules read; all optional, "unknown" when not asked.
    threat_to_others: YesNoUnknown = YesNoUnknown.UNKNOWN
    preparation: YesNoUnknown = YesNoUnknown.UNKNOWN
    self_harm: YesNoUnknown = YesNoUnknown.UNKNOWN
    grievance: YesNoUnknown = YesNoUnknown.UNKNOWN
    setting: Setting = Setting.UNKNOWN


class SarDetails(_In):
    """A suspicious activity report under the ISE-SAR Functional Standard."""

    categories: list[SarCode] = Field(min_length=1)
    site: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=500)]
    why_suspicious: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=20, max_length=5000)
    ]
    other_factors: Medium = ""

    @model_validator(mode="after")
    def _protected_activity(self) -> SarDetails:
        protected = sorted(set(self.categories) & PROTECTED_ACTIVITY_CODES)
        if protected and len(self.other_factors) < 20:
            raise ValueError(
                f"other_factors: {', '.join(protected)} can be lawful, protected activity; "
                "say what else makes it suspicious (at least 20 characters)"
            )
        return self


class Party(_In):
    """A named person or business in a report (purchaser, dealer)."""

    name: Short = ""
    date_of_birth: Annotated[str, StringConstraints(strip_whitespace=True, max_length=10)] = ""
    address: Short = ""
    id_number: Annotated[str, StringConstraints(strip_whitespace=True, max_length=60)] = ""


class NicsDenialDetails(_In):
    """A NICS denial notification (the FBI notifies local police within 24 hours)."""

    denied_at: datetime
    transaction_number: Annotated[
        str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9-]{4,40}$")
    ]
    denial_category: DenialCategory
    purchaser: Party
    dealer: Party
    agencies_notified: list[Short] = []

    _future = field_validator("denied_at")(_not_future)

    @field_validator("purchaser")
    @classmethod
    def _purchaser_named(cls, value: Party) -> Party:
        if not value.name:
            raise ValueError("name is required")
        return value


class PurchaseAttemptDetails(_In):
    """A dealer's report of a suspicious purchase attempt."""

    attempted_at: datetime
    dealer: Party
    purchaser: Party = Party()
    sought: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=1000)]
    behavior: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=10, max_length=5000)
    ]
    straw_indicators: list[StrawIndicator] = []

    _future = field_validator("attempted_at")(_not_future)


class WellnessCheckDetails(_In):
    """What an officer saw at a wellness check; these fields pre-fill assessments."""

    officer: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)]
    checked_at: datetime
    contact_made: bool
    observed_state: Medium = ""
    statements: Medium = ""
    weapons_seen: YesNoUnknown = YesNoUnknown.UNKNOWN
    weapons_access_reported: YesNoUnknown = YesNoUnknown.UNKNOWN
    weapons_text: Medium = ""
    others_in_home: Medium = ""
    referral_made: bool = False
    referral_to: Short = ""
    hold_initiated: bool = False
    officer_concern: Concern

    _future = field_validator("checked_at")(_not_future)


class ReferralDetails(_In):
    """A referral from a school, employer or campus team."""

    organization_type: Annotated[
        str, StringConstraints(pattern=r"^(school|employer|campus|other)$")
    ]
    organization_name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)
    ]
    referrer_role: Short = ""
    behaviors: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=10, max_length=5000)
    ]
    actions_taken: Medium = ""


class DirectThreatDetails(_In):
    """A threat received by a person or organization."""

    recipient: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)
    ]
    medium: Annotated[
        str,
        StringConstraints(pattern=r"^(in_person|phone|text|email|social_media|letter|other)$"),
    ]
    threat_text: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=3, max_length=5000)
    ]
    received_at: datetime
    target_named: YesNoUnknown = YesNoUnknown.UNKNOWN

    _future = field_validator("received_at")(_not_future)


DETAILS: dict[ReportKind, type[_In]] = {
    ReportKind.TIP: TipDetails,
    ReportKind.SAR: SarDetails,
    ReportKind.NICS_DENIAL: NicsDenialDetails,
    ReportKind.PURCHASE_ATTEMPT: PurchaseAttemptDetails,
    ReportKind.WELLNESS_CHECK: WellnessCheckDetails,
    ReportKind.REFERRAL: ReferralDetails,
    ReportKind.DIRECT_THREAT: DirectThreatDetails,
}


class ReportIn(_In):
    """One report of any kind, from any channel. Build it with ``parse_report``."""

    kind: ReportKind
    channel: Channel
    narrative: Long = ""
    location: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""
    occurred_at_text: Short = ""
    danger_now: bool = False
    subject: SubjectIn = SubjectIn()
    reporter: ReporterIn | None = None
    details: dict[str, Any] = {}
    labels: list[Label] = []
    jurisdiction_id: int | None = Field(default=None, gt=0)
    external_id: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = (
        None
    )


class ReportInvalid(ValueError):
    """A report failed validation; ``errors`` maps dotted field paths to messages."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _errors(exc: ValidationError, prefix: str = "") -> dict[str, str]:
    found: dict[str, str] = {}
    for err in exc.errors():
        message = str(err["msg"]).removeprefix("Value error, ")
        path = ".".join(str(p) for p in err["loc"])
        # A model-level rule names its field as "field: message".
        if not path and ": " in message and " " not in message.split(": ", 1)[0]:
            path, message = message.split(": ", 1)
        if err["type"] == "missing":
            message = "is required"
        elif err["type"] == "extra_forbidden":
            message = "is not a known field"
        key = f"{prefix}{path}" if path else (prefix.rstrip(".") or "report")
        found.setdefault(key, message)
    return found


# NUL cannot be stored in a PostgreSQL text column, and a lone surrogate (from a JSON
# escape such as "\ud800", or undecodable bytes read with surrogateescape) cannot be
# encoded as UTF-8 at all: refuse both up front, naming the field, on every channel.
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


def _safe(text: str) -> str:
    """``text`` with anything that cannot be encoded as UTF-8 replaced (for messages)."""
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def text_problems(data: Any, path: str = "") -> dict[str, str]:
    """Every string (key or value) in ``data`` holding NUL or invalid UTF-8, by path."""
    found: dict[str, str] = {}
    if isinstance(data, str):
        match = _BAD_TEXT.search(data)
        if match:
            found[path or "report"] = (
                "must not contain NUL characters"
                if match.group() == "\x00"
                else "is not valid UTF-8 text"
            )
    elif isinstance(data, dict):
        for key, value in data.items():
            name = str(key)
            child = f"{path}.{_safe(name)}" if path else _safe(name)
            if _BAD_TEXT.search(name):
                found[child] = "field name is not valid UTF-8 text without NUL"
            else:
                found.update(text_problems(value, child))
    elif isinstance(data, list):
        for index, item in enumerate(data):
            found.update(text_problems(item, f"{path}.{index}" if path else str(index)))
    return found


def parse_report(data: Any, *, now: datetime) -> ReportIn:
    """Validate the envelope, then the kind's details; raise ``ReportInvalid`` naming
    every bad field (details fields as ``details.<name>``)."""
    if not isinstance(data, dict):
        raise ReportInvalid({"report": "must be a JSON object"})
    bad_text = text_problems(data)
    if bad_text:
        raise ReportInvalid(bad_text)
    context = {"now": now}
    errors: dict[str, str] = {}
    report: ReportIn | None = None
    try:
        report = ReportIn.model_validate(data, context=context)
    except ValidationError as exc:
        errors.update(_errors(exc))
    kind = data.get("kind")
    if isinstance(kind, str) and kind in ReportKind.__members__.values():
        model = DETAILS[ReportKind(kind)]
        raw_details = data.get("details", {})
        try:
            details = model.model_validate(raw_details, context=context)
        except ValidationError as exc:
            errors.update(_errors(exc, "details."))
        else:
            if report is not None:
                report.details = details.model_dump(mode="json")
    narrative = data.get("narrative")
    has_narrative = isinstance(narrative, str) and bool(narrative.strip())
    if data.get("kind") == ReportKind.TIP and not has_narrative:
        # Checked on the raw input so it is reported together with every other problem.
        errors.setdefault("narrative", "say what the person said or did")
    if errors or report is None:
        raise ReportInvalid(errors or {"report": "is not valid"})
    return report
