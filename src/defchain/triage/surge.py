"""Online surge clustering: each new report joins the cluster of an earlier near-duplicate.

The pure parts (shingles, MinHash signatures, LSH band keys, place keys, windows) are in
``clusters.py``. Here, for a round of reports at once:

1. each report's keys are computed: ``text:<band>`` for every other LSH band of its
   narrative (``ONLINE_BAND_STEP``),
   ``place:<place>`` and, once linked, ``person:<id>``, all prefixed by the owning
   agency (clusters never cross agencies);
2. one query reads, for every key of the round, the *latest* earlier report stored
   under it (``triage_report_keys`` keeps one row per key), one more their signatures
   and one more their clusters;
3. the reports are taken in order: a same-person or same-place match within its window
   wins, else the most similar text at or above ``clusters.TEXT_THRESHOLD``; the report
   joins that report's cluster (a first match starts one). Later reports of the round
   see the earlier ones;
4. keys are upserted to point at the newest report, signatures and members inserted in
   batches.

Because a key always points at the newest report under it, and every member joined the
cluster of a report it resembled, a surge of 10,000 tips costs each new tip a handful of
rows, not a scan of the surge.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from defchain.intake import Report
from defchain.triage import clusters as near
from defchain.triage.models import Cluster, ClusterMember, ReportKey, ReportSignature

KEY_CHUNK = 2000  # keys per IN (...) lookup
# Online, every other LSH band is stored (16 of 32): half the rows written per tip, while
# a pair at estimated Jaccard 0.6 still shares a stored band 89% of the time (0.99 at
# 0.7), and in a surge each new tip meets many members, not one. The batch clustering
# (``clusters.cluster``, ``bench/surge.py``) uses all 32.
ONLINE_BAND_STEP = 2
# The tables, for Core statements on the session's connection.
KEYS = cast(Table, ReportKey.__table__)
MEMBERS = cast(Table, ClusterMember.__table__)
SIGNATURES = cast(Table, ReportSignature.__table__)


@dataclass(frozen=True)
class Joined:
    """A report that joined a cluster, and why."""

    report_id: int
    cluster_id: int
    reason: str  # person, place, text
    other_report_id: int
    score: float | None


def _key(agency_id: int, kind: str, value: str) -> str:
    raw = f"{agency_id}|{kind}:{value}"
    if len(raw) <= 100:
        return raw
    digest = hashlib.sha256(value.encode()).hexdigest()[:40]
    return f"{agency_id}|{kind}#:{digest}"


def _kind(key: str) -> str:
    return key.split("|", 1)[1].split(":", 1)[0].rstrip("#")


def _window(kind: str) -> timedelta:
    return {"person": near.PERSON_WINDOW, "place": near.PLACE_WINDOW}.get(kind, near.TEXT_WINDOW)


def _upsert(session: Session, rows: list[dict[str, object]]) -> None:
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        pg = postgresql.insert(KEYS)
        pg = pg.on_conflict_do_update(
            index_elements=["key"],
            set_={"report_id": pg.excluded.report_id, "received_at": pg.excluded.received_at},
        )
        session.connection().execute(pg, rows)
        return
    lite = sqlite.insert(KEYS)
    lite = lite.on_conflict_do_update(
        index_elements=["key"],
        set_={"report_id": lite.excluded.report_id, "received_at": lite.excluded.received_at},
    )
    session.connection().execute(lite, rows)


def cluster_batch(
    session: Session,
    *,
    reports: Sequence[Report],
    now: datetime,
    text: bool = True,
    person_ids: Mapping[int, int] | None = None,
) -> list[Joined]:
    """Cluster a round of reports (see the module docstring). ``text``: use narrative and
    place (the first stage); ``person_ids``: report id → linked person (the second)."""
    person_ids = person_ids or {}
    ordered = sorted(reports, key=lambda r: (r.received_at, r.id))
    keys_of: dict[int, list[str]] = {}
    signatures: dict[int, bytes] = {}
    for report in ordered:
        keys: list[str] = []
        if text:
            signature = near.signature(report.narrative or "")
            if signature is not None:
                signatures[report.id] = signature
                bands = near.band_keys(signature)[::ONLINE_BAND_STEP]
                keys.extend(_key(report.agency_id, "text", k) for k in bands)
            place = near.place_key(report.location or "")
            if place:
                keys.append(_key(report.agency_id, "place", place))
        if report.id in person_ids:
            keys.append(_key(report.agency_id, "person", str(person_ids[report.id])))
        keys_of[report.id] = keys
    wanted = sorted({k for keys in keys_of.values() for k in keys})
    latest: dict[str, tuple[int, datetime]] = {}
    for start in range(0, len(wanted), KEY_CHUNK):
        chunk = wanted[start : start + KEY_CHUNK]
        for key, report_id, received_at in session.execute(
            select(ReportKey.key, ReportKey.report_id, ReportKey.received_at).where(
                ReportKey.key.in_(chunk)
            )
        ):
            latest[key] = (report_id, received_at)
    round_ids = {r.id for r in ordered}
    earlier = {rid for rid, _ in latest.values()} - round_ids
    sig_of: dict[int, bytes] = {}
    cluster_of: dict[int, int] = {}
    if earlier:
        ids = sorted(earlier)
        rows = session.execute(
            select(ReportSignature.report_id, ReportSignature.signature).where(
                ReportSignature.report_id.in_(ids)
            )
        )
        sig_of.update((report_id, signature) for report_id, signature in rows)
    members_known = sorted(earlier | round_ids)
    memberships = session.execute(
        select(ClusterMember.report_id, ClusterMember.cluster_id).where(
            ClusterMember.report_id.in_(members_known)
        )
    )
    cluster_of.update((report_id, cluster_id) for report_id, cluster_id in memberships)
    sig_of.update(signatures)
    new_clusters: dict[int, Cluster] = {}  # first report -> its new cluster
    joined: list[tuple[Report, str, int, float | None]] = []
    key_rows: dict[str, dict[str, object]] = {}
    for report in ordered:
        keys = keys_of[report.id]
        best: tuple[float, str, int] | None = None
        if report.id not in cluster_of:
            for key in keys:
                found = latest.get(key)
                if found is None or found[0] == report.id:
                    continue
                other_id, other_at = found
                kind = _kind(key)
                if abs(report.received_at - other_at) > _window(kind):
                    continue
                if kind == "text":
                    mine, theirs = signatures.get(report.id), sig_of.get(other_id)
                    if mine is None or theirs is None:
                        continue
                    score = near.similarity(mine, theirs)
                    if score < near.TEXT_THRESHOLD:
                        continue
                else:
                    score = 2.0  # the same person or place outranks any text
                if best is None or score > best[0]:
                    best = (score, kind, other_id)
        if best is not None:
            score, kind, other_id = best
            joined.append((report, kind, other_id, score if kind == "text" else None))
            if other_id not in cluster_of:
                cluster_of[other_id] = -other_id  # < 0: a cluster to create, first = other
            cluster_of[report.id] = cluster_of[other_id]
        for key in keys:
            latest[key] = (report.id, report.received_at)
            key_rows[key] = {
                "key": key,
                "report_id": report.id,
                "received_at": report.received_at,
            }
    # Clusters to create: one per first report that someone joined.
    by_id = {r.id: r for r in ordered}
    for report, kind, _other, _score in joined:
        target = cluster_of[report.id]
        if target < 0 and -target not in new_clusters:
            first = -target
            new_clusters[first] = Cluster(
                label=_label(by_id.get(first, report), kind),
                agency_id=report.agency_id,
                first_report_id=first,
                size=1,
                created_at=now,
                last_at=report.received_at,
            )
    session.add_all(new_clusters.values())
    session.flush()
    members: list[dict[str, object]] = [
        {
            "report_id": first,
            "cluster_id": cluster.id,
            "reason": "first",
            "other_report_id": None,
            "score": None,
            "added_at": now,
        }
        for first, cluster in new_clusters.items()
    ]
    result: list[Joined] = []
    grown: dict[int, tuple[int, datetime]] = {}
    resolved: dict[int, int] = {first: c.id for first, c in new_clusters.items()}
    for report, kind, other_id, similar in joined:
        target = cluster_of[report.id]
        cluster_id = target if target > 0 else resolved[-target]
        members.append(
            {
                "report_id": report.id,
                "cluster_id": cluster_id,
                "reason": kind,
                "other_report_id": other_id,
                "score": round(similar, 3) if similar is not None else None,
                "added_at": now,
            }
        )
        size, last = grown.get(cluster_id, (0, report.received_at))
        grown[cluster_id] = (size + 1, max(last, report.received_at))
        result.append(Joined(report.id, cluster_id, kind, other_id, similar))
    # Plain Core statements on the session's connection: one executemany each, without
    # the ORM's per-row bookkeeping (these rows are never read back in this session).
    connection = session.connection()
    if members:
        connection.execute(insert(MEMBERS), members)
    sig_rows = [{"report_id": rid, "signature": sig} for rid, sig in signatures.items()]
    if sig_rows:
        connection.execute(insert(SIGNATURES), sig_rows)
    _upsert(session, list(key_rows.values()))
    if grown:
        for cluster in session.scalars(select(Cluster).where(Cluster.id.in_(list(grown)))):
            size, last = grown[cluster.id]
            cluster.size = (cluster.size or 1) + size
            cluster.last_at = max(cluster.last_at, last)
    session.flush()
    return result


def _label(report: Report, reason: str) -> str:
    if reason == "person":
        name = (report.subject or {}).get("name") or "one person"
        return f"About {name}"[:300]
    if reason == "place" and report.location:
        return f"At {report.location}"[:300]
    words = (report.narrative or "").split()
    return ("Similar: " + " ".join(words[:12]))[:300]
