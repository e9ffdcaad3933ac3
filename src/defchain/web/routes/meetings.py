"""Team meetings: the generated agenda, a decision per case, the exportable record."""

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
