"""The JSON API: Bearer tokens, acknowledgement after commit, and every kind of bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session
from starlette.types import Message, Receive, Scope, Send

from defchain.access import Actor
from defchain.audit import AuditEvent
from defchain.errors import ValidationFailed
from defchain.intake import Report, service
from defchain.intake.schemas import parse_report
from tests.web.api_fixtures import (
    DENIAL,
    TIP,
    Linked,
    add_integration,
    api,
    counts,
    integration,
)
from tests.web.conftest import CSRF_SEED, TOKEN

__all__ = ["api", "integration"]  # fixtures used by name below

URL = "/api/v1/reports"


def post(api: TestClient, linked: Linked, payload: Any) -> Any:
    # json.dumps escapes non-ASCII, so even a lone surrogate travels as "\ud800".
    headers = {**linked.headers, "Content-Type": "application/json"}
    return api.post(URL, content=json.dumps(payload).encode(), headers=headers)


# --- the happy path ---------------------------------------------------------------------


def test_a_report_is_stored_audited_and_acknowledged(
    api: TestClient, integration: Linked, db: Session, cast: Any, clock: Any
) -> None:
    response = post(api, integration, {**DENIAL, "channel": "web"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "kind", "received_at", "status_url"}
    assert body["kind"] == "nics_denial"
    assert body["status_url"] == f"/api/v1/reports/{body['id']}"
    report = db.get(Report, body["id"])
    assert report is not None
    assert (report.channel, report.agency_id) == ("api", cast.agency_a.id)
    assert report.integration_id == integration.integration.id
    assert report.tip_code is None  # "channel": "web" in the body does not make it public
    assert report.labels == ["cji"]
    assert report.subject["name"] == "Pat Example"
    events = db.scalars(
        select(AuditEvent).where(
            AuditEvent.tag == "intake:report:received", AuditEvent.subject_id == str(report.id)
        )
    ).all()
    assert len(events) == 1
    assert events[0].actor_label.startswith("integration:County Tip Line")
    db.refresh(integration.integration)
    assert integration.integration.last_used_at == clock.now()


def test_the_acknowledgement_is_sent_only_after_the_commit(
    app: FastAPI, integration: Linked
) -> None:
    order: list[str] = []
    event.listen(app.state.ctx.session_factory, "after_commit", lambda _s: order.append("commit"))

    async def watching(scope: Scope, receive: Receive, send: Send) -> None:
        async def spy(message: Message) -> None:
            if message["type"] == "http.response.start":
                order.append(f"response {message['status']}")
            await send(message)

        await app(scope, receive, spy)

    with TestClient(watching, base_url="http://testserver") as client:
        response = client.post(URL, json=TIP, headers=integration.headers)
    assert response.status_code == 201
    # The savepoints of the group commit count as commits too: all come first.
    assert order[-1] == "response 201"
    assert set(order[:-1]) == {"commit"}


# --- authentication -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer dci_not-a-real-token", "Bearer abc"],
)
def test_without_a_valid_token_the_answer_is_401(
    api: TestClient, integration: Linked, db: Session, authorization: str | None
) -> None:
    before = counts(db)
    headers = {} if authorization is None else {"Authorization": authorization}
    response = api.post(URL, json=TIP, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "authorization" in response.json()["errors"]
    assert counts(db) == before


def test_a_disabled_integration_gets_401(
    api: TestClient, integration: Linked, db: Session, clock: Any
) -> None:
    service.set_integration_active(
        db,
        actor=Actor.system("test"),
        integration=integration.integration,
        active=False,
        now=clock.now(),
    )
    db.flush()
    before = counts(db)
    assert post(api, integration, TIP).status_code == 401
    assert api.get(f"{URL}/1", headers=integration.headers).status_code == 401
    assert counts(db) == before


def test_a_signed_in_browser_cannot_use_the_api(
    browser_for: Any, cast: Any, db: Session, integration: Linked
) -> None:
    client = browser_for(cast.admin.id)  # session cookie and CSRF seed cookie
    before = counts(db)
    as_json = client.post(URL, json=TIP, headers={"x-csrf-token": TOKEN})
    as_form = client.form(URL, {"kind": "tip", "narrative": "posted as a form"})
    for response in (as_json, as_form):
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert client.get(f"{URL}/1").status_code == 401
    assert counts(db) == before
    assert CSRF_SEED in client.cookies.values()


# --- bad bodies ---------------------------------------------------------------------------


def raw_post(api: TestClient, linked: Linked, content: bytes, content_type: str) -> Any:
    return api.post(URL, content=content, headers={**linked.headers, "Content-Type": content_type})


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "", "application/json; charset=latin-1"],
)
def test_a_body_that_is_not_json_gets_415(
    api: TestClient, integration: Linked, db: Session, content_type: str
) -> None:
    before = counts(db)
    response = raw_post(api, integration, json.dumps(TIP).encode(), content_type)
    assert response.status_code == 415
    assert "content-type" in response.json()["errors"]
    assert counts(db) == before


@pytest.mark.parametrize(
    "content",
    [b'{"kind": "tip", "narrative": ', b"{'kind': 'tip'}", b"", b'{"kind": NaN}', b"[" * 5000],
)
def test_malformed_json_gets_400_naming_the_body(
    api: TestClient, integration: Linked, db: Session, content: bytes
) -> None:
    before = counts(db)
    response = raw_post(api, integration, content, "application/json")
    assert response.status_code == 400
    assert response.json()["errors"]["body"].startswith("not valid JSON")
    assert counts(db) == before


def test_a_body_that_is_not_utf8_gets_400(
    api: TestClient, integration: Linked, db: Session
) -> None:
    before = counts(db)
    latin1 = '{"kind": "tip", "narrative": "Café threat"}'.encode("latin-1")
    response = raw_post(api, integration, latin1, "application/json")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "body: must be UTF-8 JSON",
        "errors": {"body": "must be UTF-8 JSON"},
    }
    assert counts(db) == before


def test_an_oversized_body_gets_413_in_json(
    api: TestClient, integration: Linked, db: Session, settings: Any
) -> None:
    before = counts(db)
    payload = {**TIP, "narrative": "x" * (settings.max_body_bytes + 10)}
    declared = post(api, integration, payload)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is counted as it streams
        data = json.dumps(payload).encode()
        for start in range(0, len(data), 65536):
            yield data[start : start + 65536]

    streamed = api.post(
        URL, content=chunks(), headers={**integration.headers, "Content-Type": "application/json"}
    )
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/json"
        assert "body" in response.json()["errors"]
    assert counts(db) == before


NOW = "2026-01-05T09:00:00Z"
FUTURE = "2026-02-01T09:00:00Z"
THREAT = {
    "kind": "direct_threat",
    "details": {
        "recipient": "Example Middle School office",
        "medium": "phone",
        "threat_text": "There will be a bomb in the gym",
        "received_at": NOW,
    },
}


def with_details(base: dict[str, Any], **details: Any) -> dict[str, Any]:
    return {**base, "details": {**base["details"], **details}}


def without_detail(base: dict[str, Any], name: str) -> dict[str, Any]:
    return {**base, "details": {k: v for k, v in base["details"].items() if k != name}}


BAD_REPORTS = [
    ("unknown kind", {**TIP, "kind": "rumour"}, "kind"),
    ("no kind", {k: v for k, v in TIP.items() if k != "kind"}, "kind"),
    ("tip without narrative", {**TIP, "narrative": "  "}, "narrative"),
    (
        "denial without number",
        without_detail(DENIAL, "transaction_number"),
        "details.transaction_number",
    ),
    ("denial in the future", with_details(DENIAL, denied_at=FUTURE), "details.denied_at"),
    ("threat in the future", with_details(THREAT, received_at=FUTURE), "details.received_at"),
    ("bad category", with_details(DENIAL, denial_category="maybe"), "details.denial_category"),
    ("unknown field", {**TIP, "colour": "red"}, "colour"),
    ("unknown detail", with_details(TIP, mood="bad"), "details.mood"),
    ("age out of range", {**TIP, "subject": {"approximate_age": 500}}, "subject.approximate_age"),
    ("no such jurisdiction", {**TIP, "jurisdiction_id": 987654}, "jurisdiction_id"),
    ("huge jurisdiction", {**TIP, "jurisdiction_id": 10**30}, "jurisdiction_id"),
    ("NUL in text", {**TIP, "narrative": "a\u0000b"}, "narrative"),
    ("lone surrogate", {**TIP, "location": "\ud800"}, "location"),
    ("not an object", [TIP], "body"),
    ("unknown label", {**TIP, "labels": ["secret"]}, "labels.0"),
]


@pytest.mark.parametrize(
    ("payload", "field"), [(p, f) for _, p, f in BAD_REPORTS], ids=[n for n, _, _ in BAD_REPORTS]
)
def test_an_invalid_report_gets_422_naming_the_field(
    api: TestClient, integration: Linked, db: Session, payload: Any, field: str
) -> None:
    before = counts(db)
    response = post(api, integration, payload)
    assert response.status_code == 422, response.text
    assert field in response.json()["errors"], response.json()
    assert counts(db) == before


def test_a_failure_after_the_report_was_flushed_leaves_nothing_behind(
    api: TestClient, integration: Linked, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The audit append fails after the report row was written: both must roll back.
    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise ValidationFailed("audit: refused for the test.", field="audit")

    monkeypatch.setattr(service.audit, "record_many", broken)
    before = counts(db)
    response = post(api, integration, TIP)
    assert response.status_code == 422
    assert counts(db) == before


# --- idempotency and status -----------------------------------------------------------------


def test_a_repeated_external_id_returns_the_stored_report(
    api: TestClient, integration: Linked, db: Session, cast: Any, clock: Any
) -> None:
    payload = {**DENIAL, "external_id": "NTN-2026-000123"}
    first = post(api, integration, payload)
    before = counts(db)
    clock.advance(minutes=5)
    again = post(api, integration, payload)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert counts(db) == before
    # The same external id from another integration is another report.
    state_line = add_integration(db, clock, name="State Line", agency_id=cast.agency_b.id)
    other = api.post(URL, json=payload, headers=state_line.headers)
    assert other.status_code == 201
    assert other.json()["id"] != first.json()["id"]


def test_an_empty_external_id_is_no_id(api: TestClient, integration: Linked, db: Session) -> None:
    before = counts(db)
    for external_id in ("", "  ", None):
        assert post(api, integration, {**TIP, "external_id": external_id}).status_code == 201
    assert counts(db)[0] == before[0] + 3


def test_status_shows_only_the_integrations_own_reports(
    api: TestClient, integration: Linked, db: Session, cast: Any, clock: Any
) -> None:
    mine = post(api, integration, TIP).json()
    response = api.get(mine["status_url"], headers=integration.headers)
    assert response.status_code == 200
    assert response.json() == {
        "id": mine["id"],
        "kind": "tip",
        "status": "new",
        "received_at": mine["received_at"],
    }
    staff = service.receive(
        db,
        data=parse_report({**TIP, "channel": "phone"}, now=clock.now()),
        source=service.Source(actor=cast.actor("analyst_a")),
        now=clock.now(),
    )
    state_line = add_integration(db, clock, name="State Line", agency_id=cast.agency_a.id)
    for path in (f"{URL}/{staff.id}", f"{URL}/999999", f"{URL}/{10**30}"):
        response = api.get(path, headers=integration.headers)
        assert response.status_code == 404, path
        assert response.json()["detail"]
    other = api.get(mine["status_url"], headers=state_line.headers)
    assert other.status_code == 404
    bad = api.get(f"{URL}/abc", headers=integration.headers)
    assert bad.status_code == 422
    assert "report_id" in bad.json()["errors"]
    assert api.get(mine["status_url"]).status_code == 401


def test_unknown_api_paths_answer_in_json(api: TestClient, integration: Linked) -> None:
    response = api.get("/api/v1/nothing", headers=integration.headers)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert "set-cookie" not in response.headers


def test_the_api_is_described_in_openapi(api: TestClient) -> None:
    spec = api.get("/api/openapi.json").json()
    post_op = spec["paths"]["/api/v1/reports"]["post"]
    assert {"201", "200", "400", "401", "413", "415", "422"} <= set(post_op["responses"])
    body = post_op["requestBody"]["content"]["application/json"]
    assert "nics_denial" in body["examples"]
    assert "details" in body["schema"]["properties"]
    assert "IntegrationToken" in spec["components"]["securitySchemes"]
    get_op = spec["paths"]["/api/v1/reports/{report_id}"]["get"]
    assert get_op["security"] == [{"IntegrationToken": []}]
