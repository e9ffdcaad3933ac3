"""The case timeline's assessment entries: ``cases`` cannot import ``assessment``, so
this domain registers its own source with ``cases.timeline``."""

from __future__ import annotations

from sqlalchemy.orm import Session

from defchain.access import Actor
from defchain.assessment import service
from defchain.cases import LEVEL_OF_CONCERN_LABELS, Case, LevelOfConcern, queries
from defchain.cases.timeline import TimelineEntry, register_timeline_source


def _level(value: str) -> str:
    try:
        return LEVEL_OF_CONCERN_LABELS[LevelOfConcern(value)]
    except ValueError:
        return value


def assessment_entries(session: Session, actor: Actor, case: Case) -> list[TimelineEntry]:
    """Each assessment of the case: the instrument, the level concluded and the stage."""
    rows = service.history(session, case)
    names = queries.user_names(session, [a.assessor_user_id for a in rows])
    entries = []
    for row in rows:
        detail = f"Level of concern {_level(row.concluded_level)}, stage {row.stage}"
        if row.concluded_level != row.level:
            detail += f" (the instrument found {_level(row.level)}: {row.conclusion_reason})"
        entries.append(
            TimelineEntry(
                at=row.created_at,
                kind="assessment",
                title=f"Assessed with {row.instrument_id} {row.instrument_version}",
                detail=detail,
                link=f"/cases/{case.id}/assessments/{row.id}",
                actor_name=names.get(row.assessor_user_id, ""),
            )
        )
    return entries


register_timeline_source(assessment_entries)
