"""Every route against every member of the cast: the permission matrix.

A route that is missing here fails ``test_every_route_is_in_the_matrix``, so a new page
cannot ship without its access decided and tested.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from defchain import cases, firearms, notify, reference
from defchain.access import Actor
from defchain.assessment import get_instrument
from defchain.assessment import service as assessments
from defchain.cases import care, lifecycle, meetings
from defchain.cases.models import MeetingItem
from defchain.firearms.service import followup_of_report
from defchain.intake import Attachment
from defchain.people import MergeProposal, Person
from defchain.people import service as people_service
from defchain.triage import Cluster, ClusterMember, deadlines, routing_service
from defchain.triage import service as triage
from tests.conftest import receive_public_tip
from tests.firearms.helpers import attempt, link_and_follow, person
from tests.web.test_people_pages import make_registry, use_test_model

CAST = ("anon", "analyst_a", "lead_a", "member_b", "user_c", "oversight", "admin", "auditor")
SIGNED_IN = CAST[1:]


@dataclass(frozen=True)
class Case:
    """One route: how to call it, and the status each cast member must get."""

    method: str
    route: str  # the route's template, as FastAPI registered it
    path: str  # with placeholders filled from the cast: {team}, {agency_a}, ...
    expect: dict[str, int]
    data: dict[str, Any] = field(default_factory=dict)


def only(
    allowed: tuple[str, ...], ok: int, *, denied: int = 403, anon: int = 303, **overrides: int
) -> dict[str, int]:
    """``ok`` for the allowed cast members, ``denied`` for the rest, ``anon`` for anonymous."""
    result = {name: (ok if name in allowed else denied) for name in SIGNED_IN}
    result["anon"] = anon
    result.update(overrides)
    return result


ALL = SIGNED_IN
STAFF = ("analyst_a", "lead_a", "member_b", "user_c", "admin")
ADMIN = ("admin",)
JURISDICTION = {"name": "Another County", "state": "OH", "timezone": "America/New_York"}
USER = {
    "username": "new.person",
    "full_name": "New Person",
    "agency_id": "{agency_b}",
    "roles": "team_member",
    "password": "a long enough passphrase",
}


def agency_form(name: str) -> dict[str, Any]:
    return {"name": name, "kind": "police", "jurisdiction_id": "{jurisdiction}", "active": "on"}


MATRIX: list[Case] = [
    Case("GET", "/healthz", "/healthz", {n: 200 for n in CAST}),
    Case("GET", "/", "/", {n: 303 for n in CAST}),
    Case("GET", "/signin", "/signin", {n: 200 for n in CAST}),
    Case(
        "POST",
        "/signin",
        "/signin",
        {n: 401 for n in CAST},
        {"username": "nobody", "password": "wrong password"},
    ),
    Case("GET", "/signin/mfa", "/signin/mfa", {n: 303 for n in CAST}),
    Case("POST", "/signin/mfa", "/signin/mfa", {n: 303 for n in CAST}, {"code": "123456"}),
    Case("GET", "/mfa/enroll", "/mfa/enroll", only(ALL, 200)),
    Case("POST", "/mfa/enroll", "/mfa/enroll", only(ALL, 303), {"code": "123456"}),
    Case("POST", "/signout", "/signout", {n: 303 for n in CAST}),
    Case("GET", "/home", "/home", only(ALL, 200)),
    Case("GET", "/oversight", "/oversight", only(("oversight", "admin"), 200)),
    Case("GET", "/account", "/account", only(ALL, 200)),
    Case(
        "POST",
        "/account/password",
        "/account/password",
        only(ALL, 422),
        {"current_password": "not my password", "new_password": "whatever it is now"},
    ),
    Case(
        "POST",
        "/account/preferences",
        "/account/preferences",
        only(ALL, 303),
        {"on_duty": "on", "quiet_start": "22:00", "quiet_end": "07:00"},
    ),
    Case("GET", "/audit", "/audit", only(("auditor", "admin"), 200)),
    Case("POST", "/audit/verify", "/audit/verify", only(("auditor", "admin"), 200)),
    Case("GET", "/teams", "/teams", only(STAFF, 200)),
    Case(
        "GET",
        "/teams/{team_id}",
        "/teams/{team}",
        only(("lead_a", "member_b", "admin"), 200, analyst_a=404, user_c=404),
    ),
    Case(
        "POST",
        "/teams/{team_id}/members",
        "/teams/{team}/members",
        only(("lead_a", "admin"), 303),
        {"user_id": "{user_c_id}"},
    ),
    Case(
        "POST",
        "/teams/{team_id}/members/{user_id}/remove",
        "/teams/{team}/members/{member_b_id}/remove",
        only(("lead_a", "admin"), 303),
    ),
    Case(
        "GET",
        "/agencies/{agency_id}",
        "/agencies/{agency_a}",
        only(("analyst_a", "lead_a", "admin"), 200, member_b=404, user_c=404),
    ),
    Case("GET", "/admin/jurisdictions", "/admin/jurisdictions", only(ADMIN, 200)),
    Case("GET", "/admin/jurisdictions/new", "/admin/jurisdictions/new", only(ADMIN, 200)),
    Case(
        "POST",
        "/admin/jurisdictions/new",
        "/admin/jurisdictions/new",
        only(ADMIN, 303),
        JURISDICTION,
    ),
    Case(
        "GET",
        "/admin/jurisdictions/{jurisdiction_id}/edit",
        "/admin/jurisdictions/{jurisdiction}/edit",
        only(ADMIN, 200),
    ),
    Case(
        "POST",
        "/admin/jurisdictions/{jurisdiction_id}/edit",
        "/admin/jurisdictions/{jurisdiction}/edit",
        only(ADMIN, 303),
        JURISDICTION,
    ),
    Case("GET", "/admin/agencies", "/admin/agencies", only(ADMIN, 200)),
    Case("GET", "/admin/agencies/new", "/admin/agencies/new", only(ADMIN, 200)),
    Case(
        "POST",
        "/admin/agencies/new",
        "/admin/agencies/new",
        only(ADMIN, 303),
        agency_form("Agency D Sheriff"),
    ),
    Case(
        "GET",
        "/admin/agencies/{agency_id}/edit",
        "/admin/agencies/{agency_a}/edit",
        only(ADMIN, 200),
    ),
    Case(
        "POST",
        "/admin/agencies/{agency_id}/edit",
        "/admin/agencies/{agency_a}/edit",
        only(ADMIN, 303),
        agency_form("Agency A Renamed"),
    ),
    Case("GET", "/admin/users", "/admin/users", only(ADMIN, 200)),
    Case("GET", "/admin/users/new", "/admin/users/new", only(ADMIN, 200)),
    Case("POST", "/admin/users/new", "/admin/users/new", only(ADMIN, 303), USER),
    Case("GET", "/admin/users/{user_id}/edit", "/admin/users/{member_b_id}/edit", only(ADMIN, 200)),
    Case(
        "POST",
        "/admin/users/{user_id}/edit",
        "/admin/users/{member_b_id}/edit",
        only(ADMIN, 303),
        {**{k: v for k, v in USER.items() if k != "password"}, "username": "member_b"},
    ),
    Case(
        "POST",
        "/admin/users/{user_id}/{action}",
        "/admin/users/{member_b_id}/disable",
        only(ADMIN, 303),
    ),
    Case("GET", "/admin/teams/new", "/admin/teams/new", only(ADMIN, 200)),
    Case(
        "POST",
        "/admin/teams/new",
        "/admin/teams/new",
        only(ADMIN, 303),
        {"name": "Team U", "jurisdiction_id": "{jurisdiction}"},
    ),
]

READERS = ("analyst_a", "lead_a", "admin")  # agency A's report, unlabelled
OUTSIDERS = {"member_b": 404, "user_c": 404}  # staff elsewhere: the report does not exist
TIP_FORM = {"channel": "phone", "narrative": "Caller says a student threatened the school"}
MATRIX += [
    Case("GET", "/reports", "/reports", only(STAFF, 200)),
    Case("GET", "/reports/new", "/reports/new", only(STAFF, 200)),
    Case("GET", "/reports/new/{kind}", "/reports/new/sar", only(STAFF, 200)),
    Case("POST", "/reports/new/{kind}", "/reports/new/tip", only(STAFF, 303), TIP_FORM),
    Case("GET", "/reports/import", "/reports/import", only(("analyst_a", "admin"), 200)),
    # No file chosen: the form comes back naming it (the import itself is tested apart).
    Case("POST", "/reports/import", "/reports/import", only(("analyst_a", "admin"), 422)),
    Case("GET", "/reports/{report_id}", "/reports/{report}", only(READERS, 200, **OUTSIDERS)),
    Case(
        "GET",
        "/reports/{report_id}/attachments/{attachment_id}",
        "/reports/{report}/attachments/{attachment}",
        only(READERS, 200, **OUTSIDERS),
    ),
    Case(
        "POST",
        "/reports/{report_id}/claim",
        "/reports/{report}/claim",
        only(READERS, 303, **OUTSIDERS),
    ),
    Case(
        "POST",
        "/reports/{report_id}/status",
        "/reports/{report}/status",
        only(READERS, 303, **OUTSIDERS),
        {"status": "closed"},
    ),
    Case(
        "POST",
        "/reports/{report_id}/messages",
        "/reports/{report}/messages",
        only(READERS, 303, **OUTSIDERS),
        {"message": "Thank you. Can you tell us which school?"},
    ),
    Case("GET", "/notifications", "/notifications", only(ALL, 200)),
    Case(
        "POST",
        "/notifications/{notification_id}/read",
        "/notifications/{notification}/read",
        only(("analyst_a",), 303, denied=404),
    ),
    # The JSON API takes integration Bearer tokens only: a signed-in browser's cookie and
    # CSRF token (which these cases send) get 401 like anyone else.
    Case("POST", "/api/v1/reports", "/api/v1/reports", {n: 401 for n in CAST}, {"kind": "tip"}),
    Case("GET", "/api/v1/reports/{report_id}", "/api/v1/reports/1", {n: 401 for n in CAST}),
]

# The public side of intake: the same answer for everyone, signed in or not (``records``
# gives the cast's jurisdiction an intake agency, so the tip is stored: 200 with a code).
PUBLIC_TIP = {
    "narrative": "He said he would bring a gun to the game",
    "danger_now": "no",
    "jurisdiction_id": "{jurisdiction}",
}
MATRIX += [
    Case("GET", "/report", "/report", {n: 200 for n in CAST}),
    Case("POST", "/report", "/report", {n: 200 for n in CAST}, PUBLIC_TIP),
    Case(
        "POST",
        "/report/passphrase",
        "/report/passphrase",
        {n: 403 for n in CAST},
        {"tip_code": "2345-6789-ABCD", "token": "forged", "passphrase": "long enough 123"},
    ),
    Case("GET", "/report/followup", "/report/followup", {n: 200 for n in CAST}),
    Case(
        "POST",
        "/report/followup",
        "/report/followup",
        {n: 401 for n in CAST},
        {"tip_code": "2345-6789-ABCD", "passphrase": "not the passphrase"},
    ),
    Case(
        "POST",
        "/report/followup/message",
        "/report/followup/message",
        {n: 303 for n in CAST},
        {"message": "I remembered something else"},
    ),
    Case("GET", "/warning-signs", "/warning-signs", {n: 200 for n in CAST}),
]

# The person registry: shared by every holder of people:person:read (a person is found
# by anyone), but a review item and a report link belong to their report (agency A's).
PEOPLE_STAFF = STAFF  # analysts, team members and leads, administrators
MATRIX += [
    Case("GET", "/people/review", "/people/review", only(PEOPLE_STAFF, 200)),
    Case(
        "GET",
        "/people/review/{item_id}",
        "/people/review/{review_item}",
        only(READERS, 200, **OUTSIDERS),
    ),
    Case(
        "POST",
        "/people/review/{item_id}/decide",
        "/people/review/{review_item}/decide",
        only(READERS, 303, **OUTSIDERS),
        {"choice": "new", "reason": "A different student."},
    ),
    Case("GET", "/people/proposals", "/people/proposals", only(PEOPLE_STAFF, 200)),
    Case(
        "POST",
        "/people/proposals/{proposal_id}/decide",
        "/people/proposals/{proposal}/decide",
        only(PEOPLE_STAFF, 303),
        {"choice": "distinct", "reason": "Different birth dates."},
    ),
    Case("GET", "/people/{person_id}", "/people/{person}", only(PEOPLE_STAFF, 200)),
    Case(
        "POST",
        "/people/{person_id}/merge",
        "/people/{person}/merge",
        only(PEOPLE_STAFF, 303),
        {"merge_id": "{other_person}", "reason": "The same student."},
    ),
    Case(
        "POST",
        "/people/{person_id}/split",
        "/people/{person}/split",
        only(PEOPLE_STAFF, 303),
        {"identifier_ids": "{identifier}", "reason": "Her sister's school."},
    ),
    Case(
        "POST",
        "/people/changes/{change_id}/undo",
        "/people/changes/{person_change}/undo",
        only(PEOPLE_STAFF, 303),
        {"reason": "The phone was his after all."},
    ),
    Case(
        "POST",
        "/people/links/{link_id}/undo",
        "/people/links/{report_link}/undo",
        only(READERS, 303, **OUTSIDERS),
        {"reason": "A different student."},
    ),
]

# Routing rules: administrators only (``triage:routing:manage``); ``records`` makes one.
ROUTING_RULE = {"name": "Schools to B", "agency_id": "{agency_b}", "kinds": "tip"}
ROUTING_SAMPLE = {
    "kind": "tip",
    "jurisdiction_id": "{jurisdiction}",
    "from_agency_id": "{agency_a}",
    "school": "Lincoln High",
}
MATRIX += [
    Case("GET", "/admin/routing", "/admin/routing", only(ADMIN, 200)),
    Case("GET", "/admin/routing/new", "/admin/routing/new", only(ADMIN, 200)),
    Case("POST", "/admin/routing/new", "/admin/routing/new", only(ADMIN, 303), ROUTING_RULE),
    Case("POST", "/admin/routing/test", "/admin/routing/test", only(ADMIN, 200), ROUTING_SAMPLE),
    Case("GET", "/admin/routing/{rule_id}", "/admin/routing/{routing_rule}", only(ADMIN, 200)),
    Case(
        "POST",
        "/admin/routing/{rule_id}",
        "/admin/routing/{routing_rule}",
        only(ADMIN, 303),
        ROUTING_RULE,
    ),
    Case(
        "POST",
        "/admin/routing/{rule_id}/move",
        "/admin/routing/{routing_rule}/move",
        only(ADMIN, 303),
        {"direction": "up"},
    ),
    Case(
        "POST",
        "/admin/routing/{rule_id}/delete",
        "/admin/routing/{routing_rule}/delete",
        only(ADMIN, 303),
    ),
]

# Triage: agency A's report (its panel's forms and its cluster), a hand-off to agency B
# (acknowledged by B's staff or an administrator), the queue, breaks, deadlines.
TRIAGERS = ("analyst_a", "lead_a", "member_b", "user_c", "admin")  # triage:report:decide
MATRIX += [
    Case(
        "POST",
        "/reports/{report_id}/triage",
        "/reports/{report}/triage",
        only(READERS, 303, **OUTSIDERS),
        {"priority": "P3", "reason": "A grudge, no threat of violence."},
    ),
    Case(
        "POST",
        "/reports/{report_id}/acknowledge",
        "/reports/{report}/acknowledge",
        only(READERS, 303, **OUTSIDERS),
    ),
    Case(
        "POST",
        "/reports/{report_id}/handoff",
        "/reports/{report}/handoff",
        only(READERS, 303, **OUTSIDERS),
        {"kind": "owner", "to_agency_id": "{agency_b}", "handoff_reason": "Their student."},
    ),
    Case("GET", "/triage", "/triage", only(STAFF, 200)),
    Case(
        "GET",
        "/triage/clusters/{cluster_id}",
        "/triage/clusters/{cluster}",
        only(READERS, 200, **OUTSIDERS),
    ),
    Case(
        "POST",
        "/triage/clusters/{cluster_id}/decide",
        "/triage/clusters/{cluster}/decide",
        only(READERS, 303, **OUTSIDERS),
        {"priority": "P3", "reason": "The same post, reported again."},
    ),
    Case(
        "POST",
        "/triage/clusters/{cluster_id}/handoff",
        "/triage/clusters/{cluster}/handoff",
        only(READERS, 303, **OUTSIDERS),
        {"to_agency_id": "{agency_b}", "handoff_reason": "Their students."},
    ),
    Case("GET", "/handoffs", "/handoffs", only(TRIAGERS, 200)),
    Case(
        "POST",
        "/handoffs/{handoff_id}/acknowledge",
        "/handoffs/{handoff}/acknowledge",
        only(("member_b", "admin"), 303, analyst_a=404, lead_a=404, user_c=404),
    ),
    Case("GET", "/chain/breaks", "/chain/breaks", only(TRIAGERS, 200)),
    Case("GET", "/admin/deadlines", "/admin/deadlines", only(ADMIN, 200)),
    Case(
        "POST",
        "/admin/deadlines",
        "/admin/deadlines",
        only(ADMIN, 303),
        {"jurisdiction_id": "{jurisdiction}", "overrides": "P2.assessed = 12h"},
    ),
]

# Cases: agency A's case on team T (``records``), worked by agency A's staff, team T's
# members and administrators; anyone else at another agency does not find it.
CASE_WORKERS = ("analyst_a", "lead_a", "member_b", "admin")
CASE_OUTSIDERS = {"user_c": 404}
TASK_FORM = {
    "kind": "interview",
    "title": "Talk to the coach",
    "owner_user_id": "{lead_a_id}",
    "due_on": "2026-01-09",
}
MATRIX += [
    Case("GET", "/cases", "/cases", only(STAFF, 200)),
    Case("GET", "/cases/new", "/cases/new", only(STAFF, 200)),
    Case("POST", "/cases/new", "/cases/new", only(STAFF, 303), {"title": "Threats online"}),
    Case("GET", "/cases/{case_id}", "/cases/{case}", only(CASE_WORKERS, 200, **CASE_OUTSIDERS)),
    Case(
        "POST",
        "/cases/{case_id}/tasks",
        "/cases/{case}/tasks",
        only(CASE_WORKERS, 303, **CASE_OUTSIDERS),
        TASK_FORM,
    ),
    Case(
        "POST",
        "/cases/{case_id}/tasks/{task_id}/done",
        "/cases/{case}/tasks/{case_task}/done",
        only(CASE_WORKERS, 303, **CASE_OUTSIDERS),
        {"outcome": "He is on the team and fine."},
    ),
    Case(
        "POST",
        "/cases/{case_id}/notes",
        "/cases/{case}/notes",
        only(CASE_WORKERS, 303, **CASE_OUTSIDERS),
        {"body": "Spoke to the coach."},
    ),
    # Assessments live on the case: the same people assess it; oversight and audit roles
    # hold no assessment permission.
    Case(
        "GET",
        "/cases/{case_id}/assessments/new",
        "/cases/{case}/assessments/new",
        only(CASE_WORKERS, 200, **CASE_OUTSIDERS),
    ),
    Case(
        "POST",
        "/cases/{case_id}/assessments",
        "/cases/{case}/assessments",
        only(CASE_WORKERS, 303, **CASE_OUTSIDERS),
        {"instrument": "DC-TA-1@1.0", "action": "record"},
    ),
    Case(
        "GET",
        "/cases/{case_id}/assessments/compare",
        "/cases/{case}/assessments/compare",
        only(CASE_WORKERS, 200, **CASE_OUTSIDERS),
    ),
    Case(
        "GET",
        "/cases/{case_id}/assessments/{assessment_id}",
        "/cases/{case}/assessments/{assessment}",
        only(CASE_WORKERS, 200, **CASE_OUTSIDERS),
    ),
]

# The case's records: its export (a disclosure) by the case's workers; team T's
# meetings by T's members and administrators only (analyst_a, at the case's agency but
# not on T, does not find them).
EXPORT_FORM = {"recipient": "Principal Ortiz", "purpose": "Safety plan", "form": "pdf"}
TEAM_MEMBERS = ("lead_a", "member_b", "admin")
OFF_TEAM = {"analyst_a": 404, "user_c": 404}
MATRIX += [
    Case(
        "GET",
        "/cases/{case_id}/export",
        "/cases/{case}/export",
        only(CASE_WORKERS, 200, **CASE_OUTSIDERS),
    ),
    Case(
        "POST",
        "/cases/{case_id}/export",
        "/cases/{case}/export",
        only(CASE_WORKERS, 200, **CASE_OUTSIDERS),
        EXPORT_FORM,
    ),
    Case(
        "GET",
        "/teams/{team_id}/meetings",
        "/teams/{team}/meetings",
        only(TEAM_MEMBERS, 200, **OFF_TEAM),
    ),
    Case(
        "POST",
        "/teams/{team_id}/meetings",
        "/teams/{team}/meetings",
        only(TEAM_MEMBERS, 303, **OFF_TEAM),
        {"held_at": "2026-01-05T10:00", "attendees": "Lead A, Member B"},
    ),
    Case(
        "GET", "/meetings/{meeting_id}", "/meetings/{meeting}", only(TEAM_MEMBERS, 200, **OFF_TEAM)
    ),
    Case(
        "POST",
        "/meetings/{meeting_id}/items/{item_id}/decision",
        "/meetings/{meeting}/items/{meeting_item}/decision",
        only(TEAM_MEMBERS, 303, **OFF_TEAM),
        {"decision": "Keep monitoring."},
    ),
    Case(
        "GET",
        "/meetings/{meeting_id}/export.csv",
        "/meetings/{meeting}/export.csv",
        only(TEAM_MEMBERS, 200, **OFF_TEAM),
    ),
    Case(
        "GET",
        "/meetings/{meeting_id}/export.md",
        "/meetings/{meeting}/export.md",
        only(TEAM_MEMBERS, 200, **OFF_TEAM),
    ),
]

# The case page's guardrails (``guardrail_records``): the records case is assessing, with
# an open task (so closing it is refused: 422) and a subject; a second case of team T is
# monitored and chronic (re-opened, its care plan reviewed). Case settings: administrators.
GUARD_WORKERS = only(CASE_WORKERS, 303, **CASE_OUTSIDERS)
CASE_SETTINGS_FORM = {
    "jurisdiction_id": "{jurisdiction}",
    "review_imminent": "1",
    "review_high": "5",
    "review_moderate": "30",
    "review_low": "90",
    "tripwire": "flag",
}
MATRIX += [
    Case("POST", "/cases/{case_id}/status", "/cases/{case}/status", GUARD_WORKERS,
         {"status": "managing", "reason": ""}),
    Case("POST", "/cases/{case_id}/close", "/cases/{case}/close",
         only(CASE_WORKERS, 422, **CASE_OUTSIDERS), {"reason": "Nothing more to do"}),
    Case("POST", "/cases/{case_id}/reopen", "/cases/{case_chronic}/reopen", GUARD_WORKERS,
         {"reason": "New information arrived"}),
    Case("POST", "/cases/{case_id}/lead", "/cases/{case}/lead", GUARD_WORKERS,
         {"lead_user_id": "{member_b_id}", "reason": "A school matter now"}),
    Case("POST", "/cases/{case_id}/plan-outcome", "/cases/{case}/plan-outcome", GUARD_WORKERS,
         {"outcome": "Counseling completed."}),
    Case("POST", "/cases/{case_id}/transfer", "/cases/{case}/transfer", GUARD_WORKERS,
         {"transfer_note": "Taken over by the county team."}),
    Case("POST", "/cases/{case_id}/sign-off", "/cases/{case}/sign-off", GUARD_WORKERS,
         {"note": ""}),
    Case("POST", "/cases/{case_id}/checkins", "/cases/{case}/checkins", GUARD_WORKERS,
         {"plan": "default"}),
    Case("POST", "/cases/{case_id}/checkins/{checkin_id}/done",
         "/cases/{case}/checkins/{checkin}/done", GUARD_WORKERS,
         {"outcome": "Seen at school, doing fine."}),
    Case("POST", "/cases/{case_id}/subjects/{person_id}/firearm-access",
         "/cases/{case}/subjects/{case_subject}/firearm-access", GUARD_WORKERS,
         {"status": "none_known", "source": "Parent interview"}),
    Case("POST", "/cases/{case_id}/chronic", "/cases/{case}/chronic", GUARD_WORKERS,
         {"chronic": "on", "with_after_hold": "on", "reason": "Released after a hold"}),
    Case("POST", "/cases/{case_id}/care-items", "/cases/{case_chronic}/care-items",
         GUARD_WORKERS, {"kind": "housing", "agency_id": "{agency_b}",
                         "review_every_days": "14"}),
    Case("POST", "/cases/{case_id}/care-items/{item_id}",
         "/cases/{case_chronic}/care-items/{care_item}", GUARD_WORKERS,
         {"action": "review", "answer": "yes", "note": ""}),
    Case("GET", "/admin/case-settings", "/admin/case-settings", only(ADMIN, 200)),
    Case("POST", "/admin/case-settings", "/admin/case-settings", only(ADMIN, 303),
         CASE_SETTINGS_FORM),
]  # fmt: skip

# The case page's ERPO tracker (``erpo_records``): an order on the records case about its
# subject, served, with a final order in force; every form is the case workers'.
MATRIX += [
    Case("POST", "/cases/{case_id}/erpo", "/cases/{case}/erpo", GUARD_WORKERS,
         {"person_id": "{case_subject}", "drafted_on": "2026-01-05", "state": ""}),
    Case("POST", "/cases/{case_id}/erpo/{order_id}/stage", "/cases/{case}/erpo/{erpo}/stage",
         GUARD_WORKERS, {"stage": "expired", "at": "2026-01-06"}),
    Case("POST", "/cases/{case_id}/erpo/{order_id}/surrender",
         "/cases/{case}/erpo/{erpo}/surrender", GUARD_WORKERS,
         {"firearms.0.type": "Handgun", "firearms.0.stored_at": "Property room",
          "receipt": "R-1", "surrendered_on": "2026-01-06"}),
    Case("POST", "/cases/{case_id}/erpo/{order_id}/renew", "/cases/{case}/erpo/{erpo}/renew",
         GUARD_WORKERS, {"expires_on": "2027-06-30"}),
    Case("POST", "/cases/{case_id}/erpo/{order_id}/inventory",
         "/cases/{case}/erpo/{erpo_surrendered}/inventory", GUARD_WORKERS,
         {"firearms.0.type": "Rifle", "firearms.0.stored_at": "Vault", "receipt": "R-2",
          "received_on": "2030-01-06"}),
    Case("POST", "/cases/{case_id}/erpo/{order_id}/return-date",
         "/cases/{case}/erpo/{erpo}/return-date", GUARD_WORKERS, {"return_on": "2027-07-01"}),
]  # fmt: skip

# The firearms pages (``followup_records``, ``prohibition_record``): three follow-ups of
# purchase attempts at agency A (one fresh, one ready to decide, one decided) and a
# prohibition on the watch.
# Follow-ups are read and worked by whoever may read and update their report; the watch
# by holders of the person registry; the follow-up window by administrators.
FOLLOWUP_READERS = ("analyst_a", "lead_a", "admin")
FOLLOWUP_DENIED = {"member_b": 404, "user_c": 404}
MATRIX += [
    Case("GET", "/firearms", "/firearms", only(STAFF, 200)),
    Case("POST", "/firearms/policy", "/firearms/policy", only(ADMIN, 303),
         {"agency_id": "{agency_a}", "followup_days": "5"}),
    Case("GET", "/firearms/followups/{followup_id}", "/firearms/followups/{followup}",
         only(FOLLOWUP_READERS, 200, **FOLLOWUP_DENIED)),
    Case("POST", "/firearms/followups/{followup_id}/step", "/firearms/followups/{followup}/step",
         only(FOLLOWUP_READERS, 303, **FOLLOWUP_DENIED),
         {"step": "deconflict", "note": "Called the ATF field office"}),
    Case("POST", "/firearms/followups/{followup_id}/decide",
         "/firearms/followups/{followup_ready}/decide",
         only(FOLLOWUP_READERS, 303, **FOLLOWUP_DENIED), {"decision": "interview"}),
    Case("POST", "/firearms/followups/{followup_id}/outcome",
         "/firearms/followups/{followup_decided}/outcome",
         only(FOLLOWUP_READERS, 303, **FOLLOWUP_DENIED), {"outcome": "Interviewed"}),
    Case("GET", "/firearms/watch", "/firearms/watch", only(STAFF, 200)),
    Case("POST", "/firearms/watch", "/firearms/watch", only(STAFF, 303),
         {"person_id": "{case_subject}", "kind": "dv_order", "source": "Court order DV-9",
          "starts_on": "2026-01-05", "ends_on": ""}),
    Case("POST", "/firearms/prohibitions/{prohibition_id}/lift",
         "/firearms/prohibitions/{prohibition}/lift", only(STAFF, 303),
         {"reason": "Order vacated"}),
]  # fmt: skip

# The firearm-law table (``firearm_law_record``: California's row): every staff role reads
# it; administrators edit it (``access:jurisdiction:write``).
LAW_EDIT = {
    "name": "Gun violence restraining order (GVRO)",
    "citation": "Cal. Penal Code § 18100 et seq.",
    "reason": "Read the code section",
}
MATRIX += [
    Case("GET", "/reference/firearm-laws", "/reference/firearm-laws?state=CA",
         only(STAFF, 200)),
    Case("GET", "/reference/firearm-laws/{law_id}/edit",
         "/reference/firearm-laws/{firearm_law}/edit", only(ADMIN, 200)),
    Case("POST", "/reference/firearm-laws/{law_id}/edit",
         "/reference/firearm-laws/{firearm_law}/edit", only(ADMIN, 303), LAW_EDIT),
    Case("GET", "/reference/firearm-laws/{law_id}/history",
         "/reference/firearm-laws/{firearm_law}/history", only(STAFF, 200)),
]  # fmt: skip

# Routes that are not the app's own pages.
NOT_PAGES = {("GET", "/api/openapi.json")}


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app serves, read from its OpenAPI description."""
    routes = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    return routes - NOT_PAGES


@pytest.fixture
def records(cast: Any, db: Any, clock: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """An anonymous public tip at agency A with an attachment, a notification for
    analyst_a and a routing rule: the records the report, notification and routing routes
    act on; and the person registry's (``people_records``)."""
    report = receive_public_tip(
        db, cast, clock, narrative="He said he would bring a gun to the game"
    )
    followups = followup_records(cast, db, clock)  # before the rule routes all to C
    attachment = Attachment(
        report_id=report.id,
        filename="note.pdf",
        content_type="application/pdf",
        size=8,
        sha256="0" * 64,
        data=b"%PDF-1.4",
        created_at=clock.now(),
    )
    db.add(attachment)
    note = notify.notify_user(
        db, user_id=cast.analyst_a.id, tag="test", subject="Something", now=clock.now()
    )
    rule = routing_service.create_rule(
        db,
        actor=Actor.system("test"),
        data={"name": "Everything to C", "agency_id": cast.agency_c.id},
        now=clock.now(),
    )
    db.flush()
    return {
        **triage_records(cast, db, clock, report),
        "routing_rule": rule.id,
        "report": report.id,
        "attachment": attachment.id,
        "notification": note.id,
        **people_records(cast, db, clock, monkeypatch),
        **case_records(cast, db, clock),
        **meeting_records(cast, db, clock),
        **guardrail_records(cast, db, clock),
        **erpo_records(cast, db, clock),
        **followups,
        "prohibition": prohibition_record(cast, db, clock),
        "firearm_law": firearm_law_record(db, clock),
    }


def case_records(cast: Any, db: Any, clock: Any) -> dict[str, int]:
    """Agency A's case on team T, led by lead_a, with an open task for lead_a."""
    lead = cast.actor("lead_a")
    case = cases.open_case(
        db, lead, title="Threats at the game", team_id=cast.team.id, now=clock.now()
    )
    task = cases.add_task(
        db, lead, case, kind="interview", title="Talk to the student",
        owner_user_id=cast.lead_a.id, due_at=clock.now(), now=clock.now(),
    )  # fmt: skip
    assessment = assessments.record(
        db, lead, case, instrument_key="DC-TA-1@1.0",
        answers=assessments.blank_answers(get_instrument("DC-TA-1")), now=clock.now(),
    )  # fmt: skip
    return {"case": case.id, "case_task": task.id, "assessment": assessment.id}


def meeting_records(cast: Any, db: Any, clock: Any) -> dict[str, int]:
    """A meeting of team T with one case of T on its agenda."""
    case = db.scalars(select(cases.Case).where(cases.Case.team_id == cast.team.id)).first()
    meeting = meetings.create_meeting(
        db, cast.actor("lead_a"), cast.team, held_at=clock.now(), attendees="", now=clock.now()
    )
    item = db.scalars(select(MeetingItem).where(MeetingItem.meeting_id == meeting.id)).first()
    if item is None:  # the case needs no discussion today: put it on the agenda anyway
        item = MeetingItem(meeting_id=meeting.id, case_id=case.id, reasons=["due for review"])
        db.add(item)
        db.flush()
    return {"meeting": meeting.id, "meeting_item": item.id}


def guardrail_records(cast: Any, db: Any, clock: Any) -> dict[str, int]:
    """A subject and a scheduled check-in on the records case (``case_records``), and a
    second case of team T, monitored and chronic, with its after-hold care items."""
    lead = cast.actor("lead_a")
    case = db.scalars(select(cases.Case).where(cases.Case.title == "Threats at the game")).one()
    subject = Person(display_name="Jayden Example", created_at=clock.now())
    db.add(subject)
    db.flush()
    cases.add_subject(db, lead, case, person_id=subject.id, now=clock.now())
    (checkin,) = lifecycle.schedule_checkins(
        db, lead, case, dates=[clock.now() + timedelta(days=30)], owner_user_id=None,
        now=clock.now(),
    )  # fmt: skip
    chronic = cases.open_case(
        db, lead, title="Released after a hold", team_id=cast.team.id, now=clock.now()
    )
    for status in ("managing", "monitoring"):
        lifecycle.move(db, lead, chronic, to=status, reason="", now=clock.now())
    (item, *_) = care.set_chronic(
        db, lead, chronic, chronic=True, with_after_hold=True, reason="A 72-hour hold",
        now=clock.now(),
    )  # fmt: skip
    return {
        "case_subject": subject.id,
        "checkin": checkin.id,
        "case_chronic": chronic.id,
        "care_item": item.id,
    }


def erpo_records(cast: Any, db: Any, clock: Any) -> dict[str, int]:
    """Two ERPOs on the records case about its subject (``guardrail_records``): one
    served, its final order in force for a year; one whose firearms were surrendered."""
    lead, now = cast.actor("lead_a"), clock.now()
    case = db.scalars(select(cases.Case).where(cases.Case.title == "Threats at the game")).one()
    (subject,) = cases.subjects_of(db, case)
    order = firearms.create_order(db, lead, case_id=case.id, person_id=subject.id, at=now, now=now)
    firearms.advance(
        db, lead, order, stage="final_order", at=now, now=now, expires_at=now + timedelta(days=365)
    )
    firearms.advance(db, lead, order, stage="served", at=now, now=now)
    second = firearms.create_order(db, lead, case_id=case.id, person_id=subject.id, at=now, now=now)
    firearms.record_surrender(
        db, lead, second, receipt="R-1", at=now, now=now,
        firearms=[firearms.FirearmIn("Handgun", "", "", "Property room")],
    )  # fmt: skip
    return {"erpo": order.id, "erpo_surrendered": second.id}


def followup_records(cast: Any, db: Any, clock: Any) -> dict[str, int]:
    """Three purchase-attempt follow-ups at agency A, each about its own new person: one
    fresh, one with the first two steps done, one decided."""
    lead, now = cast.actor("lead_a"), clock.now()
    ids = {}
    for name, done in (("followup", 0), ("followup_ready", 2), ("followup_decided", 3)):
        report = attempt(db, cast, clock)
        link_and_follow(db, clock, report, person(db, clock, f"Buyer {name}"))
        followup = followup_of_report(db, report.id)
        assert followup is not None
        for step in ("deconflict", "prior_reports")[:done]:
            firearms.complete_step(db, lead, followup, step=step, note="done", now=now)
        if done == 3:
            firearms.decide(db, lead, followup, decision="interview", now=now)
        ids[name] = followup.id
    return ids


def prohibition_record(cast: Any, db: Any, clock: Any) -> int:
    """A domestic-violence order on the records case's subject (``guardrail_records``)."""
    case = db.scalars(select(cases.Case).where(cases.Case.title == "Threats at the game")).one()
    (subject,) = cases.subjects_of(db, case)
    row = firearms.add_prohibition(
        db, cast.actor("lead_a"), person_id=subject.id, kind="dv_order",
        source="Court order DV-1", starts_at=clock.now(), now=clock.now(),
    )  # fmt: skip
    prohibition_id: int = row.id
    return prohibition_id


def firearm_law_record(db: Any, clock: Any) -> int:
    """California's row of the firearm-law table, seeded from the shipped data file."""
    reference.seed(db, clock.now(), rows=[r for r in reference.load_seed() if r.state == "CA"])
    law_id: int = db.scalars(select(reference.FirearmLaw.id)).one()
    return law_id


def triage_records(cast: Any, db: Any, clock: Any, report: Any) -> dict[str, int]:
    """A cluster holding the report (which stays unprocessed, so it stays agency A's),
    and a second tip handed off to agency B."""
    now = clock.now()
    cluster = Cluster(
        label="Similar: a gun at the game",
        agency_id=report.agency_id,
        first_report_id=report.id,
        size=1,
        created_at=now,
        last_at=now,
    )
    db.add(cluster)
    db.flush()
    db.add(ClusterMember(report_id=report.id, cluster_id=cluster.id, reason="first", added_at=now))
    other = receive_public_tip(db, cast, clock, narrative="A student posted a threat online")
    handoff = triage.hand_off_report(
        db,
        who=Actor.system("test"),
        report=other,
        to_agency_id=cast.agency_b.id,
        to_team_id=None,
        reason="Their student.",
        deadlines=deadlines.deadlines_for("P2", needs_person=False),
        priority="P2",
        now=now,
    )
    return {"cluster": cluster.id, "handoff": handoff.id}


def people_records(
    cast: Any, db: Any, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> dict[str, int]:
    """Two persons from agency A's reports, a third split off the first (a change to
    undo), a report link and an open review item."""
    use_test_model(monkeypatch)
    registry = make_registry(db, cast, clock)
    person = registry.jayden
    phone, name = (
        next(i for i in person.identifiers if i.kind == kind) for kind in ("phone", "name")
    )
    change = people_service.split(
        db,
        actor=Actor.system("test"),
        person_id=person.id,
        identifier_ids=[phone.id],
        link_ids=[],
        reason="The phone is his brother's.",
        now=clock.now(),
    )
    people_service.propose_merges(
        db,
        pairs=[people_service.Pair(person.id, registry.priya.id, 0.6, {"org": 9.6})],
        who=Actor.system("test"),
        now=clock.now(),
    )
    proposal = db.scalars(select(MergeProposal)).one()
    return {
        "proposal": proposal.id,
        "person": person.id,
        "other_person": registry.priya.id,
        "identifier": name.id,
        "person_change": change.id,
        "report_link": registry.jayden_link.id,
        "review_item": registry.item.id,
    }


def test_every_route_is_in_the_matrix(app: FastAPI) -> None:
    covered = {(c.method, c.route) for c in MATRIX}
    missing = app_routes(app) - covered
    assert not missing, f"routes missing from the permission matrix: {sorted(missing)}"
    stale = covered - app_routes(app)
    assert not stale, f"matrix rows for routes that no longer exist: {sorted(stale)}"


def test_every_case_names_the_whole_cast() -> None:
    for case in MATRIX:
        assert set(case.expect) == set(CAST), case.route


@pytest.mark.parametrize("case", MATRIX, ids=lambda c: f"{c.method} {c.path}")
@pytest.mark.parametrize("who", CAST)
def test_permission_matrix(
    case: Case, who: str, cast: Any, browser_for: Any, records: dict[str, int]
) -> None:
    ids = {
        **records,
        "team": cast.team.id,
        "agency_a": cast.agency_a.id,
        "agency_b": cast.agency_b.id,
        "jurisdiction": cast.jurisdiction.id,
        "user_c_id": cast.user_c.id,
        "member_b_id": cast.member_b.id,
        "lead_a_id": cast.lead_a.id,
    }
    client = browser_for(None if who == "anon" else cast.user(who).id)
    path = case.path.format(**ids)
    if case.method == "GET":
        response = client.get(path, follow_redirects=False)
    else:
        data = {k: (v.format(**ids) if isinstance(v, str) else v) for k, v in case.data.items()}
        response = client.form(path, data)
    expected = case.expect[who]
    assert response.status_code == expected, (
        f"{who}: {case.method} {path} gave {response.status_code}, expected {expected}: "
        f"{response.text[-400:]}"
    )
