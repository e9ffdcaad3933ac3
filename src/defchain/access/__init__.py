"""Agencies, teams, users, roles, labels and the access policy (public API)."""

from defchain.access import auth, queries, service
from defchain.access.models import (
    Agency,
    Grant,
    Jurisdiction,
    Team,
    TeamMembership,
    User,
    UserSession,
)
from defchain.access.policy import Actor, can, load_for, register_resource, require, visible
from defchain.access.rules import (
    AGENCY_KIND_LABELS,
    LABEL_DESCRIPTIONS,
    ROLE_LABELS,
    ROLE_PERMISSIONS,
    AgencyKind,
    Label,
    Permission,
    Role,
)

__all__ = [
    "AGENCY_KIND_LABELS",
    "LABEL_DESCRIPTIONS",
    "ROLE_LABELS",
    "ROLE_PERMISSIONS",
    "Actor",
    "Agency",
    "AgencyKind",
    "Grant",
    "Jurisdiction",
    "Label",
    "Permission",
    "Role",
    "Team",
    "TeamMembership",
    "User",
    "UserSession",
    "auth",
    "can",
    "load_for",
    "queries",
    "register_resource",
    "require",
    "service",
    "visible",
]
