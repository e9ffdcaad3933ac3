"""The ``defchain`` command: builds the Typer app from one module per domain."""

from __future__ import annotations

import typer

from defchain.cli import (
    agencies,
    assessment,
    audit,
    chain,
    db,
    demo,
    imports,
    integrations,
    jurisdictions,
    people,
    serve,
    users,
)

app = typer.Typer(
    name="defchain",
    help="Defense Chain: follow every threat concern from tip to safe closure.",
    no_args_is_help=True,
    add_completion=False,
    # Tracebacks must never print local variables: they may hold passwords.
    pretty_exceptions_show_locals=False,
)

app.command("init")(db.init)
app.command("demo")(demo.demo)
app.command("serve")(serve.serve)
app.command("import")(imports.import_)
app.command("sweep")(chain.sweep)
app.add_typer(db.app, name="db")
app.add_typer(users.app, name="user")
app.add_typer(jurisdictions.app, name="jurisdiction")
app.add_typer(agencies.app, name="agency")
app.add_typer(audit.app, name="audit")
app.add_typer(integrations.app, name="integration")
app.add_typer(people.app, name="people")
app.add_typer(chain.app, name="triage")
app.add_typer(assessment.app, name="assessment")


if __name__ == "__main__":
    app()
