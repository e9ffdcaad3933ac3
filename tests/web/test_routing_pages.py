"""Routing rules through the web: an administrator creates, edits, orders and deletes
rules and tries them on a sample; bad input names the field and stores nothing; nobody
else gets in."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from defchain.access import Actor
from defchain.audit import AuditEvent
from defchain.triage import RoutingRule
from defchain.triage import routing_service as service

from .conftest import field_errors


def rule_form(cast: Any, **fields: Any) -> dict[str, Any]:
    return {
        "name": "Lincoln USD schools",
        "active": "on",
        "kinds": ["tip", "referral"],
        "school_contains": "lincoln",
        "agency_id": str(cast.agency_b.id),
        "team_id": str(cast.team.id),
        "info_agency_ids": [str(cast.agency_c.id)],
        **fields,
    }


def make(db: Any, cast: Any, clock: Any, **fields: Any) -> RoutingRule:
    data = {"name": "Rule", "agency_id": cast.agency_b.id, **fields}
    return service.create_rule(db, actor=Actor.system("test"), data=data, now=clock.now())


def count(db: Any, model: Any) -> int:
    return int(db.scalar(select(func.count(model.id))))


def text_of(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</', html, re.S)
    assert match, f"#{element_id} not on the page"
    return re.sub(r"\s+", " ", match.group(1)).strip()


def test_admin_creates_a_rule_through_the_form(cast: Any, browser_for: Any, db: Any) -> None:
    client = browser_for(cast.admin.id)
    assert client.get("/admin/routing/new").status_code == 200
    response = client.form("/admin/routing/new", rule_form(cast))
    assert response.status_code == 303
    rule = db.scalar(select(RoutingRule).where(RoutingRule.name == "Lincoln USD schools"))
    assert rule is not None
    assert response.headers["location"] == f"/admin/routing?saved={rule.id}#rule-{rule.id}"
    assert (rule.kinds, rule.school_contains, rule.active) == (["tip", "referral"], "lincoln", True)
    assert (rule.agency_id, rule.team_id, rule.info_agency_ids) == (
        cast.agency_b.id,
        cast.team.id,
        [cast.agency_c.id],
    )
    assert rule.jurisdiction_id is None and rule.from_agency_id is None and rule.priorities == []
    event = db.scalar(select(AuditEvent).where(AuditEvent.tag == "triage:routing_rule:created"))
    assert event.actor_id == cast.admin.id and event.subject_id == str(rule.id)

    page = client.get("/admin/routing")
    assert page.status_code == 200
    assert "Lincoln USD schools" in page.text
    assert "The kind is Tip or Referral;" in page.text  # conditions in words
    assert "the subject&#39;s school contains &#34;lincoln&#34;" in page.text
    assert 'href="/admin/routing"' in page.text  # in the navigation


def test_admin_edits_switches_off_and_deletes_a_rule(
    cast: Any, browser_for: Any, db: Any, clock: Any
) -> None:
    rule = make(db, cast, clock, kinds=["sar"])
    client = browser_for(cast.admin.id)
    page = client.get(f"/admin/routing/{rule.id}")
    assert page.status_code == 200
    assert 'value="sar" checked' in page.text
    # No "active" box ticked: switched off.
    response = client.form(
        f"/admin/routing/{rule.id}", {"name": "SARs", "agency_id": str(cast.agency_c.id)}
    )
    assert response.status_code == 303
    db.refresh(rule)
    assert (rule.name, rule.active, rule.kinds, rule.agency_id) == (
        "SARs",
        False,
        [],
        cast.agency_c.id,
    )
    assert "Switched off" in client.get("/admin/routing").text

    response = client.form(f"/admin/routing/{rule.id}/delete")
    assert response.status_code == 303
    assert count(db, RoutingRule) == 0


def test_admin_moves_a_rule_up(cast: Any, browser_for: Any, db: Any, clock: Any) -> None:
    first, second = make(db, cast, clock, name="First"), make(db, cast, clock, name="Second")
    response = browser_for(cast.admin.id).form(
        f"/admin/routing/{second.id}/move", {"direction": "up"}
    )
    assert response.status_code == 303
    assert [r.id for r in service.list_rules(db)] == [second.id, first.id]


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"name": ""}, ["Name: is required"]),
        ({"kinds": ["tip", "spaceship"]}, ["Report kinds: unknown report kind 'spaceship'"]),
        ({"priorities": ["P0"]}, ["Priorities: unknown priority 'P0'"]),
        ({"agency_id": ""}, ["Owning agency: is required"]),
        ({"agency_id": "99999"}, ["Owning agency: no such agency (id 99999)"]),
        (
            {"team_id": "99998", "jurisdiction_id": "99997"},
            [
                "Is in the jurisdiction: no such jurisdiction (id 99997)",
                "Owning team: no such team (id 99998)",
            ],
        ),
    ],
)
def test_bad_rule_form_names_the_field_keeps_input_and_stores_nothing(
    cast: Any, browser_for: Any, db: Any, fields: dict[str, Any], errors: list[str]
) -> None:
    events_before = count(db, AuditEvent)
    response = browser_for(cast.admin.id).form("/admin/routing/new", rule_form(cast, **fields))
    assert response.status_code == 422
    shown = [html.unescape(e) for e in field_errors(response.text)]
    for error in errors:
        assert any(e.startswith(error) for e in shown), shown
    assert 'id="error-summary"' in response.text
    assert 'value="lincoln"' in response.text  # what was typed is still there
    assert count(db, RoutingRule) == 0
    assert count(db, AuditEvent) == events_before


def test_tester_shows_the_matching_rule_and_why_earlier_ones_did_not(
    cast: Any, browser_for: Any, db: Any, clock: Any
) -> None:
    make(db, cast, clock, name="SARs to C", kinds=["sar"], agency_id=cast.agency_c.id)
    make(
        db,
        cast,
        clock,
        name="Lincoln USD schools",
        school_contains="lincoln",
        team_id=cast.team.id,
        info_agency_ids=[cast.agency_c.id],
    )
    events_before = count(db, AuditEvent)
    response = browser_for(cast.admin.id).form(
        "/admin/routing/test",
        {
            "kind": "tip",
            "jurisdiction_id": str(cast.jurisdiction.id),
            "from_agency_id": str(cast.agency_a.id),
            "school": "Lincoln High",
            "employer": "",
            "priority": "",
        },
    )
    assert response.status_code == 200
    page = response.text
    assert text_of(page, "matched-rule") == "Matched rule: Lincoln USD schools"
    assert text_of(page, "route-owner") == f"{cast.agency_b.name}, {cast.team.name}"
    assert text_of(page, "route-info") == cast.agency_c.name
    assert "the subject&#39;s school contains &#34;lincoln&#34;" in text_of(page, "route-reason")
    assert "Kind is Tip, rule wants Suspicious activity report." in page
    assert 'value="Lincoln High"' in page  # the sample stays in the form
    assert count(db, AuditEvent) == events_before  # trying writes nothing


def test_tester_falls_back_and_names_bad_sample_fields(cast: Any, browser_for: Any) -> None:
    client = browser_for(cast.admin.id)
    sample = {
        "kind": "sar",
        "jurisdiction_id": str(cast.jurisdiction.id),
        "from_agency_id": str(cast.agency_a.id),
    }
    response = client.form("/admin/routing/test", sample)
    assert response.status_code == 200
    assert text_of(response.text, "matched-rule") == "No rule matched"
    assert text_of(response.text, "route-owner") == cast.agency_a.name

    response = client.form(
        "/admin/routing/test",
        {**sample, "kind": "spaceship", "from_agency_id": "99999", "priority": "P5"},
    )
    assert response.status_code == 422
    shown = field_errors(response.text)
    assert any(e.startswith("Report kind: unknown report kind") for e in shown), shown
    assert any(e.startswith("Priority: unknown priority") for e in shown), shown
    assert 'id="routing-result"' not in response.text


@pytest.mark.parametrize("who", ["analyst_a", "lead_a", "member_b", "oversight", "auditor"])
def test_non_admins_get_403(cast: Any, browser_for: Any, db: Any, clock: Any, who: str) -> None:
    rule = make(db, cast, clock)
    client = browser_for(cast.user(who).id)
    assert 'href="/admin/routing"' not in client.get("/home").text
    for path in ("/admin/routing", "/admin/routing/new", f"/admin/routing/{rule.id}"):
        assert client.get(path).status_code == 403, path
    for path, data in (
        ("/admin/routing/new", rule_form(cast)),
        (f"/admin/routing/{rule.id}", rule_form(cast)),
        (f"/admin/routing/{rule.id}/move", {"direction": "up"}),
        (f"/admin/routing/{rule.id}/delete", {}),
        ("/admin/routing/test", {"kind": "tip"}),
    ):
        assert client.form(path, data).status_code == 403, path
    assert count(db, RoutingRule) == 1


def test_an_unknown_rule_is_404_for_an_admin(cast: Any, browser_for: Any) -> None:
    assert browser_for(cast.admin.id).get("/admin/routing/99999").status_code == 404
