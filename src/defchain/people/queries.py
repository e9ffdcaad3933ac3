"""Read models of the person registry: the review queue, one review item side by side
with its candidates, and a person's page.

The registry is shared across agencies; what a page shows is filtered for the actor:
reports through ``visible(actor, intake:report:read)`` (others are counted, never
shown), and identifiers whose labels the actor is not cleared for are withheld (counted
as "N withheld").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from defchain.access import Actor, Permission, User, visible
from defchain.errors import NotFound
from defchain.intake import Report
from defchain.people.identifiers import KIND_LABELS, Kind, Normalized, from_subject
from defchain.people.models import (
    Identifier,
    MergeProposal,
    Person,
    PersonChange,
    ReportLink,
    ReviewItem,
)
from defchain.people.rules import NULL, Field

P = Permission

# Keyed by the field's name, so that a field the rules add later still shows (its name).
FIELD_LABELS: dict[str, str] = {
    "given": "Given name or nickname",
    "surname": "Surname",
    "dob": "Date of birth",
    "age": "Approximate age",
    "org": "School or employer",
    "handle": "Online handle",
    "phone": "Phone",
    "email": "E-mail",
    "address": "Address",
    "id_number": "Identity number",
}
LEVEL_LABELS = {
    NULL: "not compared (missing on one side)",
    "exact": "exact",
    "fuzzy": "close spelling",
    "nickname": "nickname",
    "initial": "initial",
    "soundex": "sounds alike",
    "typo": "one typo",
    "year_month": "same year and month",
    "year": "same year",
    "close": "within a year",
    "near": "within three years",
    "zip": "same ZIP code",
    "street": "same street",
    "variant": "same letters and digits",
    "else": "different",
}
DECIDED_BY_LABELS = {"model": "Linkage model", "new": "New person", "person": "A person"}
CHANGE_LABELS = {"merge": "Merged", "split": "Split", "undo": "Undone"}


# --- shared helpers ----------------------------------------------------------------------


def cleared(actor: Actor, labels: Iterable[str]) -> bool:
    """Whether the actor holds a clearance for every label (administrators too)."""
    return set(labels) <= set(actor.clearances)


def visible_report_ids(session: Session, actor: Actor, report_ids: Iterable[int]) -> set[int]:
    """The subset of ``report_ids`` the actor may open."""
    ids = sorted(set(report_ids))
    if not ids:
        return set()
    query = select(Report.id).where(Report.id.in_(ids), visible(actor, P.INTAKE_REPORT_READ))
    return set(session.scalars(query))


def user_names(session: Session, user_ids: Iterable[int | None]) -> dict[int, str]:
    ids = {i for i in user_ids if i}
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.full_name).where(User.id.in_(ids)))
    return {user_id: name for user_id, name in rows}


def surviving(session: Session, person_id: int) -> tuple[Person, list[int]]:
    """The person ``person_id`` is now: follow ``merged_into_id`` to the end. Returns the
    surviving person and the ids passed on the way (empty when not merged)."""
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"No person with id {person_id}.")
    passed: list[int] = []
    while person.merged_into_id is not None and len(passed) < 100:
        passed.append(person.id)
        person = session.get_one(Person, person.merged_into_id)
    return person, passed


def _absorbed_ids(session: Session, person_id: int) -> set[int]:
    """The person and every person merged into them (transitively)."""
    found = {person_id}
    frontier = {person_id}
    while frontier:
        frontier = (
            set(session.scalars(select(Person.id).where(Person.merged_into_id.in_(frontier))))
            - found
        )
        found |= frontier
    return found


def _display(identifier: Identifier, field_name: Field | None = None) -> str:
    """How an identifier reads in a comparison row (a name's parts in their rows)."""
    if identifier.kind == Kind.NAME and field_name in (Field.GIVEN, Field.SURNAME):
        part = identifier.detail.get("given" if field_name is Field.GIVEN else "surname")
        return f"{part.title()} ({identifier.value})" if part else ""
    return identifier.value


# Which identifier kinds feed each compared field (by name: see ``identifiers.profile_of``).
FIELD_KINDS: dict[str, tuple[str, ...]] = {
    "given": ("name", "nickname"),
    "surname": ("name",),
    "dob": ("date_of_birth",),
    "age": ("approximate_age",),
    "org": ("school", "employer"),
    "handle": ("handle",),
    "phone": ("phone",),
    "email": ("email",),
    "address": ("address",),
    "id_number": ("id_number",),
}


def field_label(name: Field | str) -> str:
    return FIELD_LABELS.get(str(name), str(name).replace("_", " ").capitalize())


def _field_values(items: Sequence[Identifier], name: Field) -> list[str]:
    values = [_display(i, name) for i in items if i.kind in FIELD_KINDS.get(str(name), ())]
    return list(dict.fromkeys(v for v in values if v))


# --- the review queue --------------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    """One open review item: its report and the best candidate's probability."""

    item: ReviewItem
    report: Report
    best_probability: float | None
    candidate_count: int


def review_queue(
    session: Session, actor: Actor, *, limit: int = 100, offset: int = 0
) -> tuple[list[QueueRow], int]:
    """Open review items on reports the actor may see, oldest first, and how many."""
    query = (
        select(ReviewItem, Report)
        .join(Report, Report.id == ReviewItem.report_id)
        .where(ReviewItem.outcome == "open", visible(actor, P.INTAKE_REPORT_READ))
    )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(
        query.order_by(ReviewItem.created_at, ReviewItem.id).limit(limit).offset(offset)
    ).all()
    return [
        QueueRow(
            item=item,
            report=report,
            best_probability=item.candidates[0].get("probability") if item.candidates else None,
            candidate_count=len(item.candidates),
        )
        for item, report in rows
    ], int(total)


# --- one review item ---------------------------------------------------------------------


@dataclass(frozen=True)
class ComparedField:
    """One row of the side-by-side table."""

    field: Field
    label: str
    query: list[str]
    candidate: list[str]
    level: str
    level_label: str
    weight: float


@dataclass
class ReviewCandidate:
    """A scored person next to the report's subject."""

    person: Person  # the surviving person (the one a decision links to)
    scored_id: int  # the person scored when the item was opened
    probability: float | None
    fields: list[ComparedField]
    identifiers: list[tuple[str, list[Identifier]]]
    withheld: int
    reports_shown: int
    reports_hidden: int

    @property
    def merged_since(self) -> bool:
        return self.person.id != self.scored_id


@dataclass
class ReviewPage:
    item: ReviewItem
    report: Report
    subject: list[Normalized]  # the report's subject as identifiers (as given)
    subject_fields: dict[Field, list[str]]
    candidates: list[ReviewCandidate]
    decided_by: str | None = None


def _subject_fields(items: Sequence[Normalized]) -> dict[Field, list[str]]:
    values: dict[Field, list[str]] = {}
    for name in Field:
        kinds = FIELD_KINDS.get(str(name), ())
        found: list[str] = []
        for item in items:
            if item.kind not in kinds:
                continue
            if item.kind == Kind.NAME and name in (Field.GIVEN, Field.SURNAME):
                part = item.detail.get("given" if name is Field.GIVEN else "surname")
                if part:
                    found.append(f"{str(part).title()} ({item.value})")
            else:
                found.append(item.value)
        values[name] = list(dict.fromkeys(found))
    return values


def _grouped(
    actor: Actor, identifiers: Iterable[Identifier]
) -> tuple[list[tuple[str, list[Identifier]]], int]:
    """Identifiers by kind (in ``Kind`` order), without the withheld ones, and how many
    were withheld."""
    groups: dict[str, list[Identifier]] = defaultdict(list)
    withheld = 0
    for identifier in identifiers:
        if not cleared(actor, identifier.labels):
            withheld += 1
            continue
        groups[identifier.kind].append(identifier)
    ordered = [
        (KIND_LABELS.get(Kind(kind), kind) if kind in set(Kind) else kind, groups[kind])
        for kind in [*(k.value for k in Kind), *sorted(set(groups) - set(Kind))]
        if groups.get(kind)
    ]
    return ordered, withheld


def _links_of(session: Session, person_id: int) -> list[ReportLink]:
    return list(
        session.scalars(
            select(ReportLink)
            .where(ReportLink.person_id == person_id, ReportLink.undone_at.is_(None))
            .order_by(ReportLink.created_at, ReportLink.id)
        )
    )


def _compared(
    scored: dict[str, Any], subject: dict[Field, list[str]], shown: Sequence[Identifier]
) -> list[ComparedField]:
    """The rows of one candidate's table: every field either side knows something of."""
    levels, weights = scored.get("levels", {}), scored.get("weights", {})
    rows = []
    for name in Field:
        level = str(levels.get(str(name), NULL))
        values = _field_values(shown, name)
        if not (values or subject.get(name) or level != NULL):
            continue
        rows.append(
            ComparedField(
                field=name,
                label=field_label(name),
                query=subject.get(name, []),
                candidate=values,
                level=level,
                level_label=LEVEL_LABELS.get(level, level),
                weight=float(weights.get(str(name), 0.0)),
            )
        )
    return rows


def review_item(session: Session, actor: Actor, item_id: int) -> ReviewPage:
    """One review item with its report and each candidate side by side.

    ``NotFound`` when the item does not exist or its report is not one the actor may see.
    """
    item = session.get(ReviewItem, item_id)
    if item is None or not visible_report_ids(session, actor, [item.report_id]):
        raise NotFound(f"No review item with id {item_id}.")
    report = session.get_one(Report, item.report_id)
    subject = from_subject(report.subject or {}, year=report.received_at.year)
    subject_fields = _subject_fields(subject)
    candidates: list[ReviewCandidate] = []
    seen: set[int] = set()
    for scored in item.candidates:
        scored_id = int(scored["person_id"])
        try:
            person, _ = surviving(session, scored_id)
        except NotFound:
            continue
        if person.id in seen:
            continue
        seen.add(person.id)
        groups, withheld = _grouped(actor, person.identifiers)
        shown = [i for _, items in groups for i in items]
        report_ids = {link.report_id for link in _links_of(session, person.id)}
        visible_ids = visible_report_ids(session, actor, report_ids)
        candidates.append(
            ReviewCandidate(
                person=person,
                scored_id=scored_id,
                probability=scored.get("probability"),
                fields=_compared(scored, subject_fields, shown),
                identifiers=groups,
                withheld=withheld,
                reports_shown=len(visible_ids),
                reports_hidden=len(report_ids - visible_ids),
            )
        )
    names = user_names(session, [item.decided_by_user_id])
    return ReviewPage(
        item=item,
        report=report,
        subject=subject,
        subject_fields=subject_fields,
        candidates=candidates,
        decided_by=names.get(item.decided_by_user_id or 0),
    )


# --- a person's page ---------------------------------------------------------------------


@dataclass(frozen=True)
class LinkRow:
    link: ReportLink
    report: Report
    decided_by: str  # a person's name, "Linkage model" or "New person"


@dataclass(frozen=True)
class ChangeRow:
    change: PersonChange
    label: str
    who: str
    moved_identifiers: int
    moved_links: int

    @property
    def undoable(self) -> bool:
        return self.change.kind != "undo" and self.change.undone_by_id is None


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    what: str
    detail: str = ""
    href: str | None = None


@dataclass
class PersonPage:
    person: Person  # the surviving person
    requested_id: int
    merged_path: list[int]  # the ids followed to get here (empty when not merged)
    identifiers: list[tuple[str, list[Identifier]]]
    withheld: int
    sources: dict[int, str]  # identifier id -> where it came from
    source_links: dict[int, str]  # identifier id -> report URL (reports the actor may see)
    links: list[LinkRow]
    hidden_links: int
    open_reviews: list[ReviewItem]
    changes: list[ChangeRow]
    timeline: list[TimelineEntry]
    absorbed: list[int] = field(default_factory=list)  # persons merged into this one

    @property
    def merged(self) -> bool:
        return bool(self.merged_path)


def _source_label(identifier: Identifier, visible_ids: set[int]) -> tuple[str, str | None]:
    if identifier.source_type == "report":
        report_id = int(identifier.source_id) if identifier.source_id.isdigit() else None
        if report_id is not None and report_id in visible_ids:
            return f"Report #{report_id}", f"/reports/{report_id}"
        return "A report you cannot open", None
    if identifier.source_type == "import":
        return f"Import, record {identifier.source_id}", None
    return f"{identifier.source_type.title()} {identifier.source_id}".strip(), None


def person_page(session: Session, actor: Actor, person_id: int) -> PersonPage:
    """Everything about one person the actor may see; a merged person is shown as the
    person they were merged into (``merged_path`` says so)."""
    person, path = surviving(session, person_id)
    absorbed = _absorbed_ids(session, person.id)
    groups, withheld = _grouped(actor, person.identifiers)
    all_links = list(
        session.scalars(
            select(ReportLink)
            .where(ReportLink.person_id.in_(absorbed))
            .order_by(ReportLink.created_at, ReportLink.id)
        )
    )
    reviews = list(
        session.scalars(
            select(ReviewItem)
            .where(ReviewItem.person_id.in_(absorbed), ReviewItem.decided_at.is_not(None))
            .order_by(ReviewItem.decided_at)
        )
    )
    identifier_reports = {
        int(i.source_id)
        for i in person.identifiers
        if i.source_type == "report" and i.source_id.isdigit()
    }
    report_ids = {lk.report_id for lk in all_links} | {r.report_id for r in reviews}
    visible_ids = visible_report_ids(session, actor, report_ids | identifier_reports)
    reports = {
        r.id: r
        for r in session.scalars(select(Report).where(Report.id.in_(visible_ids & report_ids)))
    }
    changes = list(
        session.scalars(
            select(PersonChange)
            .where(
                or_(
                    PersonChange.from_person_id.in_(absorbed),
                    PersonChange.to_person_id.in_(absorbed),
                )
            )
            .order_by(PersonChange.at, PersonChange.id)
        )
    )
    names = user_names(
        session,
        [lk.decided_by_user_id for lk in all_links]
        + [lk.undone_by_user_id for lk in all_links]
        + [r.decided_by_user_id for r in reviews]
        + [c.by_user_id for c in changes],
    )

    def who_decided(link: ReportLink) -> str:
        if link.decided_by == "person":
            return names.get(link.decided_by_user_id or 0, "A person")
        return DECIDED_BY_LABELS.get(link.decided_by, link.decided_by)

    active = [lk for lk in all_links if lk.person_id == person.id and lk.undone_at is None]
    links = [
        LinkRow(link=lk, report=reports[lk.report_id], decided_by=who_decided(lk))
        for lk in active
        if lk.report_id in reports
    ]
    hidden_links = len({lk.report_id for lk in active} - set(reports))
    change_rows = [
        ChangeRow(
            change=c,
            label=CHANGE_LABELS.get(c.kind, c.kind),
            who=names.get(c.by_user_id or 0, c.by_label),
            moved_identifiers=len(c.moved.get("identifiers", [])),
            moved_links=len(c.moved.get("links", [])),
        )
        for c in changes
    ]
    sources: dict[int, str] = {}
    source_links: dict[int, str] = {}
    for _, items in groups:
        for identifier in items:
            label, href = _source_label(identifier, visible_ids)
            sources[identifier.id] = label
            if href:
                source_links[identifier.id] = href
    open_reviews = list(
        session.scalars(
            select(ReviewItem)
            .where(ReviewItem.outcome == "open", ReviewItem.report_id.in_(visible_ids))
            .order_by(ReviewItem.created_at)
        )
    )
    open_reviews = [
        r for r in open_reviews if any(int(c.get("person_id", 0)) in absorbed for c in r.candidates)
    ]
    timeline = _timeline(person, all_links, reports, reviews, change_rows, names, who_decided)
    return PersonPage(
        person=person,
        requested_id=person_id,
        merged_path=path,
        identifiers=groups,
        withheld=withheld,
        sources=sources,
        source_links=source_links,
        links=links,
        hidden_links=hidden_links,
        open_reviews=open_reviews,
        changes=change_rows,
        timeline=timeline,
        absorbed=sorted(absorbed - {person.id}),
    )


def _timeline(
    person: Person,
    links: Sequence[ReportLink],
    reports: dict[int, Report],
    reviews: Sequence[ReviewItem],
    changes: Sequence[ChangeRow],
    names: dict[int, str],
    who_decided: Any,
) -> list[TimelineEntry]:
    """What happened, oldest first: reports received, linked and unlinked, reviews
    decided, merges, splits and undos (only about reports the actor may see)."""
    entries = [TimelineEntry(person.created_at, "Person created", f"#{person.id}")]
    received: set[int] = set()
    for link in links:
        report = reports.get(link.report_id)
        if report is None:
            continue
        href = f"/reports/{report.id}"
        if report.id not in received:
            received.add(report.id)
            entries.append(
                TimelineEntry(report.received_at, "Report received", f"#{report.id}", href)
            )
        entries.append(
            TimelineEntry(
                link.created_at, "Linked", f"report #{report.id} by {who_decided(link)}", href
            )
        )
        if link.undone_at is not None:
            who = names.get(link.undone_by_user_id or 0, "someone")
            entries.append(
                TimelineEntry(link.undone_at, "Link undone", f"report #{report.id} by {who}", href)
            )
    for review in reviews:
        if review.report_id not in reports or review.decided_at is None:
            continue
        who = names.get(review.decided_by_user_id or 0, "someone")
        outcome = "same person" if review.outcome == "linked" else "a new person"
        entries.append(
            TimelineEntry(
                review.decided_at,
                "Review decided",
                f"report #{review.report_id}: {outcome}, by {who}: {review.reason}",
                f"/people/review/{review.id}",
            )
        )
    for row in changes:
        c = row.change
        entries.append(
            TimelineEntry(
                c.at,
                row.label,
                f"#{c.from_person_id} → #{c.to_person_id} by {row.who}: {c.reason}",
            )
        )
    return sorted(entries, key=lambda e: e.at)


# --- the report page -----------------------------------------------------------------


@dataclass(frozen=True)
class ReportPeople:
    """Who a report's subject is: linked persons and open review items."""

    persons: list[Person]
    reviews: list[ReviewItem]


def for_report(session: Session, report_id: int) -> ReportPeople:
    """The persons a report is linked to (the surviving ones) and its open reviews."""
    person_ids = session.scalars(
        select(ReportLink.person_id).where(
            ReportLink.report_id == report_id, ReportLink.undone_at.is_(None)
        )
    )
    persons: dict[int, Person] = {}
    for person_id in person_ids:
        person, _ = surviving(session, person_id)
        persons[person.id] = person
    reviews = list(
        session.scalars(
            select(ReviewItem)
            .where(ReviewItem.report_id == report_id, ReviewItem.outcome == "open")
            .order_by(ReviewItem.id)
        )
    )
    return ReportPeople(persons=list(persons.values()), reviews=reviews)


@dataclass(frozen=True)
class ProposalRow:
    proposal: MergeProposal
    person_a: Person
    person_b: Person


def open_proposals(session: Session, *, limit: int) -> list[ProposalRow]:
    """Open merge proposals, most likely first, with both persons (names only: the
    person pages, with their access rules, hold the rest)."""
    query = (
        select(MergeProposal)
        .where(MergeProposal.outcome == "open")
        .order_by(MergeProposal.probability.desc(), MergeProposal.id)
        .limit(limit)
    )
    rows = []
    for proposal in session.scalars(query):
        a = session.get_one(Person, proposal.person_a_id)
        b = session.get_one(Person, proposal.person_b_id)
        rows.append(ProposalRow(proposal, a, b))
    return rows
