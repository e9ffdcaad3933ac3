"""People: one person across every channel (public API of the people domain)."""

from defchain.people import policy
from defchain.people.models import (
    BlockingKey,
    FirearmAccess,
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
    "FirearmAccess",
    "Identifier",
    "MergeProposal",
    "Person",
    "PersonChange",
    "ReportLink",
    "ReviewItem",
]
