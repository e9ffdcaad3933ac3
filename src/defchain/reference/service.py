"""The firearm-law table: seeding it from the data file, reading it, editing it.

Every edit is checked (``access:jurisdiction:write``, and outside administrators only in
the actor's own state), validated, kept as a ``FirearmLawChange`` with its reason, and
audited as ``reference:firearm_law:updated`` with ``{field: [old, new]}``, in the
caller's transaction. Services flush, never commit.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from defchain import audit
from defchain.access import Actor, Agency, Jurisdiction, Permission, User, require
from defchain.errors import NotFound, PermissionDenied
from defchain.reference import rules
from defchain.reference.models import FirearmLaw, FirearmLawChange
from defchain.reference.schemas import (
    CaseOption,
    LawChange,
    LawEditInvalid,
    SeedFileInvalid,
    SeedLaw,
)

P = Permission
DATA_FILE = "data/firearm_laws.yaml"
SCHEMA_FILE = "data/firearm_laws.schema.json"
UPDATED_TAG = "reference:firearm_law:updated"


# --- the seed file ------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """YAML where dates stay text (the schema checks them) and a repeated key is an error."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _unique_keys(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_keys)


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(resources.files(__package__).joinpath(SCHEMA_FILE).read_text("utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _where(path: Iterable[str | int]) -> str:
    """``laws[3].as_of`` for a JSON path."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "document"


def parse_seed(text: str) -> list[SeedLaw]:
    """The rows of a seed file, after the JSON schema and the uniqueness check.

    Raises ``SeedFileInvalid`` naming the field (``laws[3].as_of``) and the problem.
    """
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.YAMLError as exc:
        raise SeedFileInvalid(f"document: is not valid YAML: {exc}", field="document") from None
    error = jsonschema.exceptions.best_match(_validator().iter_errors(data))
    if error is not None:
        where = _where(error.absolute_path)
        raise SeedFileInvalid(f"{where}: {error.message}", field=where)
    defaults = data["defaults"]
    rows: list[SeedLaw] = []
    seen: set[tuple[str, str]] = set()
    for index, raw in enumerate(data["laws"]):
        key = (raw["state"], raw["instrument"])
        if key in seen:
            where = f"laws[{index}]"
            raise SeedFileInvalid(f"{where}: a second {key[1]} row for {key[0]}", field=where)
        seen.add(key)
        rows.append(_seed_row(raw, defaults, index))
    return rows


def _seed_row(raw: Mapping[str, Any], defaults: Mapping[str, str], index: int) -> SeedLaw:
    as_of: date | None = None
    if raw["as_of"] is not None:
        try:
            as_of = date.fromisoformat(raw["as_of"])
        except ValueError:
            where = f"laws[{index}].as_of"
            raise SeedFileInvalid(f"{where}: {raw['as_of']!r} is not a date", field=where) from None
    return SeedLaw(
        state=raw["state"],
        instrument=raw["instrument"],
        name=raw["name"],
        petitioners=raw["petitioners"],
        petitioner_kinds=tuple(raw["petitioner_kinds"]),
        ex_parte=raw["ex_parte"],
        final_order=raw["final_order"],
        standard_of_proof=raw.get("standard_of_proof", ""),
        citation=raw.get("citation", ""),
        source_url=raw["source_url"],
        as_of=as_of,
        verified=dict(raw["verified"]),
        guidance_use=raw.get("guidance_use") or defaults["guidance_use"],
        guidance_avoid=raw.get("guidance_avoid") or defaults["guidance_avoid"],
    )


def load_seed(path: Path | None = None) -> list[SeedLaw]:
    """The shipped seed rows (``data/firearm_laws.yaml``), or those of ``path``."""
    if path is not None:
        return parse_seed(path.read_text("utf-8"))
    return parse_seed(resources.files(__package__).joinpath(DATA_FILE).read_text("utf-8"))


def seed(session: Session, now: datetime, rows: Sequence[SeedLaw] | None = None) -> int:
    """Insert the seed rows whose (state, instrument) has no row yet; returns how many.

    Idempotent, and never overwrites: a row an administrator edited stays as edited.
    """
    pairs = session.execute(select(FirearmLaw.state, FirearmLaw.instrument))
    existing = {(state, instrument) for state, instrument in pairs}
    added = 0
    for row in load_seed() if rows is None else rows:
        if (row.state, row.instrument) in existing:
            continue
        session.add(FirearmLaw(**row.columns(), updated_at=now, updated_by_user_id=None))
        existing.add((row.state, row.instrument))
        added += 1
    session.flush()
    return added


# --- reading ------------------------------------------------------------------------------


def laws_for_state(session: Session, state: str) -> list[FirearmLaw]:
    """The rows of one state (``"CA"``), by instrument and name."""
    return list(
        session.scalars(
            select(FirearmLaw)
            .where(FirearmLaw.state == state.strip().upper())
            .order_by(FirearmLaw.instrument, FirearmLaw.name, FirearmLaw.id)
        )
    )


def states(session: Session) -> list[str]:
    """Every state that has at least one row, sorted."""
    return list(session.scalars(select(FirearmLaw.state).distinct().order_by(FirearmLaw.state)))


def get_law(session: Session, law_id: int) -> FirearmLaw:
    """One row; ``NotFound`` when there is none (the table is readable by all staff)."""
    law = session.get(FirearmLaw, law_id)
    if law is None:
        raise NotFound(f"No firearm law with id {law_id}.")
    return law


def actor_state(session: Session, actor: Actor) -> str | None:
    """The state of the actor's agency's jurisdiction (``None`` for the command line)."""
    state = session.scalar(
        select(Jurisdiction.state)
        .join(Agency, Agency.jurisdiction_id == Jurisdiction.id)
        .where(Agency.id == actor.agency_id)
    )
    return state.upper() if state else None


def may_edit(session: Session, actor: Actor, law: FirearmLaw) -> bool:
    """Administrators edit any row; another jurisdiction writer only their own state's."""
    if P.ACCESS_JURISDICTION_WRITE not in actor.permissions:
        return False
    return actor.is_admin or actor_state(session, actor) == law.state


def require_edit(session: Session, actor: Actor, law: FirearmLaw) -> None:
    """Raise ``PermissionDenied`` unless the actor may edit ``law``."""
    require(actor, P.ACCESS_JURISDICTION_WRITE)
    if not may_edit(session, actor, law):
        raise PermissionDenied(
            f"You may edit only the laws of your own jurisdiction's state, not {law.state}."
        )


# --- editing ------------------------------------------------------------------------------


def update_law(
    session: Session,
    actor: Actor,
    law: FirearmLaw,
    *,
    values: Mapping[str, Any],
    reason: str,
    now: datetime,
) -> FirearmLawChange:
    """Change the given fields of ``law`` (``rules.EDITABLE_FIELDS``; ``verified`` as a
    map or the list of verified fields) and keep why. Every problem is reported at once
    (``LawEditInvalid.errors`` by field); an edit that changes nothing is refused."""
    require_edit(session, actor, law)
    typed, errors = rules.parse_edit(values, today=now.date())
    problem = rules.reason_problem(reason)
    if problem:
        errors["reason"] = problem
    if errors:
        raise LawEditInvalid(errors)
    changes = rules.edit_changes({name: getattr(law, name) for name in typed}, typed)
    if not changes:
        raise LawEditInvalid({"form": "nothing changed: edit a field or a verification mark"})
    for name, value in typed.items():
        setattr(law, name, value)
    law.updated_at = now
    law.updated_by_user_id = actor.audit_id
    change = FirearmLawChange(
        law_id=law.id, user_id=actor.audit_id, at=now, changes=changes, reason=reason.strip()
    )
    session.add(change)
    session.flush()
    audit.record_by(
        session, actor, tag=UPDATED_TAG, subject_type="firearm_law", subject_id=law.id,
        changes={**changes, "reason": [None, reason.strip()]}, at=now,
    )  # fmt: skip
    return change


def history(session: Session, law: FirearmLaw) -> list[LawChange]:
    """Every edit of ``law``, newest first, with who made it and why."""
    changes = list(
        session.scalars(
            select(FirearmLawChange)
            .where(FirearmLawChange.law_id == law.id)
            .order_by(FirearmLawChange.at.desc(), FirearmLawChange.id.desc())
        )
    )
    ids = {c.user_id for c in changes if c.user_id is not None}
    users = session.execute(select(User.id, User.full_name).where(User.id.in_(ids)))
    names = {user_id: full_name for user_id, full_name in users}
    return [
        LawChange(
            at=c.at,
            who=names.get(c.user_id, "unknown") if c.user_id else "the command line",
            reason=c.reason,
            changes=dict(c.changes),
        )
        for c in changes
    ]


# --- a case's options ---------------------------------------------------------------------

_STATE = re.compile(r"^[A-Z]{2}$")


def options_for_case(
    session: Session, jurisdiction_state: str | None, team_agencies: Iterable[tuple[str, str]]
) -> list[CaseOption]:
    """The instruments of the case's state, each with the team's agencies that may
    petition (``team_agencies``: ``(name, agency kind)`` pairs) and its unverified fields."""
    state = (jurisdiction_state or "").strip().upper()
    if not _STATE.match(state):
        return []
    agencies = list(team_agencies)
    return [
        CaseOption(
            law=law,
            team_petitioners=rules.petitioning_agencies(law.petitioner_kinds, agencies),
            unverified=rules.unverified_fields(law.verified),
        )
        for law in laws_for_state(session, state)
    ]
