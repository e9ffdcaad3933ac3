"""Validated input for the access domain. Field names match the form fields."""

from __future__ import annotations

import re
from typing import Annotated
from zoneinfo import ZoneInfo, available_timezones

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from defchain.access.rules import USERNAME_PATTERN, AgencyKind, Label, Role

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)]
Optional200 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]

US_STATES = frozenset(
    {
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "DC",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
        "AS",
        "GU",
        "MP",
        "PR",
        "VI",
    }
)
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# A time of day on the 24-hour clock, as <input type=time> sends it (seconds, if a
# browser adds them, are dropped).
HHMM_PATTERN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)(:[0-5]\d(\.\d+)?)?$")


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class JurisdictionIn(_Input):
    """A jurisdiction as an administrator enters it."""

    name: Name
    state: str
    county: Optional200 = ""
    city: Optional200 = ""
    timezone: str
    # The agency that receives public tips (none: the public tip page is closed here).
    intake_agency_id: int | None = Field(default=None, gt=0)
    # The public warning-signs page in Markdown (none: the built-in default text).
    warning_signs_md: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=20_000)] | None
    ) = None

    @field_validator("warning_signs_md")
    @classmethod
    def _blank_is_default(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("state")
    @classmethod
    def _state(cls, value: str) -> str:
        value = value.strip().upper()
        if value not in US_STATES:
            raise ValueError("must be a two-letter U.S. state or territory code, e.g. OH")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        value = value.strip()
        if value not in available_timezones():
            raise ValueError("must be an IANA time zone, e.g. America/New_York")
        ZoneInfo(value)
        return value


class AgencyIn(_Input):
    """An agency as an administrator enters it."""

    name: Name
    kind: AgencyKind
    jurisdiction_id: int = Field(gt=0)
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] = ""
    email: Optional200 = ""
    active: bool = True
    # Escalation contacts: users of this agency, each optional.
    primary_contact_id: int | None = Field(default=None, gt=0)
    secondary_contact_id: int | None = Field(default=None, gt=0)
    head_user_id: int | None = Field(default=None, gt=0)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if value and not EMAIL_PATTERN.match(value):
            raise ValueError("must be an e-mail address like name@example.gov")
        return value


class PreferencesIn(_Input):
    """A user's own notification preferences.

    Quiet hours are "HH:MM" in the agency's local time, both or neither (the service
    checks the pair and names the missing field).
    """

    on_duty: bool = False
    quiet_start: str = ""
    quiet_end: str = ""

    @field_validator("quiet_start", "quiet_end")
    @classmethod
    def _time_of_day(cls, value: str) -> str:
        if not value:
            return ""
        if not HHMM_PATTERN.match(value):
            raise ValueError("must be a time of day like 22:00 (24-hour clock)")
        return value[:5]


class UserIn(_Input):
    """A user's profile, roles and clearances (no password)."""

    username: str
    full_name: Name
    email: Optional200 = ""
    agency_id: int = Field(gt=0)
    roles: list[Role] = Field(min_length=1)
    clearances: list[Label] = []

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        value = value.strip().lower()
        if not USERNAME_PATTERN.match(value):
            raise ValueError(
                "must be 3-80 characters: lowercase letters, digits, dot, dash or underscore"
            )
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if value and not EMAIL_PATTERN.match(value):
            raise ValueError("must be an e-mail address like name@example.gov")
        return value


class TeamIn(_Input):
    """A team's name, home jurisdiction and purpose."""

    name: Name
    jurisdiction_id: int = Field(gt=0)
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] = ""
