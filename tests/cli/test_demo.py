"""``defchain demo``: the fictitious county, its agencies, team and one user per role."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from defchain.access import Agency, AgencyKind, Jurisdiction, Label, Role, Team, User
from defchain.access.security import verify_password
from defchain.audit import AuditEvent
from defchain.intake import Report, ReportKind, TipMessage
from tests.cli.conftest import Cli, Seeded, demo_passwords


def _hashes(cli: Cli) -> dict[str, str]:
    with cli.session() as session:
        rows = session.execute(select(User.username, User.password_hash)).all()
    return {username: password_hash for username, password_hash in rows}


def test_demo_seeds_three_obviously_fictitious_agencies(seeded: Seeded) -> None:
    with seeded.cli.session() as session:
        agencies = session.scalars(select(Agency)).all()
        jurisdictions = session.scalars(select(Jurisdiction)).all()

    assert {a.kind for a in agencies} == {
        AgencyKind.POLICE,
        AgencyKind.SCHOOL_DISTRICT,
        AgencyKind.BEHAVIORAL_HEALTH,
    }
    assert len(agencies) == 3
    assert all(a.name.endswith("(demo)") for a in agencies)
    assert [j.name.endswith("(fictitious demo)") for j in jurisdictions] == [True]


def test_demo_team_has_members_from_all_three_agencies_and_one_lead(seeded: Seeded) -> None:
    with seeded.cli.session() as session:
        teams = session.scalars(select(Team)).all()
        assert len(teams) == 1
        memberships = teams[0].memberships
        member_agencies = {m.user.agency_id for m in memberships}
        leads = [m.user.username for m in memberships if m.is_lead]
        agency_ids = set(session.scalars(select(Agency.id)).all())

    assert member_agencies == agency_ids
    assert leads == ["demo.lead"]


def test_demo_creates_one_user_per_role_with_sensible_clearances(seeded: Seeded) -> None:
    with seeded.cli.session() as session:
        users = {u.username: u for u in session.scalars(select(User)).all()}

    assert len(users) == len(Role) == 7
    assert sorted(role for u in users.values() for role in u.roles) == sorted(Role)
    assert set(users["demo.lead"].clearances) == set(Label)
    assert users["demo.member"].clearances == [Label.EDUCATION]
    assert users["demo.admin"].clearances == []


def test_demo_prints_each_password_once_and_each_one_signs_in(seeded: Seeded) -> None:
    assert len(seeded.passwords) == 7
    for password in seeded.passwords.values():
        assert seeded.output.count(password) == 1
    hashes = _hashes(seeded.cli)
    for username, password in seeded.passwords.items():
        assert verify_password(password, hashes[username]), username
        assert not verify_password(password + "x", hashes[username])
    assert "These passwords are shown once" in seeded.output
    assert "http://127.0.0.1:8000" in seeded.output


def _user_id(seeded: Seeded, username: str) -> int:
    with seeded.cli.session() as session:
        return session.scalars(select(User.id).where(User.username == username)).one()


def test_demo_is_written_through_audited_services(seeded: Seeded) -> None:
    with seeded.cli.session() as session:
        events = session.scalars(select(AuditEvent)).all()

    tags = [e.tag for e in events]
    assert tags.count("access:user:created") == 7
    assert tags.count("access:agency:created") == 3
    # After receipt every report goes through the same flow as on the server, whose
    # audit events name the pipeline ("triage") as the actor.
    flow = {e.tag for e in events if e.actor_label == "triage (#0)"}
    assert "triage:report:suggested" in flow and "people:report:linked" in flow
    # The demo case is opened and assessed by its team lead, as a person would.
    casework_tags = ("cases:", "assessment:", "people:person:firearm_access", "firearms:erpo:")
    casework_tags += ("firearms:prohibition:",)
    casework = {e.actor_label for e in events if e.tag.startswith(casework_tags)}
    assert casework == {f"demo.lead (#{_user_id(seeded, 'demo.lead')})"}
    # A linked denial or purchase attempt starts its follow-up (the firearms system).
    followups = {e.actor_label for e in events if e.tag == "firearms:followup:started"}
    assert followups == {"firearms"}
    flows = ("triage (#0)", "firearms")
    setup = [
        e
        for e in events
        if not e.tag.startswith(("intake:", *casework_tags)) and e.actor_label not in flows
    ]
    assert {e.actor_label for e in setup} == {"cli:demo (#0)"}
    # The demo reports are entered by the demo staff and through the public tip page.
    entered_by = {e.actor_label.split(" ")[0] for e in events if e.tag.startswith("intake:")}
    assert entered_by == {"public", "demo.analyst", "demo.member", "demo.fusion"}


def test_demo_seeds_about_twenty_reports_of_every_kind_over_thirty_days(seeded: Seeded) -> None:
    with seeded.cli.session() as session:
        reports = session.scalars(select(Report)).all()
        jurisdiction = session.scalars(select(Jurisdiction)).one()
        police = session.scalars(select(Agency).where(Agency.kind == AgencyKind.POLICE)).one()
        threads = session.scalars(select(TipMessage)).all()

    assert 18 <= len(reports) <= 25
    assert {r.kind for r in reports} == set(ReportKind)
    newest = max(r.received_at for r in reports)
    assert newest - min(r.received_at for r in reports) <= timedelta(days=30)
    assert jurisdiction.intake_agency_id == police.id
    web = [r for r in reports if r.channel == "web"]
    assert len(web) >= 3 and all(r.tip_code for r in web)
    assert {m.author for m in threads} == {"tipster", "staff"}
    assert "Reports: " in seeded.output


def test_demo_analyst_and_fusion_analyst_can_read_the_denials(seeded: Seeded) -> None:
    with seeded.cli.session() as session:
        users = {u.username: u for u in session.scalars(select(User)).all()}
        denials = session.scalars(select(Report).where(Report.kind == "nics_denial")).all()
    assert denials and all(d.labels == ["cji"] for d in denials)
    for username in ("demo.analyst", "demo.fusion"):
        assert "cji" in users[username].clearances


def test_demo_refuses_a_database_that_already_has_users(seeded: Seeded) -> None:
    cli = seeded.cli
    hashes_before = _hashes(cli)
    events_before = cli.count(AuditEvent)

    result = cli.run("demo")

    assert result.exit_code == 2
    assert "--fresh" in result.output
    assert _hashes(cli) == hashes_before
    assert cli.count(AuditEvent) == events_before


def test_demo_fresh_starts_over_with_the_same_county_and_new_passwords(seeded: Seeded) -> None:
    cli = seeded.cli
    with cli.session() as session:
        county_before = session.scalars(select(Jurisdiction.name)).one()
    cli.engine.dispose()  # let the command delete the file

    result = cli.run("demo", "--fresh")

    assert result.exit_code == 0, result.output
    new_passwords = demo_passwords(result.output)
    assert set(new_passwords) == set(seeded.passwords)
    assert new_passwords != seeded.passwords
    assert cli.count(User) == 7
    with cli.session() as session:
        assert session.scalars(select(Jurisdiction.name)).one() == county_before
        admin_hash = session.scalars(
            select(User.password_hash).where(User.username == "demo.admin")
        ).one()
    assert verify_password(new_passwords["demo.admin"], admin_hash)


def test_demo_fresh_is_refused_on_postgresql(cli: Cli, monkeypatch) -> None:
    monkeypatch.setenv("DEFCHAIN_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")

    result = cli.run("demo", "--fresh")

    assert result.exit_code == 2
    assert "SQLite" in result.output
