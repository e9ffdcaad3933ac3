"""Fixtures for the JSON API: an integration with its token, and a cookie-less client.

Import them into a test module (``from tests.web.api_fixtures import api, integration``)
together with the ``app`` fixture chain of ``tests/web/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from defchain.access import Actor
from defchain.audit import AuditEvent
from defchain.clock import FrozenClock
from defchain.intake import Integration, Report, service

# A denial received yesterday (the test clock stands at 2026-01-05 09:00 UTC).
DENIAL: dict[str, Any] = {
    "kind": "nics_denial",
    "details": {
        "denied_at": "2026-01-04T15:30:00Z",
        "transaction_number": "NTN-2026-000123",
        "denial_category": "protection_order",
        "purchaser": {"name": "Pat Example", "date_of_birth": "1990-02-03"},
        "dealer": {"name": "Example Sporting Goods"},
        "agencies_notified": ["ATF field office"],
    },
}
TIP: dict[str, Any] = {
    "kind": "tip",
    "narrative": "A classmate posted that he will 'finish it' at the assembly Friday.",
    "subject": {"name": "Alex Example", "school": "Example High School"},
    "details": {"weapons": "yes"},
}


@dataclass
class Linked:
    """An integration of agency A and its token."""

    integration: Integration
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def add_integration(db: Session, clock: FrozenClock, *, name: str, agency_id: int) -> Linked:
    """A new active integration whose reports go to ``agency_id``, flushed."""
    found, token = service.create_integration(
        db, actor=Actor.system("test"), name=name, agency_id=agency_id, now=clock.now()
    )
    db.flush()
    return Linked(found, token)


@pytest.fixture
def integration(db: Session, cast: Any, clock: FrozenClock) -> Linked:
    """An active integration whose reports go to agency A."""
    return add_integration(db, clock, name="County Tip Line", agency_id=cast.agency_a.id)


@pytest.fixture
def api(app: FastAPI) -> Iterator[TestClient]:
    """A client with no cookies at all, as another system would be."""
    with TestClient(app, base_url="http://testserver") as client:
        yield client


def counts(db: Session) -> tuple[int, int]:
    """(reports, audit events) as the test's session sees them now."""
    reports = db.scalar(select(func.count()).select_from(Report)) or 0
    events = db.scalar(select(func.count()).select_from(AuditEvent)) or 0
    return int(reports), int(events)
