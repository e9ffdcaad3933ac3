"""Random report-ish JSON through the real API: a 2xx that stored exactly one report, or a
4xx that names a field and stored nothing; never a 5xx."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from defchain.intake import ReportKind
from defchain.intake.schemas import DETAILS, ReportIn, SubjectIn
from tests.web.api_fixtures import DENIAL, TIP, Linked, api, counts, integration
from tests.web.conftest import app, settings

__all__ = ["api", "app", "integration", "settings"]  # fixtures, used by name

NOW = "2026-01-05T08:00:00Z"  # the test clock stands at 09:00 UTC on that day
VALID: dict[str, dict[str, Any]] = {
    "tip": TIP,
    "nics_denial": DENIAL,
    "sar": {
        "kind": "sar",
        "details": {
            "categories": ["TESTSEC", "THREAT"],
            "site": "Example Water Treatment Plant",
            "why_suspicious": "Tried three locked doors and photographed the keypads at night.",
        },
    },
    "purchase_attempt": {
        "kind": "purchase_attempt",
        "details": {
            "attempted_at": NOW,
            "dealer": {"name": "Example Sporting Goods"},
            "sought": "two identical handguns",
            "behavior": "A companion chose the guns and handed over the cash.",
            "straw_indicators": ["companion_pays"],
        },
    },
    "wellness_check": {
        "kind": "wellness_check",
        "details": {
            "officer": "Officer Example",
            "checked_at": NOW,
            "contact_made": True,
            "officer_concern": "moderate",
        },
    },
    "referral": {
        "kind": "referral",
        "details": {
            "organization_type": "school",
            "organization_name": "Example High School",
            "behaviors": "Drew detailed plans of the school with exits marked.",
        },
    },
    "direct_threat": {
        "kind": "direct_threat",
        "details": {
            "recipient": "Example Clinic front desk",
            "medium": "phone",
            "threat_text": "You will all pay on Monday",
            "received_at": NOW,
        },
    },
}
assert set(VALID) == {kind.value for kind in ReportKind}

TRICKY_TEXT = [
    "",
    " ",
    "\x00",
    "\ud800",
    "nul\x00inside",
    "é ü ñ 中文 😀",
    "x" * 250,
    "2026-01-04",
    "yes",
    "TESTSEC",
    "0",
    "-1",
    "NaN",
]
texts = st.one_of(st.text(max_size=40), st.sampled_from(TRICKY_TEXT))
moments = st.datetimes(
    min_value=datetime(1900, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.one_of(st.none(), st.just(UTC)),
).map(lambda moment: moment.isoformat())
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 10**30, 2**63, 2**31]),
    st.floats(allow_nan=False, allow_infinity=False),
    texts,
    moments,
)
values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
TOP_FIELDS = [name for name in ReportIn.model_fields if name != "channel"]
SUBJECT_FIELDS = list(SubjectIn.model_fields)


@st.composite
def reportish(draw: st.DrawFn) -> Any:
    """A valid report of a random kind, then a few random edits; or any JSON at all."""
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        return draw(values)
    kind = draw(st.sampled_from([*VALID, "rumour", "", "TIP", None]))
    body: dict[str, Any] = copy.deepcopy(VALID.get(kind or "tip", TIP))
    if kind is None:
        del body["kind"]
    else:
        body["kind"] = kind
    detail_fields = list(DETAILS[ReportKind(kind)].model_fields) if kind in VALID else ["x"]
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        place = draw(st.sampled_from(["top", "details", "subject", "extra"]))
        if place == "top":
            target, name = body, draw(st.sampled_from(TOP_FIELDS))
        elif place == "details":
            target, name = body.setdefault("details", {}), draw(st.sampled_from(detail_fields))
        elif place == "subject":
            target, name = body.setdefault("subject", {}), draw(st.sampled_from(SUBJECT_FIELDS))
        else:
            target, name = body, draw(texts)
        if not isinstance(target, dict):
            continue
        if draw(st.booleans()):
            target.pop(name, None)
        else:
            target[name] = draw(st.one_of(values, moments))
    if draw(st.booleans()):
        body["external_id"] = draw(st.sampled_from(["ext-1", "ext-2", "", " "]))
    return body


@hypothesis_settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(payload=reportish())
def test_random_reports_are_stored_whole_or_refused_naming_a_field(
    api: TestClient, integration: Linked, db: Session, payload: Any
) -> None:
    before = counts(db)
    response = api.post(
        "/api/v1/reports",
        content=json.dumps(payload).encode(),  # ASCII escapes carry lone surrogates too
        headers={**integration.headers, "Content-Type": "application/json"},
    )
    status = response.status_code
    event(f"HTTP {status}")  # shown by --hypothesis-show-statistics
    assert status < 500, (payload, response.text)
    reports, events = counts(db)
    if status == 201:
        assert (reports, events) == (before[0] + 1, before[1] + 1)
        assert response.json()["kind"] == payload["kind"]
    else:
        assert (reports, events) == before, (payload, response.text)
    if status == 200:
        assert payload.get("external_id")
    elif status != 201:
        assert 400 <= status < 500
        errors = response.json()["errors"]
        assert errors and all(isinstance(field, str) and field for field in errors), errors
