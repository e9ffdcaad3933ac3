"""The person registry: link reports to persons, decide the review queue, merge, split
and undo. Every function takes ``session`` keyword-only (and the ``actor`` who decides),
writes audit events in the same transaction and flushes; the boundary commits.

Online linking scores a report's subject against the persons found under its blocking
keys (an index in the database, ``BlockingKey``), applying the trained model's match
weights (``people.model``): above the link threshold the report is linked, between the
thresholds it waits in the review queue, below them it gets a new person.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from defchain import audit
from defchain.access import Actor, Permission, require
from defchain.db import preassign_ids
from defchain.errors import Conflict, NotFound, ValidationFailed
from defchain.intake import Report
from defchain.people.identifiers import (
    Kind,
    Normalized,
    from_subject,
    profile_of,
    profile_of_normalized,
)
from defchain.people.model import default_model, nicknames
from defchain.people.models import (
    BlockingKey,
    Identifier,
    MergeProposal,
    Person,
    PersonChange,
    ReportLink,
    ReviewItem,
)
from defchain.people.rules import (
    Decision,
    LinkageModel,
    Profile,
    Score,
    blocking_keys,
    compare,
    informative,
    score,
)

P = Permission
MAX_CANDIDATES = 100  # persons scored per query at most (those sharing most keys first)
REVIEW_CANDIDATES = 3  # shown side by side in the review queue


def _audit(
    session: Session,
    who: audit.Recorded,
    tag: str,
    subject_type: str,
    subject_id: int,
    changes: dict[str, Any],
    now: datetime,
) -> None:
    audit.record_by(
        session,
        who,
        tag=tag,
        subject_type=subject_type,
        subject_id=subject_id,
        changes=changes,
        at=now,
    )


# --- candidates and scores -------------------------------------------------------------


def current_model() -> LinkageModel:
    """The model online scoring uses (the shipped, trained one)."""
    return default_model()


@dataclass(frozen=True)
class Candidate:
    person_id: int
    score: Score

    def as_json(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "probability": round(self.score.probability, 6),
            "levels": {str(k): v for k, v in self.score.levels.items()},
            "weights": {str(k): round(v, 3) for k, v in self.score.weights.items()},
        }


def person_profiles(session: Session, person_ids: Iterable[int]) -> dict[int, Profile]:
    """The linkage profile of each person, from their identifiers (one query)."""
    ids = list(person_ids)
    rows: dict[int, list[tuple[str, str, dict[str, Any]]]] = defaultdict(list)
    if ids:
        query = select(
            Identifier.person_id, Identifier.kind, Identifier.normalized, Identifier.detail
        ).where(Identifier.person_id.in_(ids))
        for person_id, kind, normalized, detail in session.execute(query):
            rows[person_id].append((kind, normalized, detail))
    return {person_id: profile_of(rows[person_id]) for person_id in ids}


def candidates(
    session: Session, profile: Profile, *, model: LinkageModel | None = None
) -> list[Candidate]:
    """The persons sharing a blocking key with ``profile``, scored, best first."""
    model = model or default_model()
    keys = blocking_keys(profile, nicknames())
    if not keys:
        return []
    # Persons sharing the most keys first: with a cap, a large block (a common name at a
    # big school) cannot crowd out the person who matches on several keys.
    shared = func.count().label("shared")
    query = (
        select(BlockingKey.person_id)
        .where(BlockingKey.key.in_(sorted(keys)))
        .group_by(BlockingKey.person_id)
        .order_by(shared.desc(), BlockingKey.person_id)
        .limit(MAX_CANDIDATES)
    )
    ids = list(session.scalars(query))
    found = [
        Candidate(person_id, score(compare(profile, other, nicknames()), model))
        for person_id, other in person_profiles(session, ids).items()
    ]
    return sorted(found, key=lambda c: (-c.score.probability, c.person_id))


def rebuild_keys(session: Session, person_id: int) -> None:
    """Replace a person's blocking keys with those of their current identifiers."""
    session.execute(delete(BlockingKey).where(BlockingKey.person_id == person_id))
    profile = person_profiles(session, [person_id])[person_id]
    keys = sorted(blocking_keys(profile, nicknames()))
    session.add_all(BlockingKey(key=key, person_id=person_id) for key in keys)
    session.flush()


# --- persons and identifiers ----------------------------------------------------------


def _display_name(items: Sequence[Normalized]) -> str:
    for kind in (Kind.NAME, Kind.NICKNAME, Kind.HANDLE):
        for item in items:
            if item.kind is kind and item.value:
                return item.value[:200]
    return "Unnamed person"


def _identifier_rows(
    person_id: int,
    items: Sequence[Normalized],
    *,
    source_type: str,
    source_id: str,
    labels: Sequence[str],
    now: datetime,
) -> list[Identifier]:
    return [
        Identifier(
            person_id=person_id,
            kind=item.kind,
            value=item.value,
            normalized=item.normalized,
            detail=dict(item.detail),
            source_type=source_type,
            source_id=source_id,
            labels=list(labels),
            created_at=now,
        )
        for item in items
    ]


def _add_identifiers(
    session: Session,
    person: Person,
    items: Sequence[Normalized],
    *,
    source_type: str,
    source_id: str,
    labels: Sequence[str],
    now: datetime,
) -> list[Identifier]:
    known = {(i.kind, i.value) for i in person.identifiers}
    fresh = [
        item for item in items if (item.kind, item.value) not in known or source_type == "report"
    ]
    added = _identifier_rows(
        person.id, fresh, source_type=source_type, source_id=source_id, labels=labels, now=now
    )
    preassign_ids(session, added)
    session.add_all(added)
    session.flush()
    session.expire(person, ["identifiers"])
    rebuild_keys(session, person.id)
    return added


def create_person(
    session: Session,
    *,
    who: audit.Recorded,
    items: Sequence[Normalized],
    source_type: str,
    source_id: str,
    labels: Sequence[str] = (),
    now: datetime,
) -> Person:
    """A new person with these identifiers (audited).

    A new person has nothing to reload: its identifiers and blocking keys are written
    from ``items`` with one batched insert each (this runs for most new reports)."""
    person = Person(display_name=_display_name(items), created_at=now)
    session.add(person)
    session.flush()
    added = _identifier_rows(
        person.id, items, source_type=source_type, source_id=source_id, labels=labels, now=now
    )
    keys = [
        BlockingKey(key=key, person_id=person.id)
        for key in sorted(blocking_keys(profile_of_normalized(items), nicknames()))
    ]
    preassign_ids(session, added)
    preassign_ids(session, keys)
    session.add_all(added)
    session.add_all(keys)
    session.flush()
    _audit(
        session,
        who,
        "people:person:created",
        "person",
        person.id,
        {"source": [None, f"{source_type}:{source_id}"], "identifiers": [None, len(items)]},
        now,
    )
    return person


def active_person(session: Session, person_id: int) -> Person:
    """A person that exists and was not merged into another."""
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"No person with id {person_id}.")
    if person.merged_into_id is not None:
        raise Conflict(
            f"person: #{person_id} was merged into #{person.merged_into_id}.", field="person"
        )
    return person


# --- linking reports -------------------------------------------------------------------


@dataclass(frozen=True)
class LinkOutcome:
    """What happened to one report: linked (to whom, how sure), in review, or nothing to
    link (no name, handle, phone or e-mail in it)."""

    decision: Decision | None
    person_id: int | None
    probability: float | None
    review_item_id: int | None = None
    invalid: tuple[str, ...] = ()


def report_identifiers(report: Report) -> list[Normalized]:
    return from_subject(report.subject or {}, year=report.received_at.year)


def link_report(
    session: Session,
    *,
    report: Report,
    who: audit.Recorded,
    now: datetime,
    model: LinkageModel | None = None,
) -> LinkOutcome:
    """Link a report's subject to a person, send it to review, or create the person."""
    model = model or default_model()
    items = report_identifiers(report)
    invalid = tuple(f"{i.kind}: {i.invalid} ({i.value!r})" for i in items if i.invalid)
    profile = profile_of_normalized(items)
    if not informative(profile):
        return LinkOutcome(None, None, None, invalid=invalid)
    found = candidates(session, profile, model=model)
    best = found[0] if found else None
    decision = best.score.decision(model) if best else Decision.NEW
    if decision is Decision.REVIEW:
        item = _open_review(session, report, found, now)
        _audit(
            session,
            who,
            "people:review:opened",
            "report",
            report.id,
            {"review_item_id": [None, item.id], "best": [None, best.as_json() if best else None]},
            now,
        )
        return LinkOutcome(
            decision, None, best.score.probability if best else None, item.id, invalid
        )
    if decision is Decision.LINK and best is not None:
        person = active_person(session, best.person_id)
        _attach(session, person, report, items, now)
        link = _new_link(session, report, person, "model", None, best, "", now)
    else:
        person = create_person(
            session,
            who=who,
            items=items,
            source_type="report",
            source_id=str(report.id),
            labels=report.labels,
            now=now,
        )
        link = _new_link(session, report, person, "new", None, best, "", now)
    _audit(
        session,
        who,
        "people:report:linked",
        "report",
        report.id,
        {
            "person_id": [None, person.id],
            "decided_by": [None, link.decided_by],
            "probability": [None, link.probability],
        },
        now,
    )
    return LinkOutcome(decision, person.id, link.probability, invalid=invalid)


def _open_review(
    session: Session, report: Report, found: Sequence[Candidate], now: datetime
) -> ReviewItem:
    """Put a report in the review queue with its best candidates."""
    item = ReviewItem(
        report_id=report.id,
        candidates=[c.as_json() for c in found[:REVIEW_CANDIDATES]],
        created_at=now,
    )
    session.add(item)
    session.flush()
    return item


def _attach(
    session: Session, person: Person, report: Report, items: Sequence[Normalized], now: datetime
) -> None:
    _add_identifiers(
        session,
        person,
        items,
        source_type="report",
        source_id=str(report.id),
        labels=report.labels,
        now=now,
    )


def _new_link(
    session: Session,
    report: Report,
    person: Person,
    decided_by: str,
    user_id: int | None,
    candidate: Candidate | None,
    reason: str,
    now: datetime,
) -> ReportLink:
    link = ReportLink(
        report_id=report.id,
        person_id=person.id,
        decided_by=decided_by,
        decided_by_user_id=user_id,
        probability=candidate.score.probability if candidate else None,
        weights=candidate.as_json() if candidate else {},
        reason=reason,
        created_at=now,
    )
    session.add(link)
    session.flush()
    return link


def link_pending(session: Session, *, who: audit.Recorded, now: datetime, limit: int = 500) -> int:
    """Link reports that have no link, no open review and were never looked at (oldest
    first). Returns how many were processed."""
    linked = select(ReportLink.report_id)
    reviewed = select(ReviewItem.report_id)
    query = (
        select(Report)
        .where(Report.id.not_in(linked), Report.id.not_in(reviewed))
        .order_by(Report.id)
        .limit(limit)
    )
    reports = list(session.scalars(query))
    for report in reports:
        outcome = link_report(session, report=report, who=who, now=now)
        if outcome.decision is None:  # nothing to link by: noted, so it is not taken again
            session.add(
                ReviewItem(report_id=report.id, candidates=[], outcome="no_subject", created_at=now)
            )
    session.flush()
    return len(reports)


# --- the review queue ------------------------------------------------------------------


def decide_review(
    session: Session,
    *,
    actor: Actor,
    item_id: int,
    person_id: int | None,
    reason: str,
    now: datetime,
) -> ReportLink:
    """A person decides a grey-zone pair: this report's subject is ``person_id``, or
    (``None``) a new person. Who decided and why is recorded."""
    require(actor, P.PEOPLE_PERSON_UPDATE)
    item = session.get(ReviewItem, item_id)
    if item is None:
        raise NotFound(f"No review item with id {item_id}.")
    if item.outcome != "open":
        raise Conflict("review: this pair was already decided.", field="review")
    reason = _reason(reason)
    report = session.get_one(Report, item.report_id)
    items = report_identifiers(report)
    chosen = None
    if person_id is not None:
        person = active_person(session, person_id)
        profile = profile_of_normalized(items)
        other = person_profiles(session, [person.id])[person.id]
        chosen = Candidate(person.id, score(compare(profile, other, nicknames()), default_model()))
        _attach(session, person, report, items, now)
    else:
        person = create_person(
            session,
            who=actor,
            items=items,
            source_type="report",
            source_id=str(report.id),
            labels=report.labels,
            now=now,
        )
    link = _new_link(session, report, person, "person", actor.audit_id, chosen, reason, now)
    item.outcome = "linked" if person_id is not None else "new_person"
    item.person_id = person.id
    item.decided_by_user_id = actor.audit_id
    item.decided_at = now
    item.reason = reason
    _audit(
        session,
        actor,
        "people:review:decided",
        "report",
        report.id,
        {
            "review_item_id": [None, item.id],
            "outcome": ["open", item.outcome],
            "person_id": [None, person.id],
            "reason": [None, reason],
        },
        now,
    )
    return link


def undo_link(
    session: Session, *, actor: Actor, link_id: int, reason: str, now: datetime
) -> ReviewItem:
    """Take a report off a person (the report's identifiers go with it) and put it back
    in the review queue, rescored. The link row stays, marked undone."""
    require(actor, P.PEOPLE_PERSON_UPDATE)
    link = session.get(ReportLink, link_id)
    if link is None or link.undone_at is not None:
        raise NotFound(f"No active link with id {link_id}.")
    reason = _reason(reason)
    link.undone_at = now
    link.undone_by_user_id = actor.audit_id
    person_id = link.person_id
    session.execute(
        delete(Identifier).where(
            Identifier.person_id == person_id,
            Identifier.source_type == "report",
            Identifier.source_id == str(link.report_id),
        )
    )
    session.flush()
    rebuild_keys(session, person_id)
    report = session.get_one(Report, link.report_id)
    profile = profile_of_normalized(report_identifiers(report))
    found = [c for c in candidates(session, profile) if c.person_id != person_id]
    item = _open_review(session, report, found, now)
    _audit(
        session,
        actor,
        "people:report:unlinked",
        "report",
        report.id,
        {"person_id": [person_id, None], "reason": [None, reason]},
        now,
    )
    return item


# --- merge, split, undo ----------------------------------------------------------------


def _move(
    session: Session,
    *,
    identifier_ids: Sequence[int],
    link_ids: Sequence[int],
    to_person_id: int,
) -> None:
    for identifier in session.scalars(select(Identifier).where(Identifier.id.in_(identifier_ids))):
        identifier.person_id = to_person_id
    for link in session.scalars(select(ReportLink).where(ReportLink.id.in_(link_ids))):
        link.person_id = to_person_id
    session.flush()


def _change(
    session: Session,
    actor: Actor,
    kind: str,
    from_id: int,
    to_id: int,
    moved: dict[str, list[int]],
    reason: str,
    now: datetime,
    undoes: PersonChange | None = None,
) -> PersonChange:
    change = PersonChange(
        kind=kind,
        from_person_id=from_id,
        to_person_id=to_id,
        moved=moved,
        reason=reason,
        by_user_id=actor.audit_id,
        by_label=actor.label,
        at=now,
        undoes_id=undoes.id if undoes else None,
    )
    session.add(change)
    session.flush()
    for person_id in (from_id, to_id):
        rebuild_keys(session, person_id)
        session.expire(session.get_one(Person, person_id), ["identifiers"])
    _audit(
        session,
        actor,
        f"people:person:{kind}",
        "person",
        to_id,
        {
            "change_id": [None, change.id],
            "from_person_id": [None, from_id],
            "identifiers": [None, moved["identifiers"]],
            "links": [None, moved["links"]],
            "reason": [None, reason],
        },
        now,
    )
    return change


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise ValidationFailed("reason: say why.", field="reason")
    return reason


def merge(
    session: Session,
    *,
    actor: Actor,
    keep_id: int,
    merge_id: int,
    reason: str,
    now: datetime,
) -> PersonChange:
    """``merge_id`` is the same person as ``keep_id``: every identifier and link moves to
    ``keep_id``; ``merge_id`` stays as a pointer. Undo restores exactly what moved."""
    require(actor, P.PEOPLE_PERSON_UPDATE)
    reason = _reason(reason)
    if keep_id == merge_id:
        raise ValidationFailed(
            "merge_id: a person cannot be merged into themselves.", field="merge_id"
        )
    keep, gone = active_person(session, keep_id), active_person(session, merge_id)
    moved = {
        "identifiers": [i.id for i in gone.identifiers],
        "links": list(
            session.scalars(
                select(ReportLink.id).where(
                    ReportLink.person_id == gone.id, ReportLink.undone_at.is_(None)
                )
            )
        ),
    }
    _move(
        session, identifier_ids=moved["identifiers"], link_ids=moved["links"], to_person_id=keep.id
    )
    gone.merged_into_id = keep.id
    return _change(session, actor, "merge", gone.id, keep.id, moved, reason, now)


def split(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    identifier_ids: Sequence[int],
    link_ids: Sequence[int],
    reason: str,
    now: datetime,
) -> PersonChange:
    """Some of a person's identifiers and report links belong to someone else: they move
    to a new person. Undo moves them back."""
    require(actor, P.PEOPLE_PERSON_UPDATE)
    reason = _reason(reason)
    person = active_person(session, person_id)
    own_identifiers = {i.id for i in person.identifiers}
    own_links = set(
        session.scalars(
            select(ReportLink.id).where(
                ReportLink.person_id == person.id, ReportLink.undone_at.is_(None)
            )
        )
    )
    if not identifier_ids and not link_ids:
        raise ValidationFailed(
            "identifiers: choose what belongs to the other person.", field="identifiers"
        )
    if not set(identifier_ids) <= own_identifiers:
        raise ValidationFailed(
            "identifiers: not all of these belong to this person.", field="identifiers"
        )
    if not set(link_ids) <= own_links:
        raise ValidationFailed(
            "links: not all of these reports are linked to this person.", field="links"
        )
    moving = [i for i in person.identifiers if i.id in set(identifier_ids)]
    other = Person(
        display_name=_display_name(
            [Normalized(Kind(i.kind), i.value, i.normalized, i.detail) for i in moving]
        ),
        created_at=now,
    )
    session.add(other)
    session.flush()
    moved = {"identifiers": sorted(identifier_ids), "links": sorted(link_ids)}
    _move(
        session, identifier_ids=moved["identifiers"], link_ids=moved["links"], to_person_id=other.id
    )
    return _change(session, actor, "split", person.id, other.id, moved, reason, now)


def undo(
    session: Session, *, actor: Actor, change_id: int, reason: str, now: datetime
) -> PersonChange:
    """Undo a merge or a split: what moved moves back, and the history keeps both."""
    require(actor, P.PEOPLE_PERSON_UPDATE)
    reason = _reason(reason)
    change = session.get(PersonChange, change_id)
    if change is None:
        raise NotFound(f"No merge or split with id {change_id}.")
    if change.kind == "undo" or change.undone_by_id is not None:
        raise Conflict("change: this was already undone (or is itself an undo).", field="change")
    source = session.get_one(Person, change.to_person_id)
    if source.merged_into_id is not None:
        raise Conflict(
            f"change: #{source.id} was merged since; undo that merge first.", field="change"
        )
    moved = {"identifiers": list(change.moved["identifiers"]), "links": list(change.moved["links"])}
    target = session.get_one(Person, change.from_person_id)
    _move(
        session,
        identifier_ids=moved["identifiers"],
        link_ids=moved["links"],
        to_person_id=target.id,
    )
    if change.kind == "merge":
        target.merged_into_id = None
    else:  # a split: the split-off person is empty again and points back
        source.merged_into_id = target.id
    reverse = _change(session, actor, "undo", source.id, target.id, moved, reason, now, change)
    change.undone_by_id = reverse.id
    session.flush()
    return reverse


# --- reads -----------------------------------------------------------------------------


def record_view(session: Session, *, actor: Actor, person: Person, now: datetime) -> None:
    """Reading a person's page is an audited event."""
    require(actor, P.PEOPLE_PERSON_READ)
    _audit(session, actor, "people:person:viewed", "person", person.id, {}, now)
    session.flush()


# --- merge proposals from batch re-scoring ---------------------------------------------


@dataclass(frozen=True)
class Pair:
    """Two persons a batch run scored as likely one."""

    person_a_id: int
    person_b_id: int
    probability: float
    weights: dict[str, Any]


def propose_merges(
    session: Session, *, pairs: Iterable[Pair], who: audit.Recorded, now: datetime
) -> int:
    """Queue each new pair for a person to decide; a pair already proposed (either way
    round, open or decided) is not proposed again. Returns how many were added."""
    existing = {
        (a, b)
        for a, b in session.execute(select(MergeProposal.person_a_id, MergeProposal.person_b_id))
    }
    added = 0
    for pair in pairs:
        a, b = sorted((pair.person_a_id, pair.person_b_id))
        if a == b or (a, b) in existing:
            continue
        existing.add((a, b))
        session.add(
            MergeProposal(
                person_a_id=a,
                person_b_id=b,
                probability=pair.probability,
                weights=pair.weights,
                created_at=now,
            )
        )
        added += 1
    session.flush()
    if added:
        _audit(session, who, "people:merge:proposed", "registry", 0, {"pairs": [None, added]}, now)
    return added


def decide_proposal(
    session: Session,
    *,
    actor: Actor,
    proposal_id: int,
    merge_them: bool,
    reason: str,
    now: datetime,
) -> MergeProposal:
    """Merge a proposed pair (the older person is kept), or record that they differ."""
    require(actor, P.PEOPLE_PERSON_UPDATE)
    reason = _reason(reason)
    proposal = session.get(MergeProposal, proposal_id)
    if proposal is None:
        raise NotFound(f"No merge proposal with id {proposal_id}.")
    if proposal.outcome != "open":
        raise Conflict("proposal: this pair was already decided.", field="proposal")
    if merge_them:
        merge(
            session,
            actor=actor,
            keep_id=proposal.person_a_id,
            merge_id=proposal.person_b_id,
            reason=reason,
            now=now,
        )
    proposal.outcome = "merged" if merge_them else "distinct"
    proposal.decided_by_user_id = actor.audit_id
    proposal.decided_at = now
    proposal.reason = reason
    _audit(
        session,
        actor,
        "people:merge:decided",
        "person",
        proposal.person_a_id,
        {
            "proposal_id": [None, proposal.id],
            "other_person_id": [None, proposal.person_b_id],
            "outcome": ["open", proposal.outcome],
            "reason": [None, reason],
        },
        now,
    )
    session.flush()
    return proposal
