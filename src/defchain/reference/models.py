"""The firearm-law reference table and its change history."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from defchain.db import Base, UTCDateTime


class FirearmLaw(Base):
    """One legal instrument in one state that can separate a dangerous person from firearms.

    Every text field is as unsure as its source: ``verified`` maps a field name to
    whether someone has checked it against the statute. A field missing from the map
    is unverified. Nothing here is legal advice.
    """

    __tablename__ = "firearm_laws"
    __table_args__ = (UniqueConstraint("state", "instrument", "name", name="uq_firearm_laws_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(2), index=True)
    instrument: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(200))
    petitioners: Mapped[str] = mapped_column(Text, default="")
    # Petitioner kinds in rules.PETITIONER_KINDS: which team agencies may petition.
    petitioner_kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    ex_parte: Mapped[str] = mapped_column(Text, default="")
    final_order: Mapped[str] = mapped_column(Text, default="")
    standard_of_proof: Mapped[str] = mapped_column(Text, default="")
    citation: Mapped[str] = mapped_column(Text, default="")
    source_url: Mapped[str] = mapped_column(String(500), default="")
    as_of: Mapped[date | None] = mapped_column(Date, default=None)
    verified: Mapped[dict[str, bool]] = mapped_column(JSON, default=dict)
    guidance_use: Mapped[str] = mapped_column(Text, default="")
    guidance_avoid: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)


class FirearmLawChange(Base):
    """One edit of a FirearmLaw row: which fields changed from what to what, and why."""

    __tablename__ = "firearm_law_changes"
    __table_args__ = (Index("ix_firearm_law_changes_law", "law_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    law_id: Mapped[int] = mapped_column(ForeignKey("firearm_laws.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    # {field: [old, new]}; dates as ISO strings.
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reason: Mapped[str] = mapped_column(Text, default="")
