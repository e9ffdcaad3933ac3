"""Cases: who a threat assessment team is working on, the reports behind it, its tasks
and its notes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from defchain.db import Base, UTCDateTime


class Case(Base):
    """One matter a team works from first report to closure.

    The owning agency is the creator's; ``team_id`` (optional) shares it with a team.
    There is always exactly one lead. ``status`` is a ``rules.CaseStatus``;
    ``level_of_concern`` and ``pathway_stage`` are the latest assessment's findings.
    The title is short and needs no names (it shows in lists).
    """

    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_agency_created", "agency_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True, default=None)
    lead_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    level_of_concern: Mapped[str | None] = mapped_column(String(20), default=None)
    pathway_stage: Mapped[str | None] = mapped_column(String(40), default=None)
    last_assessed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # None: opened by the system (the command line, a later automation).
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)


class CaseSubject(Base):
    """A person the case is about (a case may have several; a person several cases)."""

    __tablename__ = "case_subjects"
    __table_args__ = (
        UniqueConstraint("case_id", "person_id", name="uq_case_subjects_case_person"),
        Index("ix_case_subjects_person", "person_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())
    added_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)


class CaseReport(Base):
    """A report the case grew from or that was added to it later."""

    __tablename__ = "case_reports"
    __table_args__ = (
        UniqueConstraint("case_id", "report_id", name="uq_case_reports_case_report"),
        Index("ix_case_reports_report", "report_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())
    added_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)


class CaseTask(Base):
    """Something one person must do by a date: an interview, a referral, a safety plan.

    ``kind`` is a ``rules.TaskKind``; ``status`` a ``rules.TaskStatus``. ``origin`` says
    what asked for it when that was not a person, e.g. ``gap:DC-TA-1:weapons_access``
    for an assessment's information gap, so the asker finds its own tasks again.
    """

    __tablename__ = "case_tasks"
    __table_args__ = (Index("ix_case_tasks_case_origin", "case_id", "origin"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    owner_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(12), default="open")
    outcome: Mapped[str] = mapped_column(Text, default="")
    origin: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    done_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)


class CaseNote(Base):
    """An entry in the case's record. Append-only: a correction is a new note.

    ``labels`` (``access.Label`` values) work as on a report: a labelled note is shown
    only to users cleared for every label; ``label_set`` is the same list as
    ``,cji,health,`` so lists filter clearances in SQL.
    """

    __tablename__ = "case_notes"
    __table_args__ = (Index("ix_case_notes_case", "case_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    body: Mapped[str] = mapped_column(Text)
    labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    label_set: Mapped[str] = mapped_column(String(100), default=",")
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
