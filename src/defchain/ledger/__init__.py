"""The chain ledger: every link a report or case must pass, its deadline, and its breaks."""

from defchain.ledger.models import ChainAlert, ChainLink
from defchain.ledger.service import (
    LINK_LABELS,
    LINKS,
    alerts_sent,
    breaks_query,
    complete,
    complete_open,
    find,
    is_break,
    links_for,
    open_link,
)

__all__ = [
    "LINKS",
    "LINK_LABELS",
    "ChainAlert",
    "ChainLink",
    "alerts_sent",
    "breaks_query",
    "complete",
    "complete_open",
    "find",
    "is_break",
    "links_for",
    "open_link",
]
