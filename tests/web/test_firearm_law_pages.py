"""The firearm-law pages: the table with every unverified cell marked and the banner, the
edit form (errors name the field; a reason is required), the history, and the case
panel's context."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from defchain import cases, reference
from defchain.audit import AuditEvent
from defchain.clock import FrozenClock
from defchain.reference import FirearmLaw
from defchain.web.routes.firearm_laws import BANNER, case_options_context
from defchain.web.templating import templates
from tests.conftest import Cast
from tests.web.conftest import field_errors

MARK = "unverified — check before relying on it"


@pytest.fixture
def laws(db: Session, clock: FrozenClock) -> dict[str, FirearmLaw]:
    reference.seed(db, clock.now())
    return {law.state: law for law in db.scalars(select(FirearmLaw))}


def form_of(law: FirearmLaw, **changes: Any) -> dict[str, Any]:
    """What the edit form posts for ``law`` as stored, with ``changes``."""
    data: dict[str, Any] = {name: getattr(law, name) for name in reference.rules.TEXT_FIELDS}
    data["as_of"] = law.as_of.isoformat() if law.as_of else ""
    data["petitioner_kinds"] = list(law.petitioner_kinds)
    data["verified"] = [f for f, ok in law.verified.items() if ok]
    data.update(changes)
    return data


def test_staff_see_a_states_laws_with_every_unverified_cell_marked(
    cast: Cast, browser_for: Any, laws: dict[str, FirearmLaw]
) -> None:
    client = browser_for(cast.member_b.id)

    page = client.get("/reference/firearm-laws?state=dc")

    assert page.status_code == 200
    assert BANNER in page.text
    dc = laws["DC"]
    for name in reference.VERIFIABLE_FIELDS:  # nothing in DC's row is verified
        assert f'id="law-{dc.id}-{name}-unverified">{MARK}<' in page.text
    assert page.text.count(f">{MARK}<") == 5
    assert f"/reference/firearm-laws/{dc.id}/edit" not in page.text  # not an editor
    assert "reviewed by local counsel" in page.text

    ca = client.get("/reference/firearm-laws?state=CA").text
    assert ca.count(f">{MARK}<") == 2  # standard of proof and citation only


def test_the_table_opens_on_the_actors_own_state(
    cast: Cast, browser_for: Any, laws: dict[str, FirearmLaw]
) -> None:
    page = browser_for(cast.analyst_a.id).get("/reference/firearm-laws")
    assert page.status_code == 200
    assert "No laws are recorded for OH" in page.text
    assert BANNER in page.text
    assert 'href="/reference/firearm-laws"' in page.text  # in the navigation


def test_an_administrator_edits_with_a_reason_and_the_history_shows_it(
    cast: Cast, browser_for: Any, db: Session, laws: dict[str, FirearmLaw]
) -> None:
    client = browser_for(cast.admin.id)
    md = laws["MD"]
    assert client.get(f"/reference/firearm-laws/{md.id}/edit").status_code == 200

    form = form_of(
        md, citation="Md. Code, Public Safety § 5-601", verified=["petitioners", "citation"],
        reason="Checked the code and the court's form",
    )  # fmt: skip
    saved = client.form(f"/reference/firearm-laws/{md.id}/edit", form)

    assert saved.status_code == 303
    assert saved.headers["location"].startswith(f"/reference/firearm-laws?state=MD&saved={md.id}")
    db.refresh(md)
    assert md.citation == "Md. Code, Public Safety § 5-601"
    assert md.verified["citation"] is True and md.verified["ex_parte"] is False
    (event,) = db.scalars(
        select(AuditEvent).where(AuditEvent.tag == "reference:firearm_law:updated")
    ).all()
    assert event.changes["citation"] == ["", "Md. Code, Public Safety § 5-601"]
    assert event.changes["verified.petitioners"] == [False, True]
    history = client.get(f"/reference/firearm-laws/{md.id}/history")
    assert history.status_code == 200
    assert "Checked the code and the court&#39;s form" in history.text
    assert "Verified: Statute citation" in history.text
    table = client.get(saved.headers["location"]).text
    assert table.count(f">{MARK}<") == 3  # ex parte, final order, standard of proof


def test_a_refused_edit_names_each_field_and_keeps_nothing(
    cast: Cast, browser_for: Any, db: Session, laws: dict[str, FirearmLaw]
) -> None:
    client = browser_for(cast.admin.id)
    nj = laws["NJ"]
    form = form_of(nj, source_url="www.example.gov", as_of="2099-01-01", reason="")

    refused = client.form(f"/reference/firearm-laws/{nj.id}/edit", form)

    assert refused.status_code == 422
    assert field_errors(refused.text) == [
        "Source URL: must be an http:// or https:// address",
        "As of: must not be in the future",
        "Reason for the change: is required: say what you checked or why it changed",
    ]
    assert 'value="www.example.gov"' in refused.text  # what was typed stays
    db.refresh(nj)
    assert nj.source_url.startswith("https://everytownresearch.org/")
    assert reference.history(db, nj) == []


def test_only_administrators_reach_the_edit_form(
    cast: Cast, browser_for: Any, laws: dict[str, FirearmLaw]
) -> None:
    ca = laws["CA"]
    lead = browser_for(cast.lead_a.id)
    assert lead.get(f"/reference/firearm-laws/{ca.id}/edit").status_code == 403
    form = form_of(ca, citation="x", reason="Trying")
    assert lead.form(f"/reference/firearm-laws/{ca.id}/edit", form).status_code == 403
    assert lead.get(f"/reference/firearm-laws/{ca.id}/history").status_code == 200
    admin = browser_for(cast.admin.id)
    assert admin.get("/reference/firearm-laws/999999/edit").status_code == 404
    assert admin.get("/reference/firearm-laws/999999/history").status_code == 404


def test_the_case_panel_lists_the_options_and_the_teams_petitioners(
    cast: Cast, db: Session, clock: FrozenClock, laws: dict[str, FirearmLaw]
) -> None:
    lead = cast.actor("lead_a")
    case = cases.open_case(db, lead, title="Threats", team_id=cast.team.id, now=clock.now())
    cast.jurisdiction.state = "NY"  # team T: police (A) and a school district (B)
    db.flush()

    context = case_options_context(db, lead, case)

    (option,) = context["firearm_options"]
    assert option.team_petitioners == ["Agency A Police Department", "Agency B School District"]
    html = templates.get_template("reference/_case_options.html").render(**context)
    assert "Who on the team may petition: Agency A Police Department, Agency B School" in html
    assert html.count(MARK) == 2  # NY's ex parte and final order
    assert case_options_context(db, cast.actor("oversight"), case)["firearm_options"] is None
