"""The Content-Security-Policy holds in a real browser: sent, and nothing on our pages breaks it."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

CSP_MARK = "Content Security Policy"


def test_pages_send_a_csp_and_break_none_of_it(page, live):
    console: list[str] = []

    def on_console(msg):
        # Every console message counts: the layout links its favicon, so nothing 404s.
        console.append(f"{msg.type}: {msg.text} ({msg.location.get('url')})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: console.append(f"pageerror: {exc}"))

    response = page.goto("/signin")
    assert response is not None
    csp = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in csp and "style-src 'self'" in csp, csp
    assert "frame-ancestors 'none'" in csp, csp

    live.sign_in(page, "admin")
    for path in ("/home", "/admin/agencies/new", f"/teams/{live.ids['team']}"):
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        assert response.headers.get("content-security-policy") == csp, path
        # The page's own scripts ran under the policy (USWDS and htmx, from 'self'), and
        # uswds-init's loading class came off again once USWDS was present.
        page.wait_for_load_state("load")
        assert page.evaluate("() => window.uswdsPresent === true && !!window.htmx"), path
        assert "usa-js-loading" not in (page.locator("html").get_attribute("class") or "")

    csp_messages = [m for m in console if CSP_MARK in m]
    assert not csp_messages, "\n".join(csp_messages)
    assert not [m for m in console if m.startswith(("error", "pageerror"))], console

    # Control: an inline script, which the policy forbids, is reported on the console.
    page.evaluate("""() => {
        const s = document.createElement('script');
        s.textContent = 'window.__inline_ran = true';
        document.body.appendChild(s);
    }""")
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.__inline_ran === undefined")
    assert any(CSP_MARK in m for m in console), console
