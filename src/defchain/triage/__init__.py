"""Triage: priority rules, deadlines, routing, hand-offs, surge clusters."""

from defchain.triage.models import (
    Cluster,
    ClusterMember,
    DeadlineOverride,
    HandOff,
    ReportKey,
    ReportSignature,
    RoutingRule,
    TriageDecision,
    TriageSuggestion,
)

__all__ = [
    "Cluster",
    "ClusterMember",
    "DeadlineOverride",
    "HandOff",
    "ReportKey",
    "ReportSignature",
    "RoutingRule",
    "TriageDecision",
    "TriageSuggestion",
]
