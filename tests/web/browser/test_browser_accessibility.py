"""axe-core on every page of the app, as the role that uses it.

The list of GET routes comes from the application itself: a new page that this test
does not visit fails the test, so no page can skip the accessibility check. Each page
is also saved as a PNG under test-artifacts/screenshots/ for people to look at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from starlette.routing import compile_path

from tests.web.browser.test_browser_assessment import check_assessment_pages
from tests.web.browser.test_browser_case_guardrails import check_guardrail_pages
from tests.web.browser.test_browser_case_records import check_records_pages
from tests.web.browser.test_browser_cases import check_case_pages
from tests.web.browser.test_browser_firearm_laws import check_law_pages
from tests.web.browser.test_browser_firearms import check_firearm_pages
from tests.web.browser.test_browser_people import check_people_pages
from tests.web.browser.test_browser_triage import check_triage_pages

pytestmark = pytest.mark.browser

# GET routes that are not pages: health check, redirect, API schema.
NOT_PAGES = {"/healthz", "/", "/api/openapi.json", "/signout"}
# Downloads (Content-Disposition: attachment), not pages.
NOT_PAGES |= {"/reports/{report_id}/attachments/{attachment_id}"}
NOT_PAGES |= {"/meetings/{meeting_id}/export.csv", "/meetings/{meeting_id}/export.md"}
BLOCKING_IMPACTS = {"serious", "critical"}


def get_page_routes(app: Any) -> dict[str, re.Pattern[str]]:
    """Every GET route of the app that renders a page: path template -> regex."""
    try:
        from fastapi.routing import iter_route_contexts  # FastAPI >= 0.160: nested routers

        routes: list[Any] = list(iter_route_contexts(app.routes))
    except ImportError:  # older FastAPI flattens included routers into app.routes
        routes = list(app.routes)
    pages: dict[str, re.Pattern[str]] = {}
    for route in routes:
        path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        if not path or not methods or "GET" not in methods:
            continue  # mounts (static files) and POST-only routes
        # The JSON API under /api/ has no pages (it is tested in tests/web/test_api.py).
        if path in NOT_PAGES or path.startswith(("/static", "/api/")):
            continue
        pages[path] = compile_path(path)[0]
    return pages


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "root"


@dataclass
class Audit:
    """Runs axe on pages, keeps screenshots, remembers which routes were covered."""

    routes: dict[str, re.Pattern[str]]
    shots: Path
    axe: Axe = field(default_factory=Axe)
    covered: set[str] = field(default_factory=set)
    blocking: list[str] = field(default_factory=list)
    report: list[str] = field(default_factory=list)
    count: int = 0

    def check(self, page: Any, who: str, what: str, *, counts_for_route: bool = True) -> None:
        """Audit the page as it is now.

        ``counts_for_route``: a plain GET of the route that answered normally (a 404
        page or a form re-shown after POST does not prove the route's own page passes).
        """
        page.wait_for_load_state("load")
        self.count += 1
        path = urlsplit(page.url).path
        if counts_for_route:
            matched = [p for p, rx in self.routes.items() if rx.match(path)]
            assert matched, f"{page.url} matches no GET page route"
            self.covered.update(matched)
        name = f"{self.count:02d}-{_slug(who)}-{_slug(what)}.png"
        page.screenshot(path=str(self.shots / name), full_page=True)
        results = self.axe.run(page).response
        for v in results.get("incomplete", []):
            target = v["nodes"][0]["target"] if v["nodes"] else "?"
            self.report.append(
                f"[needs review] {who} {what}: {v['id']}: {v['help']} - first {target}"
            )
        for v in results["violations"]:
            target = v["nodes"][0]["target"] if v["nodes"] else "?"
            line = (
                f"[{v['impact']}] {who} {what} ({page.url}): {v['id']}: {v['help']} "
                f"- {len(v['nodes'])} node(s), first {target}"
            )
            self.report.append(line)
            if v["impact"] in BLOCKING_IMPACTS:
                self.blocking.append(line)
        title = page.title()
        assert title.endswith("· Defense Chain"), f"{page.url}: unexpected title {title!r}"


def _goto(page: Any, path: str, expect: int = 200) -> None:
    response = page.goto(path)
    assert response is not None, path
    assert response.status == expect, f"GET {path}: {response.status}, expected {expect}"


def check_report_pages(page: Any, audit: Audit, live: Any) -> None:
    """The inbox, each staff form (empty and with errors), a report with its tipster
    thread, the import page with a rejected row, and notifications."""
    from tests.web.browser.test_browser_reports import CSV, _public_tip, tipster_says

    report_id, _ = _public_tip(live, "a passphrase for axe")
    tipster_says(live, report_id, "One more thing I remember.")  # an unread notification
    for path, what in (
        ("/reports", "inbox"),
        ("/reports?kind=tip&q=pep", "inbox filtered"),
        ("/reports/new", "choose a report kind"),
        *((f"/reports/new/{kind}", f"new {kind}") for kind in (
            "tip", "sar", "nics_denial", "purchase_attempt", "wellness_check", "referral",
            "direct_threat",
        )),
        ("/reports/import", "import reports"),
        ("/notifications", "notifications"),
    ):  # fmt: skip
        _goto(page, path)
        audit.check(page, "analyst", what)
    _goto(page, f"/reports/{report_id}")
    page.get_by_label("Reply to the tipster").fill("Thank you for telling us.")
    page.get_by_role("button", name="Send reply").click()
    page.wait_for_load_state()
    audit.check(page, "analyst", "report with thread")
    _goto(page, "/reports/new/wellness_check")
    page.locator("#report-form").evaluate("f => { f.noValidate = true; }")
    page.get_by_role("button", name="Save report").click()
    page.wait_for_load_state()
    assert page.locator("#error-summary").is_visible()
    audit.check(page, "analyst", "wellness check with errors", counts_for_route=False)
    _goto(page, "/reports/import")
    page.get_by_label("Kind of report").select_option("tip")
    page.get_by_label("File").set_input_files(
        {"name": "tips.csv", "mimeType": "text/csv", "buffer": CSV.encode()}
    )
    page.get_by_role("button", name="Import").click()
    page.wait_for_load_state()
    assert page.locator("#rejected-rows").is_visible()
    audit.check(page, "analyst", "import with a rejected row", counts_for_route=False)


def check_public_pages(page: Any, audit: Audit) -> None:
    """The tip page, its errors, the tip code page, follow-up (form and thread) and the
    warning signs, in English and Spanish, as a member of the public."""
    for lang in ("en", "es"):
        _goto(page, f"/report?lang={lang}")
        audit.check(page, "public", f"report a concern ({lang})")
        page.locator("form.dc-report-form").evaluate("f => { f.noValidate = true; }")
        page.locator("button[type=submit]").click()
        page.wait_for_load_state()
        assert page.locator("#error-summary").is_visible()
        audit.check(page, "public", f"report with errors ({lang})", counts_for_route=False)
        page.locator("label[for=danger_now-yes]").click()
        page.locator("#narrative").fill("He said he would bring a gun on Friday.")
        page.locator("button[type=submit]").click()
        page.wait_for_load_state()
        code = page.locator("#tip-code").inner_text().strip()
        audit.check(page, "public", f"report sent, tip code ({lang})", counts_for_route=False)
        page.locator("#passphrase").fill("a passphrase for axe")
        page.locator("#passphrase_again").fill("a passphrase for axe")
        page.locator("form[action='/report/passphrase'] button").click()
        page.wait_for_load_state()
        audit.check(page, "public", f"passphrase saved ({lang})", counts_for_route=False)
        _goto(page, "/report/followup")
        audit.check(page, "public", f"follow-up form ({lang})")
        page.locator("#tip_code").fill(code)
        page.locator("#passphrase").fill("a passphrase for axe")
        page.locator("form[action='/report/followup'] button").click()
        page.wait_for_load_state()
        assert page.locator(".dc-status").is_visible()
        audit.check(page, "public", f"follow-up thread ({lang})")
        reply = page.locator("form[action='/report/followup/message']")
        reply.evaluate("f => { f.noValidate = true; }")
        reply.locator("button").click()
        page.wait_for_load_state()
        assert page.locator("#error-summary").is_visible()
        what = f"follow-up reply with errors ({lang})"
        audit.check(page, "public", what, counts_for_route=False)
        _goto(page, "/warning-signs")
        audit.check(page, "public", f"warning signs ({lang})")
        page.context.clear_cookies()


def check_routing_pages(page: Any, audit: Audit, ids: dict[str, int]) -> None:
    """Routing rules as an administrator: the list, the empty and the refused form, a
    saved rule's form, and the tester's answer."""
    _goto(page, "/admin/routing")
    audit.check(page, "admin", "routing rules (none yet)")
    _goto(page, "/admin/routing/new")
    audit.check(page, "admin", "new routing rule")
    page.locator("main form.usa-form").evaluate("f => { f.noValidate = true; }")
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    assert page.locator("#error-summary").is_visible()
    audit.check(page, "admin", "new routing rule with errors", counts_for_route=False)
    page.get_by_label("Name").fill("Lincoln schools")
    page.locator("label[for=kinds-tip]").click()  # USWDS keeps the box itself off-screen
    page.get_by_label("School contains").fill("lincoln")
    page.locator("#agency_id").select_option(str(ids["agency_B"]))
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    rule_id = int(page.url.split("saved=")[1].split("#")[0])
    audit.check(page, "admin", "routing rules")
    _goto(page, f"/admin/routing/{rule_id}")
    audit.check(page, "admin", "edit routing rule")
    _goto(page, "/admin/routing")
    tester = page.locator("form[action='/admin/routing/test']")
    tester.locator("#kind").select_option("tip")
    tester.locator("#jurisdiction_id").select_option(str(ids["jurisdiction"]))
    tester.locator("#from_agency_id").select_option(str(ids["agency_A"]))
    tester.locator("#school").fill("Lincoln High")
    tester.get_by_role("button", name="Try").click()
    page.wait_for_load_state()
    assert "Lincoln schools" in page.locator("#matched-rule").inner_text()
    audit.check(page, "admin", "routing tester result", counts_for_route=False)


def test_every_page_passes_axe_for_the_role_that_uses_it(
    browser, live, screenshot_dir, public_intake
):
    audit = Audit(routes=get_page_routes(live.app), shots=screenshot_dir)
    assert {"/home", "/signin", "/teams/{team_id}"} <= set(audit.routes), audit.routes
    contexts: list[Any] = []

    def new_page() -> Any:
        ctx = browser.new_context(base_url=live.base_url, viewport={"width": 1280, "height": 900})
        ctx.set_default_timeout(10_000)
        contexts.append(ctx)
        return ctx.new_page()

    def signed_in(username: str) -> Any:
        page = new_page()
        live.sign_in(page, username)
        return page

    ids = live.ids
    try:
        # --- signed out ---------------------------------------------------------------
        page = new_page()
        _goto(page, "/signin")
        audit.check(page, "anonymous", "sign-in")
        _goto(page, "/signin?expired=idle")
        audit.check(page, "anonymous", "sign-in after idle timeout")
        page.locator("form.usa-form").evaluate("f => { f.noValidate = true; }")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
        assert page.locator("#error-summary").is_visible()
        audit.check(page, "anonymous", "sign-in with errors", counts_for_route=False)
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
        assert "not correct" in page.get_by_role("alert").first.inner_text()
        audit.check(page, "anonymous", "sign-in failed", counts_for_route=False)
        check_public_pages(new_page(), audit)

        # --- half signed in: second factor and enrolment ------------------------------
        admin = new_page()
        live.password_step(admin, "admin")
        assert admin.url == live.url("/signin/mfa")
        audit.check(admin, "admin", "verification code")
        admin.get_by_label("6-digit code").fill(
            "000000" if live.code("admin") != "000000" else "111111"
        )
        admin.get_by_role("button", name="Verify").click()
        admin.wait_for_load_state()
        assert admin.locator("#code-error").is_visible()
        audit.check(admin, "admin", "verification code wrong", counts_for_route=False)
        live.mfa_step(admin, "admin")
        assert admin.url == live.url("/home")

        newbie = new_page()
        live.password_step(newbie, "newbie")
        assert newbie.url == live.url("/mfa/enroll")
        audit.check(newbie, "newbie", "enrol authenticator")
        newbie.get_by_label("6-digit code").fill("12")
        newbie.get_by_role("button", name="Turn on two-step verification").click()
        newbie.wait_for_load_state()
        assert newbie.locator("#error-summary").is_visible()
        audit.check(newbie, "newbie", "enrol authenticator with errors", counts_for_route=False)

        # --- administrator --------------------------------------------------------------
        admin_pages = [
            ("/home", "home"),
            ("/teams", "teams"),
            (f"/teams/{ids['team']}", "team (manage)"),
            (f"/agencies/{ids['agency_A']}", "agency"),
            ("/account", "account"),
            ("/admin/jurisdictions", "jurisdictions"),
            ("/admin/jurisdictions/new", "new jurisdiction"),
            (f"/admin/jurisdictions/{ids['jurisdiction']}/edit", "edit jurisdiction"),
            ("/admin/agencies", "agencies"),
            ("/admin/agencies/new", "new agency"),
            (f"/admin/agencies/{ids['agency_B']}/edit", "edit agency"),
            ("/admin/users", "users"),
            ("/admin/users/new", "new user"),
            (f"/admin/users/{ids['user_lead']}/edit", "edit user"),
            ("/admin/teams/new", "new team"),
            ("/audit", "audit log"),
            ("/oversight", "oversight"),
        ]
        for path, what in admin_pages:
            _goto(admin, path)
            audit.check(admin, "admin", what)

        _goto(admin, "/teams/999999", expect=404)
        assert admin.get_by_role("heading", level=1).inner_text() == "Not found"
        audit.check(admin, "admin", "404 page", counts_for_route=False)

        # Forms re-shown with validation errors (nothing typed: server-side errors).
        for path, what in (
            ("/admin/agencies/new", "new agency with errors"),
            ("/admin/users/new", "new user with errors"),
            ("/admin/jurisdictions/new", "new jurisdiction with errors"),
        ):
            _goto(admin, path)
            admin.locator("main form.usa-form").evaluate("f => { f.noValidate = true; }")
            admin.get_by_role("button", name="Save").click()
            admin.wait_for_load_state()
            assert admin.locator("#error-summary").is_visible(), what
            audit.check(admin, "admin", what, counts_for_route=False)
        check_routing_pages(admin, audit, ids)
        check_guardrail_pages(admin, audit, live)
        check_law_pages(admin, audit, live)
        check_firearm_pages(admin, audit, live)
        _goto(admin, f"/teams/{ids['team']}")
        admin.locator("main form.usa-form").evaluate("f => { f.noValidate = true; }")
        admin.get_by_role("button", name="Add to team").click()
        admin.wait_for_load_state()
        assert admin.locator("#user_id-error").is_visible()
        audit.check(admin, "admin", "team add member with errors", counts_for_route=False)

        # --- staff report pages (intake analyst) -------------------------------------------
        check_report_pages(signed_in("analyst"), audit, live)
        check_people_pages(signed_in("analyst"), audit, live)
        check_triage_pages(signed_in("analyst"), audit, live, admin)
        check_case_pages(signed_in("analyst"), audit, live)
        check_assessment_pages(signed_in("lead"), audit, live)
        check_records_pages(signed_in("member"), audit, live)

        # --- every other role: home and what its navigation offers ------------------------
        for username, paths in (
            ("analyst", ["/home", "/teams", f"/teams/{ids['team']}", "/account"]),
            ("lead", ["/home", f"/teams/{ids['team']}"]),
            ("member", ["/home", f"/agencies/{ids['agency_B']}", f"/teams/{ids['team']}"]),
            ("oversight", ["/home", "/oversight", "/account"]),
            ("auditor", ["/home", "/audit"]),
        ):
            page = signed_in(username)
            for path in paths:
                _goto(page, path)
                audit.check(page, username, path)
            if username == "auditor":
                page.get_by_role("button", name="Verify the chain").click()
                page.wait_for_load_state()
                assert "Chain intact" in page.locator("#verify-result").inner_text()
                audit.check(page, username, "audit verified", counts_for_route=False)

        # Control: the same machinery does catch a violation (an unlabelled input).
        page.evaluate(
            "document.querySelector('main').insertAdjacentHTML("
            "'beforeend', '<input type=\"text\" id=\"axe-control\">')"
        )
        control = Audit(routes=audit.routes, shots=screenshot_dir, axe=audit.axe, count=audit.count)
        control.check(page, "control", "unlabelled input", counts_for_route=False)
        assert any(": label:" in line for line in control.blocking), control.report
    finally:
        for ctx in contexts:
            ctx.close()

    print("\n".join(audit.report) or "axe: no violations at all")
    missing = sorted(set(audit.routes) - audit.covered)
    problems = []
    if missing:
        problems.append(
            "GET pages never checked by axe (add them to this test): " + ", ".join(missing)
        )
    if audit.blocking:
        problems.append(
            "serious or critical accessibility violations:\n  " + "\n  ".join(audit.blocking)
        )
    assert not problems, "\n".join(problems)
    assert audit.count >= 40
