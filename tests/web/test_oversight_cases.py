"""The oversight summary page shows the case figures, never a case or a person."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from defchain.clock import FrozenClock
from tests.cases.test_oversight import closed_case_about, new_report_about
from tests.conftest import Cast


def test_the_oversight_page_shows_the_figures_and_no_case(
    db: Session, cast: Cast, clock: FrozenClock, browser_for: Any
) -> None:
    new_report_about(db, cast, clock, closed_case_about(db, cast, clock, "Robin Sample"))
    page = browser_for(cast.oversight.id).get("/oversight").text
    assert "Cases re-opened by new information, last 30 days" in page
    assert 'id="cases-reopened">1<' in page
    assert 'id="cases-overdue-tasks">0<' in page and 'id="cases-missed-checkins">0<' in page
    assert "Robin Sample" not in page and "About Robin" not in page
