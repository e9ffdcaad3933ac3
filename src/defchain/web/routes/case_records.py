"""The case page's timeline, and the case summary as PDF and print view (each export
audited as a disclosure)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session

from defchain.access import Actor
from defchain.cases import Case

router = APIRouter()


def context(db: Session, actor: Actor, case: Case) -> dict[str, Any]:
    """What this module adds to the case page's template context."""
    return {}
