"""Append-only, hash-chained audit events (public API of the audit domain)."""

from defchain.audit.models import AuditEvent
from defchain.audit.queries import count_events, recent_events
from defchain.audit.rules import ChainProblem
from defchain.audit.service import Recorded, VerifyResult, diff, record, record_by, verify

__all__ = [
    "AuditEvent",
    "ChainProblem",
    "Recorded",
    "VerifyResult",
    "count_events",
    "diff",
    "recent_events",
    "record",
    "record_by",
    "verify",
]
