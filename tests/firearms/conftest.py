"""NICS denials carry the ``cji`` label: the lead who works them is cleared for it."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from tests.conftest import Cast


@pytest.fixture(autouse=True)
def lead_cleared_for_cji(db: Session, cast: Cast) -> None:
    cast.lead_a.clearances = ["cji"]
    db.flush()
