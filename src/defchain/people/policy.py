"""Who may open which person, registered with the access policy.

The registry is shared across agencies so that signals from different agencies meet:
anyone holding ``people:person:read`` may open any person. What the page shows is
filtered (``people.queries``): identifiers carrying a label the actor is not cleared for
are withheld, and only the linked reports the actor may see are listed.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, true

from defchain.access import Actor, Permission, register_resource
from defchain.people.models import Person

P = Permission


def person_scope(actor: Actor, permission: Permission, person: Person) -> bool:
    """Every holder of the permission: the registry is shared (content is filtered)."""
    return True


def person_visible(actor: Actor, permission: Permission) -> ColumnElement[bool]:
    """The list twin of ``person_scope`` (``visible()`` has already checked the role)."""
    return true()


def register() -> None:
    """Put persons under ``can()``, ``visible()`` and ``load_for(kind="person")``."""
    register_resource(
        "person",
        Person,
        read_permission=P.PEOPLE_PERSON_READ,
        scope=person_scope,
        visible_rule=person_visible,
        list_permissions=frozenset({P.PEOPLE_PERSON_READ, P.PEOPLE_PERSON_UPDATE}),
    )
