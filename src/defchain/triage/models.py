"""Triage records: suggestions, decisions, routing rules, hand-offs, deadline overrides,
surge clusters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from defchain.db import Base, UTCDateTime


class TriageSuggestion(Base):
    """What the rules suggested for a report, and why. Kept even when a person overrides
    it; a re-evaluation (new facts about the person) adds a row, the newest counts."""

    __tablename__ = "triage_suggestions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    priority: Mapped[str | None] = mapped_column(String(2), default=None)  # None: no rule fired
    needs_person: Mapped[bool] = mapped_column(Boolean, default=False)
    fired: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    unknown: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    route_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), default=None)
    route_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), default=None)
    route_rule_id: Mapped[int | None] = mapped_column(ForeignKey("routing_rules.id"), default=None)
    route_reason: Mapped[str] = mapped_column(String(500), default="")
    info_agency_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TriageDecision(Base):
    """A person's decision: the priority (accepting or overriding the suggestion), who and
    why. An override needs a reason; the newest decision counts."""

    __tablename__ = "triage_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    suggestion_id: Mapped[int | None] = mapped_column(
        ForeignKey("triage_suggestions.id"), default=None
    )
    priority: Mapped[str] = mapped_column(String(2))
    overridden: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(String(1000), default="")
    decided_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    cluster_id: Mapped[int | None] = mapped_column(ForeignKey("triage_clusters.id"), default=None)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RoutingRule(Base):
    """Data an administrator edits: when a report matches, this agency (and team) owns it.

    Rules are tried in ``position`` order; the first active match wins. Every condition
    left empty matches anything. ``info_agency_ids`` get an info-only copy, which is not
    ownership.
    """

    __tablename__ = "routing_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=100)
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    jurisdiction_id: Mapped[int | None] = mapped_column(
        ForeignKey("jurisdictions.id"), default=None
    )
    kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    priorities: Mapped[list[str]] = mapped_column(JSON, default=list)
    school_contains: Mapped[str] = mapped_column(String(200), default="")
    employer_contains: Mapped[str] = mapped_column(String(200), default="")
    from_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), default=None)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), default=None)
    info_agency_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class HandOff(Base):
    """A report handed to another agency (``owner``), which must acknowledge it by
    ``due_at``, or copied to one for information (``info``), which asks nothing of it."""

    __tablename__ = "triage_handoffs"
    __table_args__ = (Index("ix_triage_handoffs_to_open", "to_agency_id", "acknowledged_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # owner, info
    from_agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    to_agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    to_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), default=None)
    reason: Mapped[str] = mapped_column(String(1000), default="")
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_by: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    acknowledged_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id"), default=None
    )


class DeadlineOverride(Base):
    """A jurisdiction's own deadlines, over the shipped defaults:
    ``{"P2": {"assessed": "12h"}}`` (validated by ``deadlines.parse_overrides``)."""

    __tablename__ = "triage_deadline_overrides"

    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdictions.id"), primary_key=True)
    overrides: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)


class Cluster(Base):
    """Near-duplicate reports grouped so an analyst triages 400 tips as one row."""

    __tablename__ = "triage_clusters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(String(300), default="")
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    first_report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"))
    size: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_at: Mapped[datetime] = mapped_column(UTCDateTime())
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("triage_clusters.id"), default=None
    )


class ClusterMember(Base):
    """A report in a cluster, and why it joined (same person, same place and time, or
    similar text, with the report it resembled)."""

    __tablename__ = "triage_cluster_members"

    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), primary_key=True)
    cluster_id: Mapped[int] = mapped_column(ForeignKey("triage_clusters.id"), index=True)
    reason: Mapped[str] = mapped_column(String(20), default="first")  # first, person, place, text
    other_report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"), default=None)
    score: Mapped[float | None] = mapped_column(Float, default=None)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReportKey(Base):
    """The latest report found under a key, per agency: LSH band keys of a report's text
    (``text:…``), its place (``place:…``) and its person (``person:…``). One row per key,
    replaced by each newer report, so a near-duplicate finds its cluster with one lookup
    per key however large the surge (the clusters chain the rest)."""

    __tablename__ = "triage_report_keys"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)  # "<agency>|<kind>:<value>"
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReportSignature(Base):
    """The MinHash signature of a report's text, to estimate similarity with candidates."""

    __tablename__ = "triage_report_signatures"

    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), primary_key=True)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
