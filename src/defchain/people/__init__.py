"""People: one person across every channel (public API of the people domain)."""

from defchain.people import policy
from defchain.people.models import (
    BlockingKey,
    Identifier,
    MergeProposal,
    Person,
    PersonChange,
    ReportLink,
    ReviewItem,
)

policy.register()

__all__ = [
    "BlockingKey",
    "Identifier",
    "MergeProposal",
    "Person",
    "PersonChange",
    "ReportLink",
    "ReviewItem",
]
