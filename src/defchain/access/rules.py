"""Pure access rules: roles, labels, permissions, lockout and session expiry.

No session, no clock, no HTTP: values in, decisions out.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from enum import StrEnum


class Role(StrEnum):
    """What a staff account does. A user may hold several roles."""

    INTAKE_ANALYST = "intake_analyst"
    TEAM_MEMBER = "team_member"
    TEAM_LEAD = "team_lead"
    FUSION_ANALYST = "fusion_analyst"
    OVERSIGHT = "oversight"
    ADMIN = "admin"
    AUDITOR = "auditor"


ROLE_LABELS: dict[Role, str] = {
    Role.INTAKE_ANALYST: "Intake analyst",
    Role.TEAM_MEMBER: "Team member",
    Role.TEAM_LEAD: "Team lead",
    Role.FUSION_ANALYST: "Fusion center analyst",
    Role.OVERSIGHT: "Oversight official",
    Role.ADMIN: "Administrator",
    Role.AUDITOR: "Auditor",
}


class Label(StrEnum):
    """The legal basis of a record; reading it needs the matching clearance."""

    HEALTH = "health"
    EDUCATION = "education"
    CJI = "cji"
    INTEL = "intel"


LABEL_DESCRIPTIONS: dict[Label, str] = {
    Label.HEALTH: "Health information (HIPAA / 42 CFR Part 2)",
    Label.EDUCATION: "Education records (FERPA)",
    Label.CJI: "Criminal justice information (CJIS)",
    Label.INTEL: "Criminal intelligence (28 CFR Part 23)",
}


class AgencyKind(StrEnum):
    """The kinds of agency a threat assessment program works with."""

    POLICE = "police"
    SHERIFF = "sheriff"
    SCHOOL_DISTRICT = "school_district"
    CAMPUS = "campus"
    BEHAVIORAL_HEALTH = "behavioral_health"
    FUSION_CENTER = "fusion_center"
    SOCIAL_SERVICES = "social_services"
    PROSECUTOR = "prosecutor"
    OTHER = "other"


AGENCY_KIND_LABELS: dict[AgencyKind, str] = {
    AgencyKind.POLICE: "Police department",
    AgencyKind.SHERIFF: "Sheriff's office",
    AgencyKind.SCHOOL_DISTRICT: "School district",
    AgencyKind.CAMPUS: "College or university",
    AgencyKind.BEHAVIORAL_HEALTH: "Behavioral health agency",
    AgencyKind.FUSION_CENTER: "Fusion center",
    AgencyKind.SOCIAL_SERVICES: "Social services",
    AgencyKind.PROSECUTOR: "Prosecutor's office",
    AgencyKind.OTHER: "Other",
}


class Permission(StrEnum):
    """Every permission in the system, named ``domain:resource:action``."""

    ACCESS_ACCOUNT_MANAGE = "access:account:manage"
    ACCESS_AGENCY_READ = "access:agency:read"
    ACCESS_AGENCY_WRITE = "access:agency:write"
    ACCESS_TEAM_READ = "access:team:read"
    ACCESS_TEAM_CREATE = "access:team:create"
    ACCESS_TEAM_MANAGE = "access:team:manage"
    ACCESS_USER_READ = "access:user:read"
    ACCESS_USER_WRITE = "access:user:write"
    ACCESS_JURISDICTION_READ = "access:jurisdiction:read"
    ACCESS_JURISDICTION_WRITE = "access:jurisdiction:write"
    AUDIT_EVENT_READ = "audit:event:read"
    AUDIT_CHAIN_VERIFY = "audit:chain:verify"
    OVERSIGHT_SUMMARY_READ = "oversight:summary:read"
    INTAKE_REPORT_CREATE = "intake:report:create"
    INTAKE_REPORT_READ = "intake:report:read"
    INTAKE_REPORT_UPDATE = "intake:report:update"
    INTAKE_REPORT_IMPORT = "intake:report:import"
    INTAKE_INTEGRATION_MANAGE = "intake:integration:manage"
    PEOPLE_PERSON_READ = "people:person:read"
    PEOPLE_PERSON_UPDATE = "people:person:update"  # review decisions, merge, split, undo
    PEOPLE_PERSON_IMPORT = "people:person:import"
    # Accept or override a priority, hand off, acknowledge a hand-off, triage a cluster.
    TRIAGE_REPORT_DECIDE = "triage:report:decide"
    # Edit routing rules and a jurisdiction's deadlines.
    TRIAGE_ROUTING_MANAGE = "triage:routing:manage"
    # See the breaks in the chain (late links) of records in scope.
    CHAIN_BREAK_READ = "chain:break:read"
    CASES_CASE_READ = "cases:case:read"
    CASES_CASE_CREATE = "cases:case:create"
    # Add tasks, notes, subjects and reports; complete or cancel tasks.
    CASES_CASE_UPDATE = "cases:case:update"
    ASSESSMENT_ASSESSMENT_CREATE = "assessment:assessment:create"
    # Read the firearm-law reference table (editing it needs access:jurisdiction:write).
    REFERENCE_LAW_READ = "reference:law:read"


P = Permission
_STAFF = frozenset(
    {
        P.ACCESS_ACCOUNT_MANAGE,
        P.ACCESS_AGENCY_READ,
        P.ACCESS_TEAM_READ,
        P.ACCESS_USER_READ,
        P.ACCESS_JURISDICTION_READ,
        P.REFERENCE_LAW_READ,
    }
)

_REPORTS = frozenset({P.INTAKE_REPORT_CREATE, P.INTAKE_REPORT_READ, P.INTAKE_REPORT_UPDATE})
_PEOPLE = frozenset({P.PEOPLE_PERSON_READ, P.PEOPLE_PERSON_UPDATE})
_TRIAGE = frozenset({P.TRIAGE_REPORT_DECIDE, P.CHAIN_BREAK_READ})
_CASES = frozenset(
    {
        P.CASES_CASE_READ,
        P.CASES_CASE_CREATE,
        P.CASES_CASE_UPDATE,
        P.ASSESSMENT_ASSESSMENT_CREATE,
    }
)

# Which permissions each role holds. Scope (which records) is decided by policy.can().
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.INTAKE_ANALYST: _STAFF
    | _REPORTS
    | _PEOPLE
    | _TRIAGE
    | _CASES
    | {P.INTAKE_REPORT_IMPORT, P.PEOPLE_PERSON_IMPORT},
    Role.TEAM_MEMBER: _STAFF | _REPORTS | _PEOPLE | _TRIAGE | _CASES,
    Role.FUSION_ANALYST: _STAFF
    | _REPORTS
    | _PEOPLE
    | _TRIAGE
    | _CASES
    | {P.INTAKE_REPORT_IMPORT, P.PEOPLE_PERSON_IMPORT},
    Role.TEAM_LEAD: _STAFF | _REPORTS | _PEOPLE | _TRIAGE | _CASES | {P.ACCESS_TEAM_MANAGE},
    Role.OVERSIGHT: frozenset(
        {P.ACCESS_ACCOUNT_MANAGE, P.ACCESS_JURISDICTION_READ, P.OVERSIGHT_SUMMARY_READ}
    ),
    Role.AUDITOR: frozenset(
        {
            P.ACCESS_ACCOUNT_MANAGE,
            P.ACCESS_JURISDICTION_READ,
            P.AUDIT_EVENT_READ,
            P.AUDIT_CHAIN_VERIFY,
        }
    ),
    Role.ADMIN: frozenset(Permission),
}


def permissions_for(roles: frozenset[Role]) -> frozenset[Permission]:
    """The union of the permissions of every role held."""
    result: frozenset[Permission] = frozenset()
    for role in roles:
        result |= ROLE_PERMISSIONS[role]
    return result


def labels_cleared(labels: frozenset[str], clearances: frozenset[str]) -> bool:
    """A labelled record is readable only with every one of its labels cleared."""
    return labels <= clearances


# --- sign-in -----------------------------------------------------------------------


def lockout_after_failure(
    failed_before: int, *, now: datetime, threshold: int, minutes: int
) -> tuple[int, datetime | None]:
    """Count one more failure; at the threshold lock the account and reset the count."""
    failed = failed_before + 1
    if failed >= threshold:
        return 0, now + timedelta(minutes=minutes)
    return failed, None


def is_locked(locked_until: datetime | None, *, now: datetime) -> bool:
    """Whether a lock set earlier still holds."""
    return locked_until is not None and locked_until > now


def session_expired(
    *,
    created_at: datetime,
    last_seen_at: datetime,
    now: datetime,
    idle_minutes: int,
    max_hours: int,
) -> str | None:
    """Why a sign-in session has ended, or ``None`` while it is still valid."""
    if now - last_seen_at > timedelta(minutes=idle_minutes):
        return f"Your session ended after {idle_minutes} minutes without activity."
    if now - created_at > timedelta(hours=max_hours):
        return f"Your session ended after {max_hours} hours. Please sign in again."
    return None


USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{2,79}$")
MIN_PASSWORD_LENGTH = 12


def password_problem(password: str, *, username: str = "") -> str | None:
    """Why a new password is unacceptable, or ``None``. Length over composition (NIST 800-63B)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Password must be at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > 256:
        return "Password must be at most 256 characters."
    if username and username.lower() in password.lower():
        return "Password must not contain the username."
    if len(set(password)) < 5:
        return "Password is too repetitive."
    return None
