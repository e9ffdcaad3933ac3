"""Deadlines of the chain per priority: the shipped defaults and a jurisdiction's overrides.

Pure: the defaults are read from ``data/deadlines.yaml`` (shipped with the package),
overrides arrive as plain mappings; nothing here touches a database or a clock. Every
deadline is a time from receipt. docs/triage.md shows the default table and why.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from importlib.resources import files
from types import MappingProxyType
from typing import Any

import yaml

# The links of the chain, in order.
LINKS: tuple[str, ...] = (
    "received",
    "routed",
    "acknowledged",
    "triaged",
    "linked",
    "assessed",
    "planned",
    "firearm_access",
    "reviewed",
    "closed",
)
START = "received"  # starts the clock; never has a deadline
ROWS: tuple[str, ...] = ("P1", "P2", "P3", "P4", "needs_person")
NEEDS_PERSON = "needs_person"
# Links every row must have: someone must route, acknowledge and triage every report.
REQUIRED_LINKS: tuple[str, ...] = ("routed", "acknowledged", "triaged")
TIMERS: tuple[str, ...] = ("handoff_ack", "escalate_every")  # the fields besides links

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?")


class DeadlinesInvalid(ValueError):
    """A deadlines file or override is wrong; the message starts with the key path."""


def parse_duration(text: str) -> timedelta:
    """``"15m"``, ``"4h"``, ``"7d"`` or a sum in that order such as ``"1d12h"``."""
    if not isinstance(text, str):
        raise ValueError("must be a duration such as 15m, 4h or 7d")
    match = _DURATION.fullmatch(text.strip())
    if not text.strip() or match is None:
        raise ValueError(f"{text!r} is not a duration such as 15m, 4h or 7d")
    days, hours, minutes = (int(g) if g else 0 for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes)


def format_duration(value: timedelta) -> str:
    """The inverse of ``parse_duration`` (largest units first): ``1d12h``, ``15m``."""
    if value < timedelta(0) or value % timedelta(minutes=1):
        raise ValueError("only whole, non-negative minutes can be written as a duration")
    minutes = value // timedelta(minutes=1)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    text = "".join(f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if n)
    return text or "0m"


def _positive(value: Any, path: str) -> timedelta:
    if isinstance(value, timedelta):
        duration = value
    else:
        try:
            duration = parse_duration(value)
        except ValueError as exc:
            raise DeadlinesInvalid(f"{path}: {exc}") from None
    if duration <= timedelta(0):
        raise DeadlinesInvalid(f"{path}: must be longer than zero")
    return duration


@dataclass(frozen=True)
class Deadlines:
    """The deadlines of one priority (or of "needs a person")."""

    links: Mapping[str, timedelta]  # link name -> time from receipt
    handoff_ack: timedelta  # a receiving agency must acknowledge a hand-off within this
    escalate_every: timedelta  # between escalation steps of an unacknowledged/late link

    def __post_init__(self) -> None:
        # Links in chain order, read-only, so a shared default cannot be changed.
        ordered = {name: self.links[name] for name in LINKS if name in self.links}
        object.__setattr__(self, "links", MappingProxyType(ordered))


def _check_link(name: Any, path: str) -> str:
    if name == START:
        raise DeadlinesInvalid(f"{path}: {START} starts the clock and has no deadline")
    if name not in LINKS:
        raise DeadlinesInvalid(f"{path}: not a link of the chain ({', '.join(LINKS[1:])})")
    return str(name)


def _check_order(links: Mapping[str, timedelta], path: str) -> None:
    previous: tuple[str, timedelta] | None = None
    for name in LINKS:
        if name not in links:
            continue
        if previous is not None and links[name] < previous[1]:
            raise DeadlinesInvalid(
                f"{path}.{name}: due before {previous[0]}, which comes earlier in the chain"
            )
        previous = (name, links[name])


def parse_defaults(raw: Any) -> dict[str, Deadlines]:
    """Validate the parsed YAML of a deadlines file; errors name the key path."""
    if not isinstance(raw, Mapping):
        raise DeadlinesInvalid("deadlines: must be a mapping of P1, P2, P3, P4, needs_person")
    for key in raw:
        if key not in ROWS:
            raise DeadlinesInvalid(f"{key}: not a priority ({', '.join(ROWS)})")
    result: dict[str, Deadlines] = {}
    for row in ROWS:
        if row not in raw:
            raise DeadlinesInvalid(f"{row}: is missing")
        entry = raw[row]
        if not isinstance(entry, Mapping):
            raise DeadlinesInvalid(f"{row}: must be a mapping with links, {', '.join(TIMERS)}")
        for key in entry:
            if key not in ("links", *TIMERS):
                raise DeadlinesInvalid(f"{row}.{key}: not a known field")
        for key in ("links", *TIMERS):
            if key not in entry:
                raise DeadlinesInvalid(f"{row}.{key}: is missing")
        raw_links = entry["links"]
        if not isinstance(raw_links, Mapping):
            raise DeadlinesInvalid(f"{row}.links: must be a mapping of link to duration")
        links = {
            _check_link(name, f"{row}.links.{name}"): _positive(value, f"{row}.links.{name}")
            for name, value in raw_links.items()
        }
        for name in REQUIRED_LINKS:
            if name not in links:
                raise DeadlinesInvalid(f"{row}.links.{name}: is missing")
        _check_order(links, f"{row}.links")
        result[row] = Deadlines(
            links=links,
            handoff_ack=_positive(entry["handoff_ack"], f"{row}.handoff_ack"),
            escalate_every=_positive(entry["escalate_every"], f"{row}.escalate_every"),
        )
    return result


def load_text(text: str) -> dict[str, Deadlines]:
    """Parse and validate a deadlines file's text."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DeadlinesInvalid(f"deadlines: not valid YAML: {exc}") from None
    return parse_defaults(raw)


@cache
def _shipped() -> dict[str, Deadlines]:
    text = files("defchain.triage").joinpath("data/deadlines.yaml").read_text(encoding="utf-8")
    return load_text(text)


def load_defaults() -> dict[str, Deadlines]:
    """The shipped defaults, keys ``P1``..``P4`` and ``needs_person``."""
    return dict(_shipped())


def parse_overrides(raw: Mapping[str, Any]) -> dict[str, dict[str, timedelta]]:
    """A jurisdiction's overrides, e.g. ``{"P2": {"assessed": "12h"}}``.

    Keys are a priority (or ``needs_person``), then a link name, ``handoff_ack`` or
    ``escalate_every``. Raises ``DeadlinesInvalid`` (a ``ValueError``) whose message
    starts with the field, e.g. ``P2.assessed: must be longer than zero``.
    """
    if not isinstance(raw, Mapping):
        raise DeadlinesInvalid("overrides: must be a mapping of priority to deadlines")
    result: dict[str, dict[str, timedelta]] = {}
    for row, entry in raw.items():
        if row not in ROWS:
            raise DeadlinesInvalid(f"{row}: not a priority ({', '.join(ROWS)})")
        if not isinstance(entry, Mapping):
            raise DeadlinesInvalid(f"{row}: must be a mapping of link to duration")
        parsed: dict[str, timedelta] = {}
        for name, value in entry.items():
            path = f"{row}.{name}"
            if name not in TIMERS:
                _check_link(name, path)
            parsed[str(name)] = _positive(value, path)
        result[str(row)] = parsed
    return result


def _apply(base: Deadlines, override: Mapping[str, timedelta] | None) -> Deadlines:
    if not override:
        return base
    links = dict(base.links)
    links.update({k: v for k, v in override.items() if k not in TIMERS})
    return Deadlines(
        links=links,
        handoff_ack=override.get("handoff_ack", base.handoff_ack),
        escalate_every=override.get("escalate_every", base.escalate_every),
    )


def _shorter(a: Deadlines, b: Deadlines) -> Deadlines:
    links = dict(a.links)
    for name, due in b.links.items():
        links[name] = min(due, links.get(name, due))
    return Deadlines(
        links=links,
        handoff_ack=min(a.handoff_ack, b.handoff_ack),
        escalate_every=min(a.escalate_every, b.escalate_every),
    )


def deadlines_for(
    priority: str | None,
    *,
    needs_person: bool,
    overrides: Mapping[str, Mapping[str, timedelta]] | None = None,
    defaults: Mapping[str, Deadlines] | None = None,
) -> Deadlines:
    """The deadlines of a report with this suggested ``priority``.

    Overrides (from ``parse_overrides``) replace single defaults. When the suggestion
    needs a person, each link and timer takes the shorter of the priority's and the
    ``needs_person`` row's; a priority of ``None`` (no rule fired) uses the
    ``needs_person`` row alone.
    """
    table = defaults if defaults is not None else _shipped()
    overrides = overrides or {}

    def row(name: str) -> Deadlines:
        if name not in table:
            raise KeyError(f"no deadlines for {name!r}")
        return _apply(table[name], overrides.get(name))

    if priority is None:
        return row(NEEDS_PERSON)
    own = row(str(priority))
    return _shorter(own, row(NEEDS_PERSON)) if needs_person else own
