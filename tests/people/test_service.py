"""The person registry: linking reports, the review queue, merge, split and undo."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from defchain.audit import AuditEvent
from defchain.errors import Conflict, PermissionDenied, ValidationFailed
from defchain.intake import Report, parse_report
from defchain.intake import service as intake
from defchain.people import Identifier, MergeProposal, Person, ReportLink, ReviewItem
from defchain.people import service as people
from defchain.people.identifiers import profile_of
from defchain.people.rules import LEVELS, Decision, LinkageModel

# Match weights of a plausible model, fixed for the tests (the shipped model is trained).
M = {
    "given": {"exact": 0.85, "fuzzy": 0.05, "nickname": 0.06, "initial": 0.02, "else": 0.02},
    "surname": {"exact": 0.9, "fuzzy": 0.05, "soundex": 0.02, "else": 0.03},
    "dob": {"exact": 0.85, "typo": 0.08, "year_month": 0.02, "year": 0.02, "else": 0.03},
    "age": {"close": 0.8, "near": 0.15, "else": 0.05},
    "org": {"exact": 0.8, "fuzzy": 0.1, "else": 0.1},
    "handle": {"exact": 0.9, "else": 0.1},
    "phone": {"exact": 0.9, "else": 0.1},
    "email": {"exact": 0.9, "else": 0.1},
    "address": {"exact": 0.7, "zip": 0.2, "else": 0.1},
}
U = {
    "given": {"exact": 0.01, "fuzzy": 0.005, "nickname": 0.004, "initial": 0.03, "else": 0.951},
    "surname": {"exact": 0.002, "fuzzy": 0.002, "soundex": 0.01, "else": 0.986},
    "dob": {"exact": 0.0001, "typo": 0.001, "year_month": 0.005, "year": 0.05, "else": 0.9439},
    "age": {"close": 0.1, "near": 0.15, "else": 0.75},
    "org": {"exact": 0.001, "fuzzy": 0.001, "else": 0.998},
    "handle": {"exact": 0.00001, "else": 0.99999},
    "phone": {"exact": 0.00001, "else": 0.99999},
    "email": {"exact": 0.00001, "else": 0.99999},
    "address": {"exact": 0.0001, "zip": 0.01, "else": 0.9899},
}
MODEL = LinkageModel(
    version="test",
    prior=1e-5,
    m=M,
    u=U,
    link_threshold=0.95,
    review_threshold=0.05,
)
assert set(M) <= {str(f) for f in LEVELS}  # a field left out weighs nothing


@pytest.fixture(autouse=True)
def test_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(people, "default_model", lambda: MODEL)


def report(db: Session, cast: Any, clock: Any, **subject: Any) -> Report:
    cast.jurisdiction.intake_agency_id = cast.agency_a.id
    data = parse_report(
        {
            "kind": "tip",
            "channel": "web",
            "jurisdiction_id": cast.jurisdiction.id,
            "narrative": "Said he would bring a rifle to the assembly.",
            "subject": subject,
        },
        now=clock.now(),
    )
    return intake.receive(db, data=data, source=intake.PUBLIC, now=clock.now())


def link(db: Session, cast: Any, clock: Any, **subject: Any) -> people.LinkOutcome:
    found = report(db, cast, clock, **subject)
    return people.link_report(db, report=found, who=cast.actor("analyst_a"), now=clock.now())


JAYDEN = {
    "name": "Jayden R. Morales",
    "date_of_birth": "2008-03-14",
    "school": "Westfield High School",
    "phone": "(614) 555-0142",
}


def test_a_first_report_creates_the_person_and_a_second_one_links_to_them(
    db: Session, cast: Any, clock: Any
) -> None:
    first = link(db, cast, clock, **JAYDEN)
    assert first.decision is Decision.NEW and first.person_id is not None
    person = db.get_one(Person, first.person_id)
    assert person.display_name == "Jayden R. Morales"
    kinds = sorted(i.kind for i in person.identifiers)
    assert kinds == ["date_of_birth", "name", "phone", "school"]
    # A denial notice with the name in capitals, the same date of birth.
    second = link(db, cast, clock, name="MORALES, JAYDEN", date_of_birth="2008-03-14")
    assert second.decision is Decision.LINK and second.person_id == person.id
    assert second.probability is not None and second.probability >= MODEL.link_threshold
    links = list(db.scalars(select(ReportLink).where(ReportLink.person_id == person.id)))
    assert {lk.decided_by for lk in links} == {"new", "model"}
    tags = set(db.scalars(select(AuditEvent.tag)))
    assert {"people:person:created", "people:report:linked"} <= tags


def test_a_nickname_and_a_school_go_to_review_and_a_person_decides(
    db: Session, cast: Any, clock: Any
) -> None:
    first = link(db, cast, clock, **JAYDEN)
    partial = link(db, cast, clock, nickname="Jay", school="Westfield High")
    assert partial.decision is Decision.REVIEW and partial.review_item_id is not None
    item = db.get_one(ReviewItem, partial.review_item_id)
    assert item.candidates[0]["person_id"] == first.person_id
    assert item.candidates[0]["levels"]["given"] == "nickname"
    assert item.candidates[0]["weights"]["dob"] == 0  # missing: no weight either way
    analyst = cast.actor("analyst_a")
    with pytest.raises(ValidationFailed, match="reason"):
        people.decide_review(
            db,
            actor=analyst,
            item_id=item.id,
            person_id=first.person_id,
            reason=" ",
            now=clock.now(),
        )
    decided = people.decide_review(
        db,
        actor=analyst,
        item_id=item.id,
        person_id=first.person_id,
        reason="Same school, junior, called Jay by classmates.",
        now=clock.now(),
    )
    assert decided.decided_by == "person" and decided.decided_by_user_id == analyst.audit_id
    assert item.outcome == "linked" and item.reason.startswith("Same school")
    assert "jay" in {i.normalized for i in db.get_one(Person, first.person_id).identifiers}
    with pytest.raises(Conflict):
        people.decide_review(
            db, actor=analyst, item_id=item.id, person_id=None, reason="again", now=clock.now()
        )


def test_an_unrelated_report_gets_a_new_person_and_a_report_without_names_gets_none(
    db: Session, cast: Any, clock: Any
) -> None:
    link(db, cast, clock, **JAYDEN)
    other = link(db, cast, clock, name="Priya Example", school="Eastlake Middle School")
    assert other.decision is Decision.NEW
    nothing = link(db, cast, clock, school="Westfield High School")
    assert nothing.decision is None and nothing.person_id is None


def test_an_invalid_value_is_kept_and_reported_never_dropped(
    db: Session, cast: Any, clock: Any
) -> None:
    outcome = link(db, cast, clock, name="Alex Example", phone="12")
    assert outcome.invalid and outcome.invalid[0].startswith("phone:")
    person = db.get_one(Person, outcome.person_id)
    phone = next(i for i in person.identifiers if i.kind == "phone")
    assert phone.value == "12" and phone.normalized == "" and phone.detail["invalid"]


def test_a_handle_alone_finds_the_person(db: Session, cast: Any, clock: Any) -> None:
    first = link(db, cast, clock, name="Sam Example", online_handle="@sam_x_2009")
    again = link(db, cast, clock, online_handle="sam_x_2009")
    assert again.person_id == first.person_id or again.decision is Decision.REVIEW


def test_merge_and_its_undo_restore_every_identifier_and_link(
    db: Session, cast: Any, clock: Any
) -> None:
    a = link(db, cast, clock, **JAYDEN)
    b = link(db, cast, clock, name="Jay Moralez", online_handle="jmor08")
    assert a.person_id != b.person_id
    assert a.person_id is not None and b.person_id is not None
    before = {
        pid: (
            sorted(i.id for i in db.get_one(Person, pid).identifiers),
            sorted(db.scalars(select(ReportLink.id).where(ReportLink.person_id == pid))),
        )
        for pid in (a.person_id, b.person_id)
    }
    lead = cast.actor("lead_a")
    change = people.merge(
        db, actor=lead, keep_id=a.person_id, merge_id=b.person_id, reason="same", now=clock.now()
    )
    merged = db.get_one(Person, a.person_id)
    assert len(merged.identifiers) == len(before[a.person_id][0]) + len(before[b.person_id][0])
    assert db.get_one(Person, b.person_id).merged_into_id == a.person_id
    # The handle is now found under the kept person.
    found = people.candidates(db, profile_of([("handle", "jmor08", {})]))
    assert found and found[0].person_id == a.person_id
    with pytest.raises(Conflict):
        people.merge(
            db, actor=lead, keep_id=b.person_id, merge_id=a.person_id, reason="x", now=clock.now()
        )
    reverse = people.undo(db, actor=lead, change_id=change.id, reason="wrong", now=clock.now())
    assert reverse.kind == "undo" and change.undone_by_id == reverse.id
    after = {
        pid: (
            sorted(i.id for i in db.get_one(Person, pid).identifiers),
            sorted(db.scalars(select(ReportLink.id).where(ReportLink.person_id == pid))),
        )
        for pid in (a.person_id, b.person_id)
    }
    assert after == before
    assert db.get_one(Person, b.person_id).merged_into_id is None
    with pytest.raises(Conflict):
        people.undo(db, actor=lead, change_id=change.id, reason="again", now=clock.now())


def test_split_and_its_undo(db: Session, cast: Any, clock: Any) -> None:
    a = link(db, cast, clock, **JAYDEN)
    assert a.person_id is not None
    person = db.get_one(Person, a.person_id)
    phone = next(i for i in person.identifiers if i.kind == "phone")
    lead = cast.actor("lead_a")
    with pytest.raises(ValidationFailed, match="identifiers"):
        people.split(
            db, actor=lead, person_id=person.id, identifier_ids=[], link_ids=[], reason="x",
            now=clock.now(),
        )  # fmt: skip
    change = people.split(
        db,
        actor=lead,
        person_id=person.id,
        identifier_ids=[phone.id],
        link_ids=[],
        reason="The phone belongs to his brother.",
        now=clock.now(),
    )
    assert db.get_one(Identifier, phone.id).person_id == change.to_person_id
    db.expire_all()
    assert phone.id not in {i.id for i in db.get_one(Person, person.id).identifiers}
    people.undo(db, actor=lead, change_id=change.id, reason="It is his.", now=clock.now())
    assert db.get_one(Identifier, phone.id).person_id == person.id
    assert db.get_one(Person, change.to_person_id).merged_into_id == person.id


def test_undoing_a_link_sends_the_report_back_to_review(db: Session, cast: Any, clock: Any) -> None:
    a = link(db, cast, clock, **JAYDEN)
    b = link(db, cast, clock, name="Jayden Morales", date_of_birth="2008-03-14")
    assert b.decision is Decision.LINK
    active = db.scalars(
        select(ReportLink).where(
            ReportLink.person_id == a.person_id, ReportLink.decided_by == "model"
        )
    ).one()
    item = people.undo_link(
        db, actor=cast.actor("analyst_a"), link_id=active.id, reason="Different Jayden.",
        now=clock.now(),
    )  # fmt: skip
    assert active.undone_at is not None and item.outcome == "open"
    sources = {i.source_id for i in db.get_one(Person, a.person_id).identifiers}
    assert str(active.report_id) not in sources


def test_deciding_needs_the_permission(db: Session, cast: Any, clock: Any) -> None:
    link(db, cast, clock, **JAYDEN)
    partial = link(db, cast, clock, nickname="Jay", school="Westfield High")
    assert partial.review_item_id is not None
    with pytest.raises(PermissionDenied):
        people.decide_review(
            db,
            actor=cast.actor("oversight"),
            item_id=partial.review_item_id,
            person_id=None,
            reason="x",
            now=clock.now(),
        )


def test_a_proposed_merge_waits_for_a_person_and_is_proposed_once(
    db: Session, cast: Any, clock: Any
) -> None:
    a = link(db, cast, clock, **JAYDEN)
    b = link(db, cast, clock, name="Jay Moralez", online_handle="jmor08")
    assert a.person_id is not None and b.person_id is not None
    pair = people.Pair(b.person_id, a.person_id, 0.97, {"surname": 5.1})
    system = cast.actor("admin")
    assert people.propose_merges(db, pairs=[pair, pair], who=system, now=clock.now()) == 1
    assert people.propose_merges(db, pairs=[pair], who=system, now=clock.now()) == 0
    proposal = db.scalars(select(MergeProposal)).one()
    assert (proposal.person_a_id, proposal.person_b_id) == (a.person_id, b.person_id)
    assert db.get_one(Person, b.person_id).merged_into_id is None  # nothing merged silently
    with pytest.raises(ValidationFailed, match="reason"):
        people.decide_proposal(
            db, actor=system, proposal_id=proposal.id, merge_them=True, reason="", now=clock.now()
        )
    people.decide_proposal(
        db,
        actor=cast.actor("lead_a"),
        proposal_id=proposal.id,
        merge_them=True,
        reason="Same phone, same school.",
        now=clock.now(),
    )
    assert proposal.outcome == "merged"
    assert db.get_one(Person, b.person_id).merged_into_id == a.person_id


def test_link_pending_takes_each_new_report_once(db: Session, cast: Any, clock: Any) -> None:
    report(db, cast, clock, **JAYDEN)
    report(db, cast, clock, nickname="Jay", school="Westfield High")
    report(db, cast, clock)  # no subject at all: looked at, nothing to link
    system = cast.actor("admin")
    assert people.link_pending(db, who=system, now=clock.now(), limit=10) == 3
    outcomes = sorted(db.scalars(select(ReviewItem.outcome)))
    assert outcomes == ["no_subject", "open"]
    assert people.link_pending(db, who=system, now=clock.now(), limit=10) == 0
