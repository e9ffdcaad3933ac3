"""Loading an instrument: YAML parsing and the checks that make it usable.

``load_text`` (and ``load_file``) run four checks, each failing with an
``InstrumentError`` that names the element and the reason:

1. **Shape**: ``instrument.schema.json`` (JSON Schema 2020-12, no unknown keys anywhere).
2. **Identity**: no id or text may refer to a protected characteristic. The project's
   rule is "behavior, not identity": race, ethnicity, religion, national origin, sex,
   sexual orientation, gender identity, disability and political or religious views are
   never risk factors, so an instrument that mentions them is refused outright.
3. **Meaning**: ids are unique; every reference (section, item, fact, action) exists;
   answer values are allowed for their item; pre-fills read real wellness-check fields.
4. **Monotone rules**: conditions have no negation, and a condition that accepts
   ``unknown`` for an item must also accept every risk-raising answer of that item.
   Finding out more can then only keep or raise a conclusion, never lower it silently.

The data types and the registry live in ``instrument.py``, which re-exports the public
names of this module (``load_text``, ``load_file``, ``parse_actions``, ``protected_term``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jsonschema
import yaml

from defchain.assessment.instrument import (
    TASK_KINDS,
    UNKNOWN,
    WELLNESS_FIELDS,
    ActionSpec,
    AllOf,
    AnswerAtLeast,
    AnswerIn,
    AnswerType,
    AnyOf,
    AtLeastOf,
    Basis,
    Condition,
    Fact,
    FactRef,
    Instrument,
    InstrumentError,
    Item,
    Level,
    Prefill,
    Rule,
    ScaleOption,
    Section,
    Stage,
    action_catalog,
)

# --------------------------------------------------------------------------- loading


class _Loader(yaml.SafeLoader):
    """YAML without the 1.1 surprises: ``yes``/``no``/``on``/``off`` stay strings (they are
    answers here), only ``true``/``false`` are booleans, and a repeated key is an error."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


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


def _parse_yaml(text: str, origin: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.YAMLError as exc:
        where = str(exc).replace("<unicode string>", origin)
        raise InstrumentError("document", f"is not valid YAML: {where}") from None


@functools.cache
def _schema_validator() -> jsonschema.protocols.Validator:
    text = resources.files(__package__).joinpath("instrument.schema.json").read_text("utf-8")
    schema = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _element(data: Any, path: Iterable[str | int]) -> str:
    """``items[4] "fixation" options[1].label``: collection, index and id, then the rest."""
    parts = list(path)
    if not parts:
        return "top level"
    head, rest = str(parts[0]), parts[1:]
    if rest and isinstance(rest[0], int):
        index = rest.pop(0)
        entry = data.get(head, [])[index] if isinstance(data, dict) else None
        head = f"{head}[{index}]"
        if isinstance(entry, dict) and isinstance(entry.get("id"), str):
            head += f' "{entry["id"]}"'
    tail = ""
    for part in rest:
        tail += f"[{part}]" if isinstance(part, int) else (f".{part}" if tail else part)
    return f"{head} {tail}" if tail else head


def _check_shape(data: Any) -> None:
    error = jsonschema.exceptions.best_match(_schema_validator().iter_errors(data))
    if error is not None:
        raise InstrumentError(_element(data, error.absolute_path), error.message)


# --------------------------------------------------------------- protected characteristics

# Whole words and phrases (case-insensitive) that name a protected characteristic.
_PROTECTED_TERMS = (
    r"races?|racial\w*|ethnic\w*|ancestry|skin\s+colou?r",
    r"religio\w*|faiths?|beliefs?|views|ideolog\w*|politic\w*|party\s+affiliations?",
    r"national\s+origins?|nationalit(?:y|ies)|citizenship|immigra\w*|foreign[\s-]born",
    r"sex(?:es)?|sexual\s+orientations?|gender\w*|gay|lesbians?|bisexual\w*|homosexual\w*",
    r"heterosexual\w*|transgender\w*|queer|lgbt\w*|non-?binary",
    r"disabilit(?:y|ies)|disabled|handicap\w*",
)
_PROTECTED = re.compile(r"\b(?:" + "|".join(_PROTECTED_TERMS) + r")\b", re.IGNORECASE)


def protected_term(text: str) -> str | None:
    """The first word or phrase of ``text`` naming a protected characteristic, if any.

    Ids count too: ``religious_views`` is read as "religious views".
    """
    found = _PROTECTED.search(text.replace("_", " "))
    return found.group(0) if found else None


def _texts(data: dict[str, Any]) -> Iterable[tuple[str, str]]:
    """(element, text) for every id and every piece of wording a person will read."""
    yield "title", data["title"]
    fields_of = {
        "sections": ("id", "title", "description"),
        "items": ("id", "prompt", "guidance"),
        "facts": ("id", "description"),
        "rules": ("id", "description", "finding"),
    }
    for collection, names in fields_of.items():
        for index, entry in enumerate(data.get(collection, [])):
            for name in names:
                if name in entry:
                    yield _element(data, [collection, index, name]), entry[name]
            for o, option in enumerate(entry.get("options", []) if collection == "items" else []):
                for name in ("value", "label"):
                    yield _element(data, [collection, index, "options", o, name]), option[name]


def _check_identity(data: dict[str, Any]) -> None:
    for element, text in _texts(data):
        term = protected_term(text)
        if term is not None:
            raise InstrumentError(
                element,
                f'refers to a protected characteristic ("{term}"); assess behavior, not identity',
            )


# ------------------------------------------------------------------------ meaning


class _Builder:
    """Turns checked YAML data into an ``Instrument``, checking references as it goes."""

    def __init__(self, data: dict[str, Any], actions: Mapping[str, ActionSpec]) -> None:
        self.data = data
        self.catalog = actions
        self.items: dict[str, Item] = {}
        self.facts: dict[str, Fact] = {}

    def where(self, collection: str, index: int, *rest: str | int) -> str:
        return _element(self.data, [collection, index, *rest])

    def unique(self, collection: str) -> None:
        seen: set[str] = set()
        for index, entry in enumerate(self.data.get(collection, [])):
            if entry["id"] in seen:
                raise InstrumentError(self.where(collection, index), "repeats an id")
            seen.add(entry["id"])

    def build(self, digest: str) -> Instrument:
        for collection in ("sections", "items", "facts", "rules"):
            self.unique(collection)
        sections = tuple(
            Section(s["id"], s["title"], s["description"]) for s in self.data["sections"]
        )
        section_ids = {s.id for s in sections}
        for index, raw in enumerate(self.data["items"]):
            item = self.item(index, raw, section_ids)
            self.items[item.id] = item
        for index, raw in enumerate(self.data.get("facts", [])):
            when = self.condition(raw["when"], ("facts", index, "when"))
            self.facts[raw["id"]] = Fact(raw["id"], raw["description"], when)
        rules = tuple(self.rule(index, raw) for index, raw in enumerate(self.data["rules"]))
        named = {a for rule in rules for a in rule.actions}
        return Instrument(
            id=self.data["id"],
            version=self.data["version"],
            title=self.data["title"],
            source=self.data["source"],
            sections=sections,
            items=tuple(self.items.values()),
            facts=tuple(self.facts.values()),
            rules=rules,
            digest=digest,
            actions=tuple(spec for spec in self.catalog.values() if spec.id in named),
        )

    def item(self, index: int, raw: dict[str, Any], section_ids: set[str]) -> Item:
        if raw["section"] not in section_ids:
            raise InstrumentError(
                self.where("items", index, "section"), f'names no section "{raw["section"]}"'
            )
        answer = AnswerType(raw["answer"])
        options = tuple(ScaleOption(o["value"], o["label"]) for o in raw.get("options", []))
        if answer is AnswerType.SCALE and not options:
            raise InstrumentError(self.where("items", index), "is a scale item without options")
        if answer is not AnswerType.SCALE and options:
            raise InstrumentError(
                self.where("items", index, "options"), "only scale items have options"
            )
        values = [o.value for o in options]
        if UNKNOWN in values or len(set(values)) != len(values):
            raise InstrumentError(
                self.where("items", index, "options"),
                'option values must be distinct and not "unknown"',
            )
        item = Item(
            id=raw["id"],
            section=raw["section"],
            prompt=raw["prompt"],
            guidance=raw["guidance"],
            sources=tuple(raw["sources"]),
            answer=answer,
            options=options,
            evidence_required=raw.get("evidence_required", False),
            basis=Basis(raw["basis"]),
            key=raw.get("key", False),
            prefill=None,
        )
        if "prefill" in raw:
            prefill = self.prefill(item, raw["prefill"], self.where("items", index, "prefill"))
            item = replace(item, prefill=prefill)
        return item

    def prefill(self, item: Item, raw: dict[str, Any], where: str) -> Prefill:
        name, mapping = raw["wellness_field"], dict(raw.get("map", {}))
        if name not in WELLNESS_FIELDS:
            known = ", ".join(WELLNESS_FIELDS)
            raise InstrumentError(
                where, f'"{name}" is not a wellness-check field (one of: {known})'
            )
        keys = WELLNESS_FIELDS[name]
        if keys is None:
            if item.answer is not AnswerType.TEXT or mapping:
                raise InstrumentError(
                    where, f'"{name}" is free text: it can only pre-fill a text item, with no map'
                )
            return Prefill(name, MappingProxyType(mapping))
        if item.answer is AnswerType.TEXT:
            raise InstrumentError(
                where, f'"{name}" is not free text and cannot pre-fill a text item'
            )
        allowed = item.allowed_values()
        for key, value in mapping.items():
            if key not in keys:
                raise InstrumentError(
                    where, f'"{key}" is not a value of "{name}" ({", ".join(sorted(keys))})'
                )
            if value not in allowed:
                raise InstrumentError(
                    where, f'maps "{key}" to "{value}", not an answer of item "{item.id}"'
                )
        if not mapping and not keys <= set(allowed):
            raise InstrumentError(
                where, f'needs a map: values of "{name}" are not all answers of "{item.id}"'
            )
        return Prefill(name, MappingProxyType(mapping))

    def rule(self, index: int, raw: dict[str, Any]) -> Rule:
        for a, action in enumerate(raw.get("actions", [])):
            if action not in self.catalog:
                raise InstrumentError(
                    self.where("rules", index, "actions", a),
                    f'"{action}" is not in the action catalog',
                )
        return Rule(
            id=raw["id"],
            description=raw["description"],
            when=self.condition(raw["when"], ("rules", index, "when")),
            level=Level(raw["level"]),
            stage=Stage(raw.get("stage", Stage.NONE.value)),
            finding=raw.get("finding", ""),
            actions=tuple(raw.get("actions", [])),
        )

    def condition(self, raw: dict[str, Any], path: tuple[str | int, ...]) -> Condition:
        where = _element(self.data, path)
        if "fact" in raw:
            if raw["fact"] not in self.facts:
                raise InstrumentError(
                    where, f'refers to fact "{raw["fact"]}", which is not defined before it'
                )
            return FactRef(raw["fact"])
        for name, kind in (("all", AllOf), ("any", AnyOf)):
            if name in raw:
                return kind(
                    tuple(self.condition(c, (*path, name, i)) for i, c in enumerate(raw[name]))
                )
        if "of" in raw:
            parts = tuple(self.condition(c, (*path, "of", i)) for i, c in enumerate(raw["of"]))
            if raw["at_least"] > len(parts):
                raise InstrumentError(
                    where, f"asks for at least {raw['at_least']} of {len(parts)} conditions"
                )
            return AtLeastOf(raw["at_least"], parts)
        return self.answer_condition(raw, where)

    def answer_condition(self, raw: dict[str, Any], where: str) -> Condition:
        item = self.items.get(raw["answer"])
        if item is None:
            raise InstrumentError(where, f'refers to unknown item "{raw["answer"]}"')
        if item.answer is AnswerType.TEXT:
            raise InstrumentError(
                where, f'item "{item.id}" is free text and cannot be used in a condition'
            )
        if "at_least" in raw:
            if (
                item.answer is not AnswerType.SCALE
                or raw["at_least"] not in item.allowed_values()[:-1]
            ):
                raise InstrumentError(
                    where, f'"at_least" needs an option of scale item "{item.id}"'
                )
            return AnswerAtLeast(item.id, raw["at_least"])
        values = tuple(raw["in"])
        for value in values:
            if value not in item.allowed_values():
                allowed = ", ".join(item.allowed_values())
                raise InstrumentError(
                    where, f'"{value}" is not an answer of item "{item.id}" ({allowed})'
                )
        missing = sorted(item.risk_raising() - set(values))
        if UNKNOWN in values and missing:
            raise InstrumentError(
                where,
                f'accepts "unknown" for item "{item.id}" but not its risk-raising answer(s) '
                f"{', '.join(missing)}: learning more would switch the condition off "
                "(not monotone)",
            )
        return AnswerIn(item.id, values)


def _digest(data: Any) -> str:
    """sha256 of the canonical form (sorted keys, UTF-8 JSON): comments and layout do not
    count, any change of content does."""
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def load_text(
    text: str, origin: str = "<text>", *, actions: Mapping[str, ActionSpec] | None = None
) -> Instrument:
    """Parse and check an instrument; ``InstrumentError`` names the first problem.

    ``origin`` (a file name) is named in a YAML syntax error. ``actions`` is
    the catalog rules may name (default: the shipped actions.yaml).
    """
    data = _parse_yaml(text, origin)
    _check_shape(data)
    _check_identity(data)
    catalog = action_catalog() if actions is None else actions
    return _Builder(data, catalog).build(_digest(data))


def load_file(path: Path) -> Instrument:
    """``load_text`` on a file (UTF-8)."""
    return load_text(path.read_text(encoding="utf-8"), origin=str(path))


# ------------------------------------------------------------------ action catalog

_ACTIONS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["actions"],
    "properties": {
        "actions": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "title", "description", "task_kind"],
                "properties": {
                    "id": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
                    "title": {"type": "string", "minLength": 1, "maxLength": 200},
                    "description": {"type": "string", "minLength": 1},
                    "task_kind": {"enum": list(TASK_KINDS)},
                },
            },
        }
    },
}


def parse_actions(text: str) -> Mapping[str, ActionSpec]:
    """The action catalog from YAML text, in file order; ``InstrumentError`` when malformed."""
    data = _parse_yaml(text, "actions.yaml")
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(_ACTIONS_SCHEMA).iter_errors(data)
    )
    if error is not None:
        raise InstrumentError(_element(data, error.absolute_path), error.message)
    catalog: dict[str, ActionSpec] = {}
    for index, raw in enumerate(data["actions"]):
        if raw["id"] in catalog:
            raise InstrumentError(_element(data, ["actions", index]), "repeats an id")
        catalog[raw["id"]] = ActionSpec(**raw)
    return MappingProxyType(catalog)
