"""Pure access rules: lockout, session expiry, passwords, role permissions, labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from defchain.access.rules import (
    MIN_PASSWORD_LENGTH,
    ROLE_PERMISSIONS,
    Permission,
    Role,
    is_locked,
    labels_cleared,
    lockout_after_failure,
    password_problem,
    permissions_for,
    session_expired,
)
from tests.access.permission_sets import CASES, IMPORTS, PEOPLE, REPORTS, STAFF, TRIAGE

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
P = Permission

# --- lockout -----------------------------------------------------------------------------


def test_failures_count_up_until_the_threshold() -> None:
    failed = 0
    for expected in range(1, 5):
        failed, locked_until = lockout_after_failure(failed, now=NOW, threshold=5, minutes=15)
        assert (failed, locked_until) == (expected, None)


def test_the_threshold_failure_locks_and_resets_the_count() -> None:
    failed, locked_until = lockout_after_failure(4, now=NOW, threshold=5, minutes=15)
    assert failed == 0
    assert locked_until == NOW + timedelta(minutes=15)


def test_a_threshold_of_one_locks_at_once() -> None:
    assert lockout_after_failure(0, now=NOW, threshold=1, minutes=2) == (
        0,
        NOW + timedelta(minutes=2),
    )


@pytest.mark.parametrize(
    ("locked_until", "locked"),
    [
        (None, False),
        (NOW + timedelta(seconds=1), True),
        (NOW, False),
        (NOW - timedelta(seconds=1), False),
    ],
    ids=["never", "future", "exactly-now", "past"],
)
def test_is_locked(locked_until: datetime | None, locked: bool) -> None:
    assert is_locked(locked_until, now=NOW) is locked


# --- session expiry ----------------------------------------------------------------------


def _expired(*, created_ago: timedelta, idle: timedelta) -> str | None:
    return session_expired(
        created_at=NOW - created_ago,
        last_seen_at=NOW - idle,
        now=NOW,
        idle_minutes=30,
        max_hours=12,
    )


def test_session_alive_at_exactly_the_idle_limit() -> None:
    assert _expired(created_ago=timedelta(hours=1), idle=timedelta(minutes=30)) is None


def test_session_ends_just_past_the_idle_limit() -> None:
    reason = _expired(created_ago=timedelta(hours=1), idle=timedelta(minutes=30, microseconds=1))
    assert reason is not None
    assert "30 minutes" in reason


def test_session_alive_at_exactly_the_maximum_age() -> None:
    assert _expired(created_ago=timedelta(hours=12), idle=timedelta(0)) is None


def test_active_session_ends_past_the_maximum_age() -> None:
    reason = _expired(created_ago=timedelta(hours=12, seconds=1), idle=timedelta(minutes=1))
    assert reason is not None
    assert "12 hours" in reason


# --- passwords -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "username", "fragment"),
    [
        ("x1y2z3w4v5u", "", f"at least {MIN_PASSWORD_LENGTH}"),
        ("abcdefgh" * 32 + "x", "", "at most 256"),
        ("my-Lead_A-password-2026", "lead_a", "username"),
        ("abababababababab", "", "repetitive"),
    ],
    ids=["too-short", "too-long", "contains-username", "repetitive"],
)
def test_password_problems(password: str, username: str, fragment: str) -> None:
    problem = password_problem(password, username=username)
    assert problem is not None
    assert fragment in problem


@pytest.mark.parametrize(
    "password",
    ["correct horse battery staple 42", "abcdefghijkl", "abcdefgh" * 32],
    ids=["passphrase", "exactly-minimum", "exactly-maximum"],
)
def test_acceptable_passwords(password: str) -> None:
    assert password_problem(password, username="lead_a") is None


# --- roles and labels -------------------------------------------------------------------


def test_only_team_leads_manage_teams_among_staff_roles() -> None:
    assert ROLE_PERMISSIONS[Role.TEAM_MEMBER] == STAFF | REPORTS | PEOPLE | TRIAGE | CASES
    for role in (Role.INTAKE_ANALYST, Role.FUSION_ANALYST):
        assert ROLE_PERMISSIONS[role] == STAFF | REPORTS | PEOPLE | TRIAGE | CASES | IMPORTS
    assert ROLE_PERMISSIONS[Role.TEAM_LEAD] == STAFF | REPORTS | PEOPLE | TRIAGE | CASES | {
        P.ACCESS_TEAM_MANAGE
    }


def test_oversight_and_auditor_read_no_records() -> None:
    record_reads = {
        P.ACCESS_AGENCY_READ,
        P.ACCESS_TEAM_READ,
        P.ACCESS_USER_READ,
        P.INTAKE_REPORT_READ,
        P.PEOPLE_PERSON_READ,
    }
    assert not ROLE_PERMISSIONS[Role.OVERSIGHT] & record_reads
    assert not ROLE_PERMISSIONS[Role.AUDITOR] & record_reads
    assert P.OVERSIGHT_SUMMARY_READ in ROLE_PERMISSIONS[Role.OVERSIGHT]
    assert {P.AUDIT_EVENT_READ, P.AUDIT_CHAIN_VERIFY} <= ROLE_PERMISSIONS[Role.AUDITOR]


def test_every_role_has_permissions_and_admin_has_all() -> None:
    assert set(ROLE_PERMISSIONS) == set(Role)
    assert ROLE_PERMISSIONS[Role.ADMIN] == frozenset(Permission)


def test_permissions_for_is_the_union_of_roles() -> None:
    both = permissions_for(frozenset({Role.OVERSIGHT, Role.AUDITOR}))
    assert both == ROLE_PERMISSIONS[Role.OVERSIGHT] | ROLE_PERMISSIONS[Role.AUDITOR]
    assert permissions_for(frozenset()) == frozenset()


@pytest.mark.parametrize(
    ("labels", "clearances", "cleared"),
    [
        (set(), set(), True),
        ({"health"}, set(), False),
        ({"health"}, {"health"}, True),
        ({"health", "cji"}, {"health"}, False),
        ({"health"}, {"health", "cji", "intel"}, True),
    ],
)
def test_labels_need_every_clearance(labels: set[str], clearances: set[str], cleared: bool) -> None:
    assert labels_cleared(frozenset(labels), frozenset(clearances)) is cleared
