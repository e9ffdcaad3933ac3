"""Cases: who a threat assessment team is working on, the reports behind it, its tasks
and its notes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
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
    # The most serious level any assessment of the case ever reached: a case that was
    # once high or imminent needs two sign-offs and a monitoring plan to close.
    peak_level: Mapped[str | None] = mapped_column(String(20), default=None)
    next_review_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # A chronic case carries a long-term plan and never closes by itself.
    chronic: Mapped[bool] = mapped_column(Boolean, default=False)
    plan_outcome: Mapped[str] = mapped_column(Text, default="")
    plan_outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # A documented transfer to another team or agency (closure without a low assessment).
    transfer_note: Mapped[str] = mapped_column(Text, default="")
    # Raised by the tripwire when the jurisdiction flags instead of re-opening.
    flagged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # Each re-opening starts a new cycle: sign-offs count only in the current one.
    cycle: Mapped[int] = mapped_column(Integer, default=1)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
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
        # A report belongs to one case at most: two people (or two concurrent requests)
        # opening a case from the same report get one case.
        Index("ix_case_reports_report", "report_id", unique=True),
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


class CaseChange(Base):
    """A change a person (or the tripwire) made to the case itself: its status, its lead,
    a flag. Kept for the timeline; every one is also an audit event."""

    __tablename__ = "case_changes"
    __table_args__ = (Index("ix_case_changes_case", "case_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[str] = mapped_column(String(20))  # status, lead, flag, plan, transfer
    old: Mapped[str] = mapped_column(String(200), default="")
    new: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    # None: the system (the tripwire, the sweep).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"), default=None)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class CaseSignOff(Base):
    """A team member's sign-off that the case may close, in the case's current cycle."""

    __tablename__ = "case_signoffs"
    __table_args__ = (
        UniqueConstraint("case_id", "cycle", "user_id", name="uq_case_signoffs_person"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    cycle: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    as_lead: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class CheckIn(Base):
    """A scheduled monitoring contact (e.g. 30, 90 and 180 days after closure). A check-in
    past due and not done is a break in the chain."""

    __tablename__ = "case_checkins"
    __table_args__ = (Index("ix_case_checkins_case", "case_id", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    owner_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(12), default="scheduled")  # done, cancelled
    outcome: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    done_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)


class CarePlanItem(Base):
    """One item of a chronic case's long-term plan, with the agency responsible for it
    and a recurring review that has no end date (e.g. "follow-up appointment made?" after
    a 72-hour hold)."""

    __tablename__ = "case_care_items"
    __table_args__ = (Index("ix_case_care_items_case", "case_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[str] = mapped_column(String(40))  # rules.CareItemKind
    title: Mapped[str] = mapped_column(String(200))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    answer: Mapped[str] = mapped_column(String(20), default="unknown")  # yes, no, unknown
    note: Mapped[str] = mapped_column(Text, default="")
    review_every_days: Mapped[int] = mapped_column(Integer, default=30)
    next_review_at: Mapped[datetime] = mapped_column(UTCDateTime())
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)


class CaseSettings(Base):
    """A jurisdiction's case policy: the review cadence per level of concern (days) and
    what the tripwire does (re-open the case, or only flag it)."""

    __tablename__ = "case_settings"

    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdictions.id"), primary_key=True)
    review_days: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    tripwire: Mapped[str] = mapped_column(String(10), default="reopen")  # reopen, flag
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)


class Meeting(Base):
    """A team meeting: its agenda is generated (cases due for review, overdue tasks, new
    reports on open or monitored cases); the team records one decision per case."""

    __tablename__ = "case_meetings"
    __table_args__ = (Index("ix_case_meetings_team", "team_id", "held_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    held_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attendees: Mapped[str] = mapped_column(Text, default="")
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MeetingItem(Base):
    """One case on a meeting's agenda, why it is there, and the team's decision."""

    __tablename__ = "case_meeting_items"
    __table_args__ = (UniqueConstraint("meeting_id", "case_id", name="uq_case_meeting_items_case"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("case_meetings.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    decision: Mapped[str] = mapped_column(Text, default="")
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class Disclosure(Base):
    """Something that left the system about a case: an exported summary (PDF or print
    view), who took it, for whom and why. Also an audit event."""

    __tablename__ = "case_disclosures"
    __table_args__ = (Index("ix_case_disclosures_case", "case_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    form: Mapped[str] = mapped_column(String(10))  # pdf, print
    recipient: Mapped[str] = mapped_column(String(300))
    purpose: Mapped[str] = mapped_column(Text)
    labels_included: Mapped[list[str]] = mapped_column(JSON, default=list)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
