"""Assessment records. Immutable: a database trigger refuses UPDATE and DELETE on both
tables (migration 0006), so a reassessment is always a new row and the history a team
reads at a meeting is the history that happened."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from defchain.db import Base, UTCDateTime


class Assessment(Base):
    """One assessor's assessment of a case with one exact instrument version.

    ``level``/``stage`` are what the instrument's rules concluded; ``concluded_level`` is
    what the assessor decided (the same, or different with ``conclusion_reason``): the
    software suggests and explains, people decide. ``result`` keeps the full explanation
    (reasons, gaps, actions, findings) as it was computed, so a later code or instrument
    change never rewrites what the team saw.
    """

    __tablename__ = "assessments"
    __table_args__ = (Index("ix_assessments_case_created", "case_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    instrument_id: Mapped[str] = mapped_column(String(40))
    instrument_version: Mapped[str] = mapped_column(String(20))
    instrument_digest: Mapped[str] = mapped_column(String(64))
    assessor_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    level: Mapped[str] = mapped_column(String(12))
    stage: Mapped[str] = mapped_column(String(24))
    concluded_level: Mapped[str] = mapped_column(String(12))
    conclusion_reason: Mapped[str] = mapped_column(String(2000), default="")
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AssessmentAnswer(Base):
    """One item's answer and the evidence it cites: a report, a case note, or one field
    of a wellness-check report. ``prefilled`` marks an answer that came from a
    wellness-check field and that the assessor confirmed."""

    __tablename__ = "assessment_answers"
    __table_args__ = (Index("ix_assessment_answers_item", "assessment_id", "item_id", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id"))
    item_id: Mapped[str] = mapped_column(String(80))
    value: Mapped[str] = mapped_column(Text)
    evidence_kind: Mapped[str] = mapped_column(String(20), default="")  # report|note|wellness
    evidence_report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"), default=None)
    evidence_note_id: Mapped[int | None] = mapped_column(ForeignKey("case_notes.id"), default=None)
    evidence_field: Mapped[str] = mapped_column(String(60), default="")
    evidence_detail: Mapped[str] = mapped_column(String(500), default="")
    prefilled: Mapped[bool] = mapped_column(Boolean, default=False)
