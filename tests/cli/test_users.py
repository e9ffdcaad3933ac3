"""``defchain user add|passwd|disable|enable|mfa-reset``."""

from __future__ import annotations

import pytest
from click.testing import Result
from sqlalchemy import select, update

from defchain.access import User
from defchain.access.security import verify_password
from defchain.audit import AuditEvent
from tests.cli.conftest import Seeded

NEW_PASSWORD = "violet-harbor-engine-17"


def _user(seeded: Seeded, username: str) -> User:
    with seeded.cli.session() as session:
        return session.scalars(select(User).where(User.username == username)).one()


def _add(seeded: Seeded, username: str, extra: str = "", password: str = NEW_PASSWORD) -> Result:
    """``user add`` with a valid profile at agency 1 (the police department) plus ``extra``."""
    return seeded.cli.sh(
        f"user add '{username}' --name 'Jamie Rivera' --agency 1 --role team_member {extra} "
        "--password-stdin",
        input=password + "\n",
    )


def test_user_add_creates_an_audited_account(seeded: Seeded) -> None:
    result = _add(
        seeded, "jrivera", "--role intake_analyst --clearance cji --email jrivera@example.org"
    )

    assert result.exit_code == 0, result.output
    user = _user(seeded, "jrivera")
    assert user.roles == ["intake_analyst", "team_member"]
    assert user.clearances == ["cji"]
    assert verify_password(NEW_PASSWORD, user.password_hash)
    with seeded.cli.session() as session:
        event = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.tag == "access:user:created")
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        ).one()
    assert event.subject_id == str(user.id)
    assert event.actor_label.startswith("cli:")


def test_user_add_prompts_for_the_password_twice(seeded: Seeded) -> None:
    result = seeded.cli.sh(
        "user add jrivera --name 'Jamie Rivera' --agency 1 --role team_member",
        input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n",
    )

    assert result.exit_code == 0, result.output
    assert verify_password(NEW_PASSWORD, _user(seeded, "jrivera").password_hash)


@pytest.mark.parametrize(
    ("username", "extra", "password", "field"),
    [
        ("Not Valid!", "", NEW_PASSWORD, "username"),
        ("jrivera", "--email not-an-address", NEW_PASSWORD, "email"),
        ("jrivera", "", "short", "password"),
        ("demo.admin", "", NEW_PASSWORD, "username"),  # already taken
    ],
)
def test_user_add_with_bad_input_names_the_field_and_writes_nothing(
    seeded: Seeded, username: str, extra: str, password: str, field: str
) -> None:
    users_before = seeded.cli.count(User)
    events_before = seeded.cli.count(AuditEvent)

    result = _add(seeded, username, extra, password=password)

    assert result.exit_code == 2
    assert f"{field}" in result.output
    assert "Error" in result.output
    assert seeded.cli.count(User) == users_before
    assert seeded.cli.count(AuditEvent) == events_before


def test_user_add_to_an_unknown_agency_is_refused(seeded: Seeded) -> None:
    result = seeded.cli.sh(
        "user add jrivera --name 'Jamie Rivera' --agency 'No Such Agency' --role team_member "
        "--password-stdin",
        input=NEW_PASSWORD + "\n",
    )

    assert result.exit_code == 2
    assert "agency" in result.output
    assert seeded.cli.count(User) == 7


def test_user_add_with_an_unknown_role_is_a_usage_error(seeded: Seeded) -> None:
    result = _add(seeded, "jrivera", "--role wizard")

    assert result.exit_code == 2
    assert "--role" in result.output
    assert seeded.cli.count(User) == 7


def test_user_disable_and_enable(seeded: Seeded) -> None:
    disabled = seeded.cli.run("user", "disable", "demo.member")

    assert disabled.exit_code == 0, disabled.output
    assert _user(seeded, "demo.member").disabled is True
    assert _user(seeded, "demo.lead").disabled is False

    enabled = seeded.cli.run("user", "enable", "DEMO.MEMBER")

    assert enabled.exit_code == 0, enabled.output
    assert _user(seeded, "demo.member").disabled is False
    with seeded.cli.session() as session:
        tags = session.scalars(select(AuditEvent.tag).order_by(AuditEvent.seq)).all()
    assert tags[-2:] == ["access:user:disabled", "access:user:enabled"]


def test_user_disable_of_an_unknown_user_is_refused(seeded: Seeded) -> None:
    result = seeded.cli.run("user", "disable", "nobody")

    assert result.exit_code == 2
    assert "nobody" in result.output


def test_user_passwd_sets_a_new_password(seeded: Seeded) -> None:
    old = seeded.passwords["demo.analyst"]

    result = seeded.cli.run(
        "user", "passwd", "demo.analyst", "--password-stdin", input=NEW_PASSWORD + "\n"
    )

    assert result.exit_code == 0, result.output
    stored = _user(seeded, "demo.analyst").password_hash
    assert verify_password(NEW_PASSWORD, stored)
    assert not verify_password(old, stored)


def test_user_passwd_refuses_a_weak_password(seeded: Seeded) -> None:
    result = seeded.cli.run("user", "passwd", "demo.analyst", input="aaaaaaaaaaaaaa\n" * 2)

    assert result.exit_code == 2
    assert "password" in result.output
    assert verify_password(
        seeded.passwords["demo.analyst"], _user(seeded, "demo.analyst").password_hash
    )


def test_user_mfa_reset_removes_the_authenticator(seeded: Seeded) -> None:
    with seeded.cli.session() as session, session.begin():
        session.execute(
            update(User)
            .where(User.username == "demo.lead")
            .values(mfa_enabled=True, mfa_secret="JBSWY3DPEHPK3PXP", mfa_last_step=5)
        )

    result = seeded.cli.run("user", "mfa-reset", "demo.lead")

    assert result.exit_code == 0, result.output
    user = _user(seeded, "demo.lead")
    assert (user.mfa_enabled, user.mfa_secret, user.mfa_last_step) == (False, None, 0)
