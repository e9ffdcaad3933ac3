"""Append-only, hash-chained audit events (public API of the audit domain)."""

from defchain.audit.models import AuditEvent
from defchain.audit.queries import count_events, recent_events
from defchain.audit.rules import ChainProblem
from defchain.audit.service import (
    Entry,
    Recorded,
    VerifyResult,
    diff,
    lock_chain,
    record,
    record_by,
    record_many,
    verify,
)

__all__ = [
    "AuditEvent",
    "ChainProblem",
    "Entry",
    "Recorded",
    "VerifyResult",
    "count_events",
    "diff",
    "lock_chain",
    "recent_events",
    "record",
    "record_by",
    "record_many",
    "verify",
]
