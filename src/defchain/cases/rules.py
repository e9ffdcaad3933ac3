"""Pure case rules: statuses, task kinds, levels of concern, and what one status becomes.

No session, no clock, no HTTP: values in, decisions out. The status workflow (review
cadence, closure gates) will grow here as a table of transitions, not an if/elif ladder.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum


class CaseStatus(StrEnum):
    """Where a case stands. Today only ``open`` and ``assessing`` are reached."""

    OPEN = "open"
    ASSESSING = "assessing"
    MANAGING = "managing"
    MONITORING = "monitoring"
    CLOSED = "closed"


CASE_STATUS_LABELS: dict[CaseStatus, str] = {
    CaseStatus.OPEN: "Open",
    CaseStatus.ASSESSING: "Assessing",
    CaseStatus.MANAGING: "Managing",
    CaseStatus.MONITORING: "Monitoring",
    CaseStatus.CLOSED: "Closed",
}

# What recording an assessment does to each status: a case assessed for the first time
# moves on to "assessing"; one already further along keeps its status (re-assessment is
# part of managing and monitoring). A closed case is not assessed (the service refuses).
_AFTER_ASSESSMENT: dict[CaseStatus, CaseStatus] = {
    CaseStatus.OPEN: CaseStatus.ASSESSING,
    CaseStatus.ASSESSING: CaseStatus.ASSESSING,
    CaseStatus.MANAGING: CaseStatus.MANAGING,
    CaseStatus.MONITORING: CaseStatus.MONITORING,
    CaseStatus.CLOSED: CaseStatus.CLOSED,
}


def status_after_assessment(status: str) -> CaseStatus:
    """The case's status once an assessment has been recorded on it."""
    return _AFTER_ASSESSMENT[CaseStatus(status)]


class LevelOfConcern(StrEnum):
    """The team's judgement after an assessment."""

    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"
    IMMINENT = "imminent"


LEVEL_OF_CONCERN_LABELS: dict[LevelOfConcern, str] = {
    LevelOfConcern.LOW: "Low",
    LevelOfConcern.MODERATE: "Moderate",
    LevelOfConcern.HIGH: "High",
    LevelOfConcern.IMMINENT: "Imminent",
}


class TaskKind(StrEnum):
    """What a task asks someone to do: inquiry, intervention, support or a gap to close."""

    INTERVIEW = "interview"
    HOME_VISIT = "home_visit"
    RECORDS_CHECK = "records_check"
    SOCIAL_MEDIA_REVIEW = "social_media_review"
    WEAPONS_ACCESS_CHECK = "weapons_access_check"
    MENTAL_HEALTH_REFERRAL = "mental_health_referral"
    MOBILE_CRISIS = "mobile_crisis"
    INVOLUNTARY_HOLD = "involuntary_hold"
    ERPO_PETITION = "erpo_petition"
    SAFETY_PLAN = "safety_plan"
    TARGET_PROTECTION = "target_protection"
    CHARGES = "charges"
    SUPPORT_HOUSING = "support_housing"
    SUPPORT_EMPLOYMENT = "support_employment"
    MENTORING = "mentoring"
    COUNSELING = "counseling"
    INFORMATION_GAP = "information_gap"
    OTHER = "other"


TASK_KIND_LABELS: dict[TaskKind, str] = {
    TaskKind.INTERVIEW: "Interview",
    TaskKind.HOME_VISIT: "Home visit",
    TaskKind.RECORDS_CHECK: "Records check",
    TaskKind.SOCIAL_MEDIA_REVIEW: "Social media review",
    TaskKind.WEAPONS_ACCESS_CHECK: "Weapons access check",
    TaskKind.MENTAL_HEALTH_REFERRAL: "Mental health referral",
    TaskKind.MOBILE_CRISIS: "Mobile crisis response",
    TaskKind.INVOLUNTARY_HOLD: "Involuntary hold evaluation",
    TaskKind.ERPO_PETITION: "Extreme risk protection order petition",
    TaskKind.SAFETY_PLAN: "Safety plan",
    TaskKind.TARGET_PROTECTION: "Protect the potential target",
    TaskKind.CHARGES: "Criminal charges",
    TaskKind.SUPPORT_HOUSING: "Housing support",
    TaskKind.SUPPORT_EMPLOYMENT: "Employment support",
    TaskKind.MENTORING: "Mentoring",
    TaskKind.COUNSELING: "Counseling",
    TaskKind.INFORMATION_GAP: "Close an information gap",
    TaskKind.OTHER: "Other",
}


class TaskStatus(StrEnum):
    """A task is open until someone records its outcome or cancels it."""

    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


TASK_STATUS_LABELS: dict[TaskStatus, str] = {
    TaskStatus.OPEN: "Open",
    TaskStatus.DONE: "Done",
    TaskStatus.CANCELLED: "Cancelled",
}

MAX_TITLE = 200
MAX_TEXT = 10_000
MAX_ORIGIN = 200


def task_overdue(*, status: str, due_at: datetime, now: datetime) -> bool:
    """An open task whose due time has passed."""
    return status == TaskStatus.OPEN and due_at < now


def clean_text(value: str) -> str:
    """Text as entered, without surrounding blanks (inner line breaks kept)."""
    return (value or "").strip()


def clean_title(value: str) -> str:
    """A one-line title: runs of blanks and line breaks become one space."""
    return " ".join((value or "").split())
