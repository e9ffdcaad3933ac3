"""Pure rules of the audit chain: canonical form, hashing and chain checking."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64
TAG_PATTERN = re.compile(r"^[a-z_]+:[a-z_]+:[a-z_]+$")


def normalize_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Return changes as they will read back from a JSON column.

    Every value must be ``[old, new]``; values become JSON types (dates as ISO text)
    so that the hash computed now equals the hash recomputed from the stored row.
    """
    for field, pair in changes.items():
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise ValueError(f"audit change for {field!r} must be [old, new]")
    result: dict[str, Any] = json.loads(json.dumps(dict(changes), default=_json_default))
    return result


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value)
    return str(value)


@dataclass(frozen=True)
class EventContent:
    """Everything the hash covers."""

    seq: int
    at: datetime
    actor_id: int | None
    actor_label: str
    tag: str
    subject_type: str
    subject_id: str
    changes: Mapping[str, Any]
    prev_hash: str


def event_hash(content: EventContent) -> str:
    """SHA-256 over the canonical JSON of the event and the previous hash."""
    canonical = json.dumps(
        {
            "seq": content.seq,
            "at": content.at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor_id": content.actor_id,
            "actor_label": content.actor_label,
            "tag": content.tag,
            "subject_type": content.subject_type,
            "subject_id": content.subject_id,
            "changes": content.changes,
            "prev_hash": content.prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChainProblem:
    """One place where the stored chain does not hold."""

    seq: int
    reason: str


def check_chain(events: Iterable[tuple[EventContent, str]]) -> list[ChainProblem]:
    """Check stored (content, stored_hash) pairs ordered by seq.

    Finds edited rows (hash mismatch), deleted rows (a gap in seq or a broken
    ``prev_hash`` link) and inserted rows (a duplicate or out-of-place seq, or a
    ``prev_hash`` that does not match its predecessor).
    """
    problems: list[ChainProblem] = []
    expected_seq = 1
    expected_prev = GENESIS_HASH
    for content, stored_hash in events:
        if content.seq != expected_seq:
            problems.append(
                ChainProblem(
                    content.seq, f"sequence jumps from {expected_seq - 1} to {content.seq}"
                )
            )
        if content.prev_hash != expected_prev:
            problems.append(ChainProblem(content.seq, "previous-hash link does not match"))
        if event_hash(content) != stored_hash:
            problems.append(ChainProblem(content.seq, "content does not match its hash"))
        expected_seq = content.seq + 1
        expected_prev = stored_hash
    return problems
