"""Administration through the web: changes are saved and audited; bad input keeps what
was typed, names the field, and writes nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from defchain.access import Agency, Jurisdiction, Team, TeamMembership, User
from defchain.audit import AuditEvent

from .conftest import field_errors


def audit_count(db: Any, tag: str) -> int:
    return int(db.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.tag == tag)))


def test_admin_creates_an_agency_and_it_is_audited(cast: Any, browser_for: Any, db: Any) -> None:
    client = browser_for(cast.admin.id)
    response = client.form(
        "/admin/agencies/new",
        {
            "name": "Agency D Sheriff",
            "kind": "sheriff",
            "jurisdiction_id": str(cast.jurisdiction.id),
            "phone": "555-0100",
            "active": "on",
        },
    )
    assert response.status_code == 303
    agency = db.scalar(select(Agency).where(Agency.name == "Agency D Sheriff"))
    assert agency is not None and agency.kind == "sheriff" and agency.active
    event = db.scalar(
        select(AuditEvent).where(
            AuditEvent.tag == "access:agency:created", AuditEvent.subject_id == str(agency.id)
        )
    )
    assert event is not None
    assert event.actor_id == cast.admin.id
    assert event.changes["name"] == [None, "Agency D Sheriff"]


def test_bad_agency_form_names_each_field_keeps_input_and_writes_nothing(
    cast: Any, browser_for: Any, db: Any
) -> None:
    before = db.scalar(select(func.count(Agency.id)))
    events_before = db.scalar(select(func.count(AuditEvent.id)))
    client = browser_for(cast.admin.id)
    response = client.form(
        "/admin/agencies/new",
        {
            "name": "",
            "kind": "spaceport",
            "jurisdiction_id": str(cast.jurisdiction.id),
            "phone": "555-0199",
            "email": "not-an-email",
        },
    )
    assert response.status_code == 422
    errors = " | ".join(field_errors(response.text))
    assert "Name: is required" in errors
    assert "Kind:" in errors
    assert "E-mail: must be an e-mail address" in errors
    assert 'value="555-0199"' in response.text  # what the user typed is still there
    assert db.scalar(select(func.count(Agency.id))) == before
    assert db.scalar(select(func.count(AuditEvent.id))) == events_before


def test_duplicate_agency_name_is_a_field_error(cast: Any, browser_for: Any, db: Any) -> None:
    response = browser_for(cast.admin.id).form(
        "/admin/agencies/new",
        {
            "name": cast.agency_b.name.upper(),
            "kind": "police",
            "jurisdiction_id": str(cast.jurisdiction.id),
        },
    )
    assert response.status_code == 422
    assert any(e.startswith("Name:") and "already in use" in e for e in field_errors(response.text))


def test_unknown_form_field_is_refused(cast: Any, browser_for: Any) -> None:
    response = browser_for(cast.admin.id).form(
        "/admin/jurisdictions/new",
        {"name": "Somewhere", "state": "OH", "timezone": "America/New_York", "is_admin": "1"},
    )
    assert response.status_code == 422
    assert "is_admin" in response.text


def test_jurisdiction_validation_names_state_and_timezone(
    cast: Any, browser_for: Any, db: Any
) -> None:
    response = browser_for(cast.admin.id).form(
        "/admin/jurisdictions/new",
        {"name": "Nowhere", "state": "ZZ", "timezone": "Mars/Olympus_Mons"},
    )
    assert response.status_code == 422
    errors = field_errors(response.text)
    assert any(e.startswith("State:") for e in errors)
    assert any(e.startswith("Time zone:") for e in errors)
    assert db.scalar(select(Jurisdiction).where(Jurisdiction.name == "Nowhere")) is None


def test_user_with_weak_password_is_not_created(cast: Any, browser_for: Any, db: Any) -> None:
    response = browser_for(cast.admin.id).form(
        "/admin/users/new",
        {
            "username": "weak.one",
            "full_name": "Weak One",
            "agency_id": str(cast.agency_a.id),
            "roles": "team_member",
            "password": "short",
        },
    )
    assert response.status_code == 422
    assert any(
        e.startswith("Initial password:") and "12 characters" in e
        for e in field_errors(response.text)
    )
    assert 'value="weak.one"' in response.text
    assert db.scalar(select(User).where(User.username == "weak.one")) is None
    assert audit_count(db, "access:user:created") == 7  # only the cast


def test_user_needs_at_least_one_role(cast: Any, browser_for: Any) -> None:
    response = browser_for(cast.admin.id).form(
        "/admin/users/new",
        {
            "username": "no.role",
            "full_name": "No Role",
            "agency_id": str(cast.agency_a.id),
            "password": "a long enough passphrase",
        },
    )
    assert response.status_code == 422
    assert "Roles: choose at least one" in field_errors(response.text)


def test_every_problem_in_a_user_form_is_reported_at_once(cast: Any, browser_for: Any) -> None:
    response = browser_for(cast.admin.id).form(
        "/admin/users/new",
        {"username": "Bad Name!", "full_name": "Xavier Example", "password": "short"},
    )
    errors = field_errors(response.text)
    assert response.status_code == 422
    assert [e.split(":")[0] for e in errors] == ["Username", "Agency", "Roles", "Initial password"]
    assert 'value="Xavier Example"' in response.text


def test_admin_sets_roles_and_clearances(cast: Any, browser_for: Any, db: Any) -> None:
    client = browser_for(cast.admin.id)
    response = client.form(
        f"/admin/users/{cast.member_b.id}/edit",
        {
            "username": "member_b",
            "full_name": "Member B",
            "agency_id": str(cast.agency_b.id),
            "roles": ["team_member", "fusion_analyst"],
            "clearances": ["education", "cji"],
        },
    )
    assert response.status_code == 303
    db.refresh(cast.member_b)
    assert cast.member_b.roles == ["fusion_analyst", "team_member"]
    assert cast.member_b.clearances == ["cji", "education"]
    event = db.scalar(select(AuditEvent).where(AuditEvent.tag == "access:user:updated"))
    assert event.changes["clearances"] == [[], ["cji", "education"]]


def test_admin_disables_a_user_who_then_cannot_sign_in(
    cast: Any, browser_for: Any, anon: Any, db: Any
) -> None:
    response = browser_for(cast.admin.id).form(f"/admin/users/{cast.member_b.id}/disable")
    assert response.status_code == 303
    db.refresh(cast.member_b)
    assert cast.member_b.disabled
    response = anon.form(
        "/signin", {"username": "member_b", "password": "correct horse battery staple 42"}
    )
    assert response.status_code == 401
    assert audit_count(db, "access:user:disabled") == 1


def test_unknown_account_action_is_404(cast: Any, browser_for: Any) -> None:
    response = browser_for(cast.admin.id).form(f"/admin/users/{cast.member_b.id}/promote")
    assert response.status_code == 404


def test_admin_builds_a_team_from_two_agencies(cast: Any, browser_for: Any, db: Any) -> None:
    client = browser_for(cast.admin.id)
    response = client.form(
        "/admin/teams/new", {"name": "Team U", "jurisdiction_id": str(cast.jurisdiction.id)}
    )
    assert response.status_code == 303
    team = db.scalar(select(Team).where(Team.name == "Team U"))
    for user, lead in ((cast.analyst_a, "on"), (cast.user_c, "")):
        assert (
            client.form(
                f"/teams/{team.id}/members", {"user_id": str(user.id), "is_lead": lead}
            ).status_code
            == 303
        )
    members = db.scalars(select(TeamMembership).where(TeamMembership.team_id == team.id)).all()
    assert {(m.user.agency_id, m.is_lead) for m in members} == {
        (cast.agency_a.id, True),
        (cast.agency_c.id, False),
    }
    page = client.get(f"/teams/{team.id}").text
    assert cast.agency_a.name in page and cast.agency_c.name in page


def test_team_lead_manages_own_team_but_not_others(cast: Any, browser_for: Any, db: Any) -> None:
    lead = browser_for(cast.lead_a.id)
    assert (
        lead.form(f"/teams/{cast.team.id}/members", {"user_id": str(cast.user_c.id)}).status_code
        == 303
    )
    other = browser_for(cast.admin.id).form(
        "/admin/teams/new", {"name": "Team V", "jurisdiction_id": str(cast.jurisdiction.id)}
    )
    team_v = other.headers["location"].rsplit("/", 1)[1]
    assert (
        lead.form(f"/teams/{team_v}/members", {"user_id": str(cast.user_c.id)}).status_code == 404
    )


def test_adding_a_member_without_choosing_names_the_field(cast: Any, browser_for: Any) -> None:
    response = browser_for(cast.lead_a.id).form(f"/teams/{cast.team.id}/members", {"user_id": ""})
    assert response.status_code == 422
    assert any(e.startswith("User:") for e in field_errors(response.text))


def test_oversight_sees_only_aggregates(cast: Any, browser_for: Any) -> None:
    page = browser_for(cast.oversight.id).get("/oversight").text
    assert "Active staff accounts" in page
    for user in (cast.analyst_a, cast.member_b, cast.user_c):
        assert user.full_name not in page
        assert user.username not in page
        assert user.email not in page


def test_navigation_follows_the_role(cast: Any, browser_for: Any) -> None:
    admin_home = browser_for(cast.admin.id).get("/home").text
    analyst_home = browser_for(cast.analyst_a.id).get("/home").text
    oversight_home = browser_for(cast.oversight.id).get("/home").text
    assert 'href="/admin/users"' in admin_home
    assert 'href="/admin/users"' not in analyst_home
    assert 'href="/oversight"' in oversight_home and 'href="/teams"' not in oversight_home
    assert 'href="/audit"' not in analyst_home


def test_the_set_up_pages_sit_in_one_administration_menu(cast: Any, browser_for: Any) -> None:
    """An administrator's header fits one line: the set-up pages are in a drop-down."""
    page = browser_for(cast.admin.id).get("/admin/users").text
    header = page.split('class="usa-nav__primary', 1)[1].split("</ul>\n        <div", 1)[0]
    menu = header.split("<span>Administration</span></button>", 1)[1].split("</ul>", 1)[0]
    for href in ("/admin/jurisdictions", "/admin/agencies", "/admin/users", "/admin/routing",
                 "/admin/deadlines", "/admin/case-settings"):  # fmt: skip
        assert f'href="{href}"' in menu, href
    assert 'href="/cases"' not in menu and 'href="/cases"' in header
    # The page's own entry is marked current, and so is the menu that holds it.
    assert 'usa-current" aria-expanded="false"' in header
    assert 'href="/admin/users" aria-current="page"' in menu
    analyst = browser_for(cast.analyst_a.id).get("/home").text
    assert "<span>Administration</span>" not in analyst
    # The home page's buttons stay one per page, never the menu itself.
    assert 'href="/admin/users">Users</a>' in browser_for(cast.admin.id).get("/home").text


# --- escalation contacts on the agency form -----------------------------------------------


def _agency_edit_form(cast: Any, **contacts: Any) -> dict[str, Any]:
    return {
        "name": cast.agency_a.name,
        "kind": cast.agency_a.kind,
        "jurisdiction_id": str(cast.jurisdiction.id),
        "active": "on",
        **{field: str(value) for field, value in contacts.items()},
    }


def test_the_agency_form_offers_the_agencys_active_users_as_contacts(
    cast: Any, browser_for: Any, db: Any
) -> None:
    cast.oversight.disabled = True
    db.flush()
    page = browser_for(cast.admin.id).get(f"/admin/agencies/{cast.agency_a.id}/edit").text
    for field in ("primary_contact_id", "secondary_contact_id", "head_user_id"):
        assert f'name="{field}"' in page
    assert f'value="{cast.lead_a.id}"' in page  # staff of agency A
    assert f'value="{cast.member_b.id}"' not in page  # staff of agency B
    assert f'value="{cast.oversight.id}"' not in page  # disabled
    # A new agency has no staff yet: no contact fields.
    assert (
        'name="primary_contact_id"'
        not in browser_for(cast.admin.id).get("/admin/agencies/new").text
    )


def test_admin_sets_escalation_contacts_and_it_is_audited(
    cast: Any, browser_for: Any, db: Any
) -> None:
    client = browser_for(cast.admin.id)
    response = client.form(
        f"/admin/agencies/{cast.agency_a.id}/edit",
        _agency_edit_form(cast, primary_contact_id=cast.lead_a.id, head_user_id=cast.admin.id),
    )
    assert response.status_code == 303
    db.refresh(cast.agency_a)
    assert (
        cast.agency_a.primary_contact_id,
        cast.agency_a.secondary_contact_id,
        cast.agency_a.head_user_id,
    ) == (cast.lead_a.id, None, cast.admin.id)
    event = db.scalar(select(AuditEvent).where(AuditEvent.tag == "access:agency:updated"))
    assert event.changes == {
        "primary_contact_id": [None, cast.lead_a.id],
        "head_user_id": [None, cast.admin.id],
    }
    page = client.get(f"/admin/agencies/{cast.agency_a.id}/edit").text
    assert f'<option value="{cast.lead_a.id}" selected>' in page
    # Choosing nothing clears a contact.
    assert (
        client.form(
            f"/admin/agencies/{cast.agency_a.id}/edit",
            _agency_edit_form(cast, head_user_id=cast.admin.id),
        ).status_code
        == 303
    )
    db.refresh(cast.agency_a)
    assert cast.agency_a.primary_contact_id is None


def test_a_contact_from_another_agency_names_the_field_and_writes_nothing(
    cast: Any, browser_for: Any, db: Any
) -> None:
    events_before = db.scalar(select(func.count(AuditEvent.id)))
    response = browser_for(cast.admin.id).form(
        f"/admin/agencies/{cast.agency_a.id}/edit",
        _agency_edit_form(cast, secondary_contact_id=cast.member_b.id),
    )
    assert response.status_code == 422
    assert any(
        e.startswith("Secondary contact:") and "user of this agency" in e
        for e in field_errors(response.text)
    )
    assert "secondary_contact_id" in response.text  # the summary names the field
    db.refresh(cast.agency_a)
    assert cast.agency_a.secondary_contact_id is None
    assert db.scalar(select(func.count(AuditEvent.id))) == events_before


def test_a_contact_that_is_not_a_number_names_the_field(cast: Any, browser_for: Any) -> None:
    response = browser_for(cast.admin.id).form(
        f"/admin/agencies/{cast.agency_a.id}/edit",
        _agency_edit_form(cast, head_user_id="the chief"),
    )
    assert response.status_code == 422
    assert any(e.startswith("Agency head:") for e in field_errors(response.text))
