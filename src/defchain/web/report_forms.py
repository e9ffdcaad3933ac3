"""The staff report forms as data: one field list per kind, read by one template.

Form fields carry the dotted names the validation errors use (``details.site``,
``subject.name``), so an error from ``intake.parse_report`` lands on its field. The same
field lists label the report page, so a form and the page that shows what it stored
cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from defchain.access import LABEL_DESCRIPTIONS, Label
from defchain.intake import Channel, Report, ReportKind
from defchain.intake.rules import (
    CHANNEL_LABELS,
    DENIAL_LABELS,
    SAR_LABELS,
    SETTING_LABELS,
    STRAW_LABELS,
    Concern,
)

Options = tuple[tuple[str, str], ...]
YES_NO_UNKNOWN: Options = (("yes", "Yes"), ("no", "No"), ("unknown", "Don't know"))
YES_NO: Options = (("true", "Yes"), ("false", "No"))


@dataclass(frozen=True)
class Field:
    """One input. ``widget``: text, textarea, number, email, tel, datetime, select,
    radios, checkboxes (a list), checkbox (a yes/no tick) or lines (a list, one a line)."""

    name: str
    label: str
    widget: str = "text"
    options: Options = ()
    required: bool = False
    hint: str = ""
    maxlength: int = 200


@dataclass(frozen=True)
class Section:
    """A fieldset; ``key`` is the error key of the group itself (``details.dealer``)."""

    legend: str
    fields: tuple[Field, ...]
    key: str = ""


@dataclass(frozen=True)
class KindForm:
    """Everything the form for one kind of report needs."""

    kind: ReportKind
    title: str
    description: str
    channels: tuple[Channel, ...]
    details: tuple[Section, ...]
    narrative_required: bool = False
    reporter: bool = False

    @property
    def sections(self) -> tuple[Section, ...]:
        """Every fieldset in page order."""
        reporter = (REPORTER,) if self.reporter else ()
        happened = what_happened(self.narrative_required)
        return (*self.details, happened, SUBJECT, *reporter)


def _opts(labels: dict[Any, str]) -> Options:
    return tuple((str(k.value), v) for k, v in labels.items())


def what_happened(narrative_required: bool) -> Section:
    """The narrative and where/when, common to every kind."""
    return Section(
        "What happened",
        (
            Field(
                "narrative",
                "What happened, in the reporter's words" if narrative_required else "Narrative",
                "textarea",
                required=narrative_required,
                maxlength=20_000,
                hint="" if narrative_required else "Anything the fields above do not hold.",
            ),
            Field("location", "Where", maxlength=500),
            Field("occurred_at_text", "When", hint="As told, e.g. 'Friday after school'."),
            Field("danger_now", "Someone is in danger right now", "checkbox"),
        ),
    )


SUBJECT = Section(
    "Person of concern (all optional)",
    (
        Field("subject.name", "Name"),
        Field("subject.nickname", "Nickname"),
        Field("subject.date_of_birth", "Date of birth", hint="YYYY, YYYY-MM or YYYY-MM-DD"),
        Field("subject.approximate_age", "Approximate age", "number"),
        Field("subject.school", "School"),
        Field("subject.workplace", "Workplace"),
        Field("subject.online_handle", "Online handle"),
        Field("subject.address", "Address"),
        Field("subject.phone", "Phone", "tel", maxlength=40),
        Field("subject.email", "E-mail", "email"),
    ),
    key="subject",
)

REPORTER = Section(
    "Who is reporting",
    (
        Field(
            "reporter.anonymous",
            "The caller wants to stay anonymous",
            "checkbox",
            hint="When ticked, the contact details below are not stored.",
        ),
        Field("reporter.name", "Caller's name"),
        Field("reporter.phone", "Caller's phone", "tel", maxlength=40),
        Field("reporter.email", "Caller's e-mail", "email"),
        Field("reporter.relationship", "Relationship to the person of concern"),
    ),
    key="reporter",
)

LABELS_FIELD = Field(
    "labels",
    "Labels (who may read this report)",
    "checkboxes",
    tuple((label.value, LABEL_DESCRIPTIONS[label]) for label in Label),
    hint="Some kinds carry a label by default (NICS denials: criminal justice information).",
)


PURCHASER = Section(
    "Purchaser",
    (
        Field("details.purchaser.name", "Purchaser's name"),
        Field(
            "details.purchaser.date_of_birth",
            "Purchaser's date of birth",
            maxlength=10,
            hint="YYYY-MM-DD",
        ),
        Field("details.purchaser.address", "Purchaser's address"),
        Field("details.purchaser.id_number", "Purchaser's ID number", maxlength=60),
    ),
    key="details.purchaser",
)
DEALER = Section(
    "Dealer",
    (
        Field("details.dealer.name", "Dealer's business name"),
        Field("details.dealer.address", "Dealer's location"),
        Field("details.dealer.id_number", "Dealer's FFL number", maxlength=60),
    ),
    key="details.dealer",
)


FORMS: dict[ReportKind, KindForm] = {
    form.kind: form
    for form in (
        KindForm(
            ReportKind.TIP,
            "Tip by phone or walk-in",
            "A caller or visitor tells you about someone; contact details or anonymous.",
            (Channel.PHONE, Channel.WALK_IN),
            (
                Section(
                    "The tip",
                    (
                        Field(
                            "channel",
                            "How it came in",
                            "radios",
                            ((Channel.PHONE.value, "Phone"), (Channel.WALK_IN.value, "Walk-in")),
                            required=True,
                        ),
                        Field(
                            "details.weapons",
                            "Were weapons mentioned or seen?",
                            "radios",
                            YES_NO_UNKNOWN,
                        ),
                        Field(
                            "details.weapons_text", "About the weapons", "textarea", maxlength=2000
                        ),
                        Field(
                            "details.date_or_target",
                            "Was a date or a target mentioned?",
                            "radios",
                            YES_NO_UNKNOWN,
                        ),
                        Field(
                            "details.date_or_target_text",
                            "The date or target",
                            "textarea",
                            maxlength=2000,
                        ),
                        Field(
                            "details.how_known",
                            "How does the caller know?",
                            "textarea",
                            maxlength=2000,
                        ),
                        Field(
                            "details.threat_to_others",
                            "Did they threaten to hurt or kill other people?",
                            "radios",
                            YES_NO_UNKNOWN,
                        ),
                        Field(
                            "details.preparation",
                            "Have they done anything to prepare?",
                            "radios",
                            YES_NO_UNKNOWN,
                            hint="Getting weapons, practising, watching or visiting a place, "
                            "writing a plan.",
                        ),
                        Field(
                            "details.self_harm",
                            "Did they talk about hurting or killing themselves?",
                            "radios",
                            YES_NO_UNKNOWN,
                        ),
                        Field(
                            "details.grievance",
                            "Are they fixated on a grudge against a person, group or place?",
                            "radios",
                            YES_NO_UNKNOWN,
                        ),
                        Field(
                            "details.setting",
                            "Where is this happening?",
                            "radios",
                            _opts(SETTING_LABELS),
                        ),
                    ),
                ),
            ),
            narrative_required=True,
            reporter=True,
        ),
        KindForm(
            ReportKind.SAR,
            "Suspicious activity report",
            "Observed behavior in one of the 16 ISE-SAR categories, with articulable facts.",
            (Channel.STAFF,),
            (
                Section(
                    "Suspicious activity",
                    (
                        Field(
                            "details.categories",
                            "Behavior categories",
                            "checkboxes",
                            _opts(SAR_LABELS),
                            required=True,
                            hint="Photography, observation, eliciting information, acquiring "
                            "expertise or materials, and recruiting can be lawful, protected "
                            "activity.",
                        ),
                        Field("details.site", "Site or location", required=True, maxlength=500),
                        Field(
                            "details.why_suspicious",
                            "Why this is suspicious",
                            "textarea",
                            required=True,
                            maxlength=5000,
                            hint="Articulable facts: what was seen or heard, not a hunch. "
                            "At least 20 characters.",
                        ),
                        Field(
                            "details.other_factors",
                            "What else makes it suspicious",
                            "textarea",
                            maxlength=2000,
                            hint="Required for a protected-activity category: what else, "
                            "besides that activity, makes it suspicious.",
                        ),
                    ),
                ),
            ),
            reporter=True,
        ),
        KindForm(
            ReportKind.NICS_DENIAL,
            "NICS denial notification",
            "The FBI's notice that a firearm transfer was denied (criminal justice information).",
            (Channel.STAFF,),
            (
                Section(
                    "The denial",
                    (
                        Field("details.denied_at", "Denied at", "datetime", required=True),
                        Field(
                            "details.transaction_number",
                            "NICS transaction number",
                            required=True,
                            maxlength=40,
                            hint="Letters, digits and dashes.",
                        ),
                        Field(
                            "details.denial_category",
                            "Denial reason",
                            "select",
                            _opts(DENIAL_LABELS),
                            required=True,
                        ),
                        Field(
                            "details.agencies_notified",
                            "Other agencies notified",
                            "lines",
                            maxlength=2000,
                            hint="One agency a line.",
                        ),
                    ),
                ),
                PURCHASER,
                DEALER,
            ),
        ),
        KindForm(
            ReportKind.PURCHASE_ATTEMPT,
            "Suspicious purchase attempt",
            "A dealer reports a purchase attempt that worried them, e.g. a straw purchase.",
            (Channel.STAFF,),
            (
                Section(
                    "The attempt",
                    (
                        Field("details.attempted_at", "When", "datetime", required=True),
                        Field("details.sought", "What was sought", required=True, maxlength=1000),
                        Field(
                            "details.behavior",
                            "Behavior",
                            "textarea",
                            required=True,
                            maxlength=5000,
                            hint="At least 10 characters.",
                        ),
                        Field(
                            "details.straw_indicators",
                            "Straw-purchase indicators",
                            "checkboxes",
                            _opts(STRAW_LABELS),
                        ),
                    ),
                ),
                DEALER,
                PURCHASER,
            ),
            reporter=True,
        ),
        KindForm(
            ReportKind.WELLNESS_CHECK,
            "Wellness check report",
            "What an officer found at a wellness check; pre-fills the threat assessment.",
            (Channel.STAFF,),
            (
                Section(
                    "The check",
                    (
                        Field("details.officer", "Officer", required=True),
                        Field("details.checked_at", "Checked at", "datetime", required=True),
                        Field(
                            "details.contact_made",
                            "Contact made with the person?",
                            "radios",
                            YES_NO,
                            required=True,
                        ),
                        Field(
                            "details.observed_state", "Observed state", "textarea", maxlength=2000
                        ),
                        Field("details.statements", "Statements", "textarea", maxlength=2000),
                        Field("details.weapons_seen", "Weapons seen?", "radios", YES_NO_UNKNOWN),
                        Field(
                            "details.weapons_access_reported",
                            "Access to weapons reported?",
                            "radios",
                            YES_NO_UNKNOWN,
                        ),
                        Field(
                            "details.weapons_text", "About the weapons", "textarea", maxlength=2000
                        ),
                        Field(
                            "details.others_in_home",
                            "Others in the home",
                            "textarea",
                            maxlength=2000,
                        ),
                        Field("details.referral_made", "A referral was made", "checkbox"),
                        Field("details.referral_to", "Referred to"),
                        Field(
                            "details.hold_initiated", "An emergency hold was initiated", "checkbox"
                        ),
                        Field(
                            "details.officer_concern",
                            "Officer's level of concern",
                            "radios",
                            tuple((c.value, c.value.title()) for c in Concern),
                            required=True,
                        ),
                    ),
                ),
            ),
        ),
        KindForm(
            ReportKind.REFERRAL,
            "Referral",
            "A school, employer or campus team refers someone whose behavior worries them.",
            (Channel.STAFF,),
            (
                Section(
                    "The referral",
                    (
                        Field(
                            "details.organization_type",
                            "Referred by",
                            "select",
                            (
                                ("school", "School"),
                                ("employer", "Employer"),
                                ("campus", "College or university"),
                                ("other", "Other"),
                            ),
                            required=True,
                        ),
                        Field("details.organization_name", "Organization", required=True),
                        Field("details.referrer_role", "Referrer's role"),
                        Field(
                            "details.behaviors",
                            "Behaviors of concern",
                            "textarea",
                            required=True,
                            maxlength=5000,
                            hint="At least 10 characters.",
                        ),
                        Field(
                            "details.actions_taken",
                            "Actions already taken",
                            "textarea",
                            maxlength=2000,
                        ),
                    ),
                ),
            ),
            reporter=True,
        ),
        KindForm(
            ReportKind.DIRECT_THREAT,
            "Direct threat",
            "A threat received by a person or an organization.",
            (Channel.STAFF,),
            (
                Section(
                    "The threat",
                    (
                        Field("details.recipient", "Who received it", required=True),
                        Field(
                            "details.medium",
                            "How it was delivered",
                            "select",
                            (
                                ("in_person", "In person"),
                                ("phone", "Phone call"),
                                ("text", "Text message"),
                                ("email", "E-mail"),
                                ("social_media", "Social media"),
                                ("letter", "Letter"),
                                ("other", "Other"),
                            ),
                            required=True,
                        ),
                        Field(
                            "details.threat_text",
                            "The threat, word for word",
                            "textarea",
                            required=True,
                            maxlength=5000,
                        ),
                        Field("details.received_at", "Received at", "datetime", required=True),
                        Field(
                            "details.target_named", "Was a target named?", "radios", YES_NO_UNKNOWN
                        ),
                    ),
                ),
            ),
            reporter=True,
        ),
    )
}

LIST_WIDGETS = ("checkboxes",)


def all_fields(form: KindForm) -> dict[str, Field]:
    """Every field of the form by name (labels included)."""
    found = {f.name: f for section in form.sections for f in section.fields}
    found[LABELS_FIELD.name] = LABELS_FIELD
    return found


def list_fields(form: KindForm) -> tuple[str, ...]:
    """The multi-valued fields, for ``forms.form_values``."""
    return tuple(n for n, f in all_fields(form).items() if f.widget in LIST_WIDGETS)


def zone(name: str | None) -> ZoneInfo:
    """A jurisdiction's time zone, UTC when unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _convert(field: Field | None, raw: Any, tz: ZoneInfo) -> Any:
    if field is None or not isinstance(raw, str):
        return raw
    if field.widget == "checkbox":
        return "true" if raw else ""
    if field.widget == "lines":
        return [line.strip() for line in raw.splitlines() if line.strip()]
    if field.widget == "datetime" and raw:
        try:
            return datetime.fromisoformat(raw).replace(tzinfo=tz).isoformat()
        except ValueError:
            return raw  # validation names it
    return raw


def _put(data: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        inner = data.setdefault(part, {})
        if not isinstance(inner, dict):
            return
        data = inner
    data[path[-1]] = value


def payload(form: KindForm, values: dict[str, Any], tz: ZoneInfo) -> dict[str, Any]:
    """The nested report dict ``parse_report`` takes, from the flat dotted form fields.

    Blank fields are left out (so defaults apply and required ones are named missing);
    date-times typed in the jurisdiction's local time are given its offset.
    """
    fields = all_fields(form)
    data: dict[str, Any] = {"kind": form.kind.value, "details": {}}
    if form.channels == (Channel.STAFF,):
        data["channel"] = Channel.STAFF.value
    anonymous = bool(values.get("reporter.anonymous"))
    for key, raw in values.items():
        if key == "reporter.anonymous" or (anonymous and key.startswith("reporter.")):
            continue
        value = _convert(fields.get(key), raw, tz)
        if value in ("", None) or (key == "channel" and form.channels == (Channel.STAFF,)):
            continue
        _put(data, key.split("."), value)
    return data


def precheck(form: KindForm, values: dict[str, Any]) -> dict[str, str]:
    """Form-only rules the schema does not know: the channel a kind may come in by."""
    channel = values.get("channel")
    allowed = [c.value for c in form.channels]
    if len(allowed) > 1 and channel and channel not in allowed:
        return {
            "channel": "choose " + " or ".join(CHANNEL_LABELS[c].lower() for c in form.channels)
        }
    return {}


def field_errors(form: KindForm, errors: dict[str, str]) -> dict[str, str]:
    """Errors keyed by a field or fieldset of the form where one matches.

    ``details.categories.0`` becomes ``details.categories``; an empty list's pydantic
    message becomes plain words.
    """
    known = set(all_fields(form)) | {s.key for s in form.sections if s.key}
    out: dict[str, str] = {}
    for key, message in errors.items():
        name = key
        while name not in known and "." in name and name.rsplit(".", 1)[1].isdigit():
            name = name.rsplit(".", 1)[0]
        if message.startswith("List should have at least 1"):
            message = "choose at least one"
        out.setdefault(name, message)
    return out


def label_for(form: KindForm, key: str) -> str:
    """The human name of a field or fieldset, for the error summary."""
    field = all_fields(form).get(key)
    if field is not None:
        return field.label
    for section in form.sections:
        if section.key == key:
            return section.legend
    return key


# --- showing a stored report ---------------------------------------------------------


def _stored(report: Report, name: str) -> Any:
    head, _, rest = name.partition(".")
    if not rest:
        return getattr(report, head, None)
    value: Any = {
        "subject": report.subject,
        "details": report.details,
        "reporter": report.reporter or {},
    }.get(head, {})
    for part in rest.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def show(field: Field, value: Any, tz: ZoneInfo) -> str:
    """A stored value as words."""
    if value in (None, "", []):
        return ""
    options = dict(field.options)
    if field.widget == "checkbox":
        return "Yes" if value is True or value == "true" else ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return "; ".join(options.get(str(v), str(v)) for v in value)
    if field.widget == "datetime":
        try:
            return local_time(datetime.fromisoformat(str(value)), tz)
        except ValueError:
            return str(value)
    return options.get(str(value), str(value))


def local_time(moment: datetime | None, tz: ZoneInfo) -> str:
    """A moment in the jurisdiction's time zone, e.g. ``2026-01-05 04:00 EST``."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def shown_sections(report: Report, tz: ZoneInfo) -> list[tuple[str, list[tuple[str, str]]]]:
    """Every non-empty stored field of the report, labelled, in the form's order."""
    form = FORMS[ReportKind(report.kind)]
    out: list[tuple[str, list[tuple[str, str]]]] = []
    for section in form.sections:
        if section is REPORTER:
            continue
        rows = []
        for field in section.fields:
            if field.name == "channel":  # in the summary at the top, with every channel named
                continue
            text = show(field, _stored(report, field.name), tz)
            if text:
                rows.append((field.label, text))
        out.append((section.legend, rows))
    return out


# The detail that says most about a report when it has no narrative.
_EXCERPT_FIELDS = ("why_suspicious", "behavior", "behaviors", "threat_text", "observed_state")


def excerpt(report: Report, length: int = 120) -> str:
    """A short line for the inbox: the narrative, else the kind's main free text."""
    text = report.narrative or next(
        (str(report.details[k]) for k in _EXCERPT_FIELDS if report.details.get(k)), ""
    )
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"
