"""Intake: reports from every channel, tipster follow-up (public API of the domain)."""

from defchain.intake import policy, queries, service
from defchain.intake.models import Attachment, Integration, Report, TipMessage
from defchain.intake.rules import (
    CHANNEL_LABELS,
    KIND_LABELS,
    PUBLIC_STATUS,
    Channel,
    ReportKind,
    Status,
)
from defchain.intake.schemas import ReportIn, ReportInvalid, parse_report

policy.register()

__all__ = [
    "CHANNEL_LABELS",
    "KIND_LABELS",
    "PUBLIC_STATUS",
    "Attachment",
    "Channel",
    "Integration",
    "Report",
    "ReportIn",
    "ReportInvalid",
    "ReportKind",
    "Status",
    "TipMessage",
    "parse_report",
    "policy",
    "queries",
    "service",
]
