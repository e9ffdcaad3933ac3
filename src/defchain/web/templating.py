"""Jinja2 rendering with the layout's shared context: actor, navigation, CSRF."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from defchain import notify
from defchain.access import AGENCY_KIND_LABELS, LABEL_DESCRIPTIONS, ROLE_LABELS, Actor, Permission
from defchain.web import i18n
from defchain.web.deps import mark_rollback
from defchain.web.forms import FIELD_LABELS, error_summary
from defchain.web.security import csrf_token

TEMPLATES_DIR = Path(__file__).parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.globals.update(
    ROLE_LABELS=ROLE_LABELS,
    LABEL_DESCRIPTIONS=LABEL_DESCRIPTIONS,
    AGENCY_KIND_LABELS=AGENCY_KIND_LABELS,
    FIELD_LABELS=FIELD_LABELS,
    error_summary=error_summary,
)
# ``_()`` in templates: English everywhere unless a public page passes its language.
i18n.install(templates.env)


@dataclass(frozen=True)
class NavItem:
    """One link in the header navigation; ``group`` puts it in a drop-down menu."""

    label: str
    href: str
    permission: Permission | None
    group: str = ""


@dataclass(frozen=True)
class NavGroup:
    """A drop-down menu of the header navigation (USWDS submenu)."""

    label: str
    key: str
    items: list[NavItem]


ADMIN = "Administration"  # the drop-down of set-up pages, so the header fits one line
ADMIN_J = Permission.ACCESS_JURISDICTION_WRITE
NAV: list[NavItem] = [
    NavItem("Home", "/home", None),
    NavItem("Reports", "/reports", Permission.INTAKE_REPORT_READ),
    NavItem("Triage", "/triage", Permission.TRIAGE_REPORT_DECIDE),
    NavItem("Cases", "/cases", Permission.CASES_CASE_READ),
    NavItem("Firearms", "/firearms", Permission.INTAKE_REPORT_READ),
    NavItem("New report", "/reports/new", Permission.INTAKE_REPORT_CREATE),
    NavItem("People", "/people/review", Permission.PEOPLE_PERSON_READ),
    NavItem("Teams", "/teams", Permission.ACCESS_TEAM_READ),
    NavItem("Firearm laws", "/reference/firearm-laws", Permission.REFERENCE_LAW_READ),
    NavItem("Jurisdictions", "/admin/jurisdictions", ADMIN_J, ADMIN),
    NavItem("Agencies", "/admin/agencies", Permission.ACCESS_AGENCY_WRITE, ADMIN),
    NavItem("Users", "/admin/users", Permission.ACCESS_USER_WRITE, ADMIN),
    NavItem("Routing", "/admin/routing", Permission.TRIAGE_ROUTING_MANAGE, ADMIN),
    NavItem("Deadlines", "/admin/deadlines", Permission.TRIAGE_ROUTING_MANAGE, ADMIN),
    NavItem("Case settings", "/admin/case-settings", ADMIN_J, ADMIN),
    NavItem("Audit log", "/audit", Permission.AUDIT_EVENT_READ),
    NavItem("Oversight", "/oversight", Permission.OVERSIGHT_SUMMARY_READ),
    NavItem("My account", "/account", Permission.ACCESS_ACCOUNT_MANAGE),
]


def nav_for(actor: Actor | None) -> list[NavItem]:
    """The navigation follows the role: only what the actor may use."""
    if actor is None:
        return []
    return [i for i in NAV if i.permission is None or i.permission in actor.permissions]


def nav_tree(actor: Actor | None) -> list[NavItem | NavGroup]:
    """The navigation as shown: each grouped item inside its drop-down, placed where the
    group's first item would be."""
    shown: list[NavItem | NavGroup] = []
    groups: dict[str, NavGroup] = {}
    for item in nav_for(actor):
        if not item.group:
            shown.append(item)
        elif item.group in groups:
            groups[item.group].items.append(item)
        else:
            groups[item.group] = NavGroup(item.group, f"nav-{len(groups)}", [item])
            shown.append(groups[item.group])
    return shown


def _current_nav(path: str, actor: Actor | None) -> str:
    """The navigation entry this page belongs to: the longest matching link."""
    hrefs = [i.href for i in nav_for(actor) if path == i.href or path.startswith(i.href + "/")]
    return max(hrefs, key=len, default="")


def _unread(request: Request, actor: Actor | None) -> int | None:
    """The header badge's count, read in the request's own session (signed-in only)."""
    db = getattr(request.state, "db", None)
    if actor is None or db is None:
        return None
    return notify.unread_count(db, user_id=actor.user_id)


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """Render a page inside the layout."""
    ctx = request.app.state.ctx
    actor: Actor | None = getattr(request.state, "actor", None)
    seed = getattr(request.state, "csrf_seed", "")
    values: dict[str, Any] = {
        "actor": actor,
        "nav": nav_tree(actor),
        "nav_links": nav_for(actor),  # the same links, flat (the home page's buttons)
        "current_path": request.url.path,
        "csrf_token": csrf_token(ctx.settings.secret_key, seed),
        "demo": ctx.settings.demo,
        "errors": {},
        "values": {},
        "unread_notifications": _unread(request, actor),
        "current_nav": _current_nav(request.url.path, actor),
    }
    values.update(context or {})
    return templates.TemplateResponse(request, template, values, status_code=status_code)


def render_form(
    request: Request, template: str, context: dict[str, Any], errors: dict[str, str]
) -> HTMLResponse:
    """Render a form page; with errors it answers 422 and the unit of work rolls back,
    so a re-shown form never leaves anything half-written."""
    if errors:
        mark_rollback(request)
    return render(request, template, context, status_code=422 if errors else 200)
