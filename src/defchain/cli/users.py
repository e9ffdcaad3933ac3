"""``defchain user ...``: staff accounts from the command line (as an audited operator)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from defchain.access import ROLE_LABELS, Label, Role, service
from defchain.access.schemas import UserIn
from defchain.cli import lookups
from defchain.cli.common import (
    console,
    operator_actor,
    read_password,
    refusing_bad_input,
    transaction,
)
from defchain.clock import SystemClock

app = typer.Typer(help="Staff accounts.", no_args_is_help=True)

# Schema field -> the flag or argument that fills it, so errors say what to retype.
USER_FLAGS = {
    "username": "USERNAME",
    "full_name": "--name",
    "email": "--email",
    "agency_id": "--agency",
    "roles": "--role",
    "clearances": "--clearance",
}

Username = Annotated[str, typer.Argument(metavar="USERNAME", help="The account's username.")]
PasswordStdin = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the password from one line of standard input."),
]


@app.command("add")
def add(
    username: Annotated[str, typer.Argument(metavar="USERNAME", help="Sign-in name, e.g. jdoe.")],
    full_name: Annotated[str, typer.Option("--name", help="Full name.")],
    agency: Annotated[str, typer.Option(help="Agency name or id.")],
    role: Annotated[list[Role], typer.Option(help="Role (repeat for several).")],
    clearance: Annotated[
        list[Label] | None, typer.Option(help="Label the user may read (repeatable).")
    ] = None,
    email: Annotated[str, typer.Option(help="E-mail address.")] = "",
    password_stdin: PasswordStdin = False,
) -> None:
    """Add a staff account; asks for its first password twice."""
    password = read_password(from_stdin=password_stdin)
    now = SystemClock().now()
    with refusing_bad_input(USER_FLAGS), transaction() as session:
        found = lookups.agency(session, agency)
        data = UserIn(
            username=username,
            full_name=full_name,
            email=email,
            agency_id=found.id,
            roles=list(role),
            clearances=list(clearance or []),
        )
        user = service.create_user(
            session, actor=operator_actor(), data=data, password=password, now=now
        )
        summary = (
            f"Added [bold]{user.username}[/bold] ({escape(user.full_name)}) at "
            f"{escape(found.name)}: " + ", ".join(ROLE_LABELS[Role(r)] for r in user.roles) + "."
        )
    console.print(summary)


@app.command("passwd")
def passwd(
    username: Username,
    password_stdin: PasswordStdin = False,
) -> None:
    """Set a new password for USERNAME; their open sessions end."""
    password = read_password(from_stdin=password_stdin, prompt="New password")
    now = SystemClock().now()
    with refusing_bad_input(), transaction() as session:
        user = lookups.user(session, username)
        service.set_password(session, actor=operator_actor(), user=user, password=password, now=now)
    console.print(f"Password of [bold]{user.username}[/bold] changed; their sessions ended.")


@app.command("disable")
def disable(username: Username) -> None:
    """Disable USERNAME and sign them out everywhere."""
    _set_disabled(username, disabled=True)


@app.command("enable")
def enable(username: Username) -> None:
    """Re-enable a disabled account."""
    _set_disabled(username, disabled=False)


def _set_disabled(username: str, *, disabled: bool) -> None:
    now = SystemClock().now()
    with refusing_bad_input(), transaction() as session:
        user = lookups.user(session, username)
        service.set_disabled(session, actor=operator_actor(), user=user, disabled=disabled, now=now)
    state = "disabled" if disabled else "enabled"
    console.print(f"Account [bold]{user.username}[/bold] is {state}.")


@app.command("mfa-reset")
def mfa_reset(username: Username) -> None:
    """Remove USERNAME's authenticator; they enrol a new one at next sign-in."""
    now = SystemClock().now()
    with refusing_bad_input(), transaction() as session:
        user = lookups.user(session, username)
        service.reset_mfa(session, actor=operator_actor(), user=user, now=now)
    console.print(
        f"Authenticator of [bold]{user.username}[/bold] removed; "
        "they enrol a new one at next sign-in."
    )
