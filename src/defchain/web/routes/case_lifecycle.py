"""The case page's guardrails: status, closure gate, lead, plan outcome, sign-offs,
monitoring check-ins, firearm access per subject, chronic cases' long-term plans."""

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
