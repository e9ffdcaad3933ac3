"""The person registry: persons, their identifiers, blocking keys, report links, the review
queue and the merge/split history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from defchain.db import Base, UTCDateTime


class Person(Base):
    """One human being as the registry knows them. A merged person keeps its row and
    points at the person it was merged into; its identifiers and links moved there."""

    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), default=None)

    identifiers: Mapped[list[Identifier]] = relationship(
        back_populates="person", order_by="Identifier.id"
    )


class Identifier(Base):
    """One thing known about a person, traced to where it came from.

    ``kind``: name, nickname, date_of_birth, approximate_age, address, phone, email,
    handle, school, employer. ``value`` is as given; ``normalized`` is what linkage
    compares (``rules``); ``detail`` holds parts (given/surname, grade or role, the year
    an age was given). ``labels`` come from the source (a denial notice is ``cji``).
    """

    __tablename__ = "person_identifiers"
    __table_args__ = (Index("ix_person_identifiers_source", "source_type", "source_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    value: Mapped[str] = mapped_column(String(500))
    normalized: Mapped[str] = mapped_column(String(500))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source_type: Mapped[str] = mapped_column(String(20))  # report, import, manual
    source_id: Mapped[str] = mapped_column(String(100))
    labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    person: Mapped[Person] = relationship(back_populates="identifiers")


class BlockingKey(Base):
    """An index key under which a person is found (``rules.blocking_keys``)."""

    __tablename__ = "person_blocking_keys"
    __table_args__ = (
        UniqueConstraint("key", "person_id", name="uq_person_blocking_keys"),
        Index("ix_person_blocking_keys_person", "person_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(300))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))


class ReportLink(Base):
    """A report's subject is this person: decided by the model or by someone.

    Undoing a link keeps the row (``undone_at``/``undone_by``); a new decision is a new
    row, so the history of who decided what stays whole.
    """

    __tablename__ = "person_report_links"
    __table_args__ = (Index("ix_person_report_links_report", "report_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    decided_by: Mapped[str] = mapped_column(String(20))  # model, person, new
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    probability: Mapped[float | None] = mapped_column(Float, default=None)
    weights: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    undone_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)


class ReviewItem(Base):
    """A report whose subject may be an existing person: a person decides.

    ``candidates`` lists the scored persons (id, probability, per-field levels and
    weights), best first; ``outcome``: open, linked (to ``person_id``), new_person, or
    no_subject (the report names nobody: nothing to link, noted so it is not taken again).
    """

    __tablename__ = "person_review_items"
    __table_args__ = (Index("ix_person_review_items_outcome", "outcome", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    outcome: Mapped[str] = mapped_column(String(20), default="open")
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), default=None)
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MergeProposal(Base):
    """Two persons a batch re-scoring (``people relink``) found likely to be one; a person
    decides (merge, or keep apart). Nothing is merged without that decision."""

    __tablename__ = "person_merge_proposals"
    __table_args__ = (
        UniqueConstraint("person_a_id", "person_b_id", name="uq_person_merge_proposals_pair"),
        Index("ix_person_merge_proposals_outcome", "outcome"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_a_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    person_b_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    probability: Mapped[float] = mapped_column(Float)
    weights: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    outcome: Mapped[str] = mapped_column(String(20), default="open")  # open, merged, distinct
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PersonChange(Base):
    """A merge or a split, with exactly what moved, so that it can be undone.

    ``moved`` = ``{"identifiers": [ids], "links": [ids]}`` moved from ``from_person_id``
    to ``to_person_id``. Undoing records a new change in the opposite direction and sets
    ``undone_by_id`` here.
    """

    __tablename__ = "person_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # merge, split, undo
    from_person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    to_person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    moved: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reason: Mapped[str] = mapped_column(Text)
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    by_label: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    undoes_id: Mapped[int | None] = mapped_column(ForeignKey("person_changes.id"), default=None)
    undone_by_id: Mapped[int | None] = mapped_column(ForeignKey("person_changes.id"), default=None)


class FirearmAccess(Base):
    """What is known about a person's access to firearms, from which source and when.

    A new finding is a new row; the newest counts. ``status`` is one of ``known`` (with
    what is known in ``detail``), ``reported`` (someone says so, unconfirmed),
    ``none_known`` or ``unknown``. A case closes only when each subject has an answer
    other than ``unknown``.
    """

    __tablename__ = "person_firearm_access"
    __table_args__ = (Index("ix_person_firearm_access_person", "person_id", "as_of"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    status: Mapped[str] = mapped_column(String(12))
    detail: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(200))
    as_of: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
