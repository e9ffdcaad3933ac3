"""Fictitious reports for ``defchain demo``: every kind, over the last 30 days.

Written through ``intake.service`` (receive, tipster and staff messages, ownership), so
each one is validated, audited and searchable exactly like a real one. Names come from
Faker with a fixed seed and carry "(demo)", so nobody mistakes them for real people.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from faker import Faker
from sqlalchemy import select
from sqlalchemy.orm import Session

from defchain import audit
from defchain.access import Actor, Agency, AgencyKind, User, service
from defchain.access.schemas import JurisdictionIn
from defchain.intake import Report, Status, parse_report
from defchain.intake import service as intake
from defchain.triage import service as triage

REPORTS_SEED = 20261127


@dataclass(frozen=True)
class DemoReport:
    """One report to seed: how many days and hours ago, who enters it, and its data."""

    days_ago: float
    author: str | None  # a demo username, or None for the public tip page
    data: dict[str, Any]
    thread: tuple[str, ...] = ()  # alternating tipster / staff messages
    owner: str | None = None
    status: Status | None = None


def _person(fake: Faker) -> str:
    return f"{fake.first_name()} {fake.last_name()} (demo)"


def _at(now: datetime, days_ago: float) -> str:
    return (now - timedelta(days=days_ago, hours=2)).isoformat()


def demo_reports(fake: Faker, now: datetime, school: str) -> list[DemoReport]:
    """About twenty reports of all kinds; dates relative to ``now``."""
    p = [_person(fake) for _ in range(12)]
    return [
        DemoReport(29, None, {
            "kind": "tip", "channel": "web",
            "narrative": f"{p[0]} keeps posting about the homecoming game and says people "
            "will be sorry. He showed a rifle in a video last week.",
            "subject": {"name": p[0], "school": school, "online_handle": "@demo_handle_1"},
            "details": {"weapons": "yes", "weapons_text": "A rifle in a video",
                        "date_or_target": "yes", "date_or_target_text": "Homecoming game",
                        "how_known": "I follow him online"},
        }, thread=("He deleted the video but I saved a copy.",
                   "Thank you. Can you tell us when it was posted?",
                   "Last Tuesday night."), owner="demo.analyst", status=Status.IN_REVIEW),
        DemoReport(27, "demo.analyst", {
            "kind": "sar", "channel": "staff", "location": "Riverside substation (demo)",
            "narrative": "Patrol observed a man photographing the fence line and cameras.",
            "details": {"categories": ["PHOTO", "SURVL"], "site": "Riverside substation (demo)",
                        "why_suspicious": "Photographed each camera and the gate lock for 40 "
                        "minutes, took notes on a clipboard.",
                        "other_factors": "Left quickly when approached and gave a false name; "
                        "vehicle plate covered."},
        }, status=Status.CLOSED),
        DemoReport(25, "demo.analyst", {
            "kind": "nics_denial", "channel": "staff",
            "details": {"denied_at": _at(now, 25), "transaction_number": "NTN-DEMO-0001",
                        "denial_category": "protection_order",
                        "purchaser": {"name": p[1], "date_of_birth": "1988-03-14"},
                        "dealer": {"name": "Demo Sporting Goods (fictitious)",
                                   "address": "100 Example Rd"},
                        "agencies_notified": ["ATF field office (demo)"]},
        }, owner="demo.analyst", status=Status.IN_REVIEW),
        DemoReport(23, "demo.analyst", {
            "kind": "tip", "channel": "phone",
            "narrative": f"A coworker says {p[2]} talked about 'making them pay' after being "
            "fired and asked where to buy ammunition.",
            "subject": {"name": p[2], "workplace": "Demo Logistics (fictitious)"},
            "reporter": {"name": _person(fake), "phone": "(555) 555-0111",
                         "relationship": "coworker"},
            "details": {"weapons": "unknown", "how_known": "Heard it at work"},
        }),
        DemoReport(21, "demo.member", {
            "kind": "referral", "channel": "staff",
            "subject": {"name": p[3], "school": school, "approximate_age": 16},
            "details": {"organization_type": "school", "organization_name": school,
                        "referrer_role": "School counselor",
                        "behaviors": "Essay describing an attack on classmates; fixation on "
                        "past school shooters; recent loss of a parent.",
                        "actions_taken": "Parents contacted; safety plan started."},
        }),
        DemoReport(19, None, {
            "kind": "tip", "channel": "web", "danger_now": True,
            "narrative": "Someone in my group chat said he is bringing a gun to school "
            "tomorrow and listed names.",
            "subject": {"nickname": "DJ", "school": school},
            "details": {"weapons": "yes", "date_or_target": "yes",
                        "date_or_target_text": "Tomorrow, at school",
                        "how_known": "Group chat"},
        }, thread=("Will he get in trouble for this?",
                   "We are looking into it. Thank you for telling us."),
            owner="demo.analyst", status=Status.CLOSED),
        DemoReport(17, "demo.analyst", {
            "kind": "purchase_attempt", "channel": "staff",
            "details": {"attempted_at": _at(now, 17), "sought": "Three identical pistols",
                        "behavior": "A second man chose the guns and handed the buyer cash; "
                        "the buyer could not say what caliber he wanted.",
                        "straw_indicators": ["companion_chooses", "companion_pays",
                                             "multiple_same_model"],
                        "dealer": {"name": "Demo Outdoor Supply (fictitious)",
                                   "id_number": "9-99-999-99-9Z-99999"},
                        "purchaser": {"name": p[4]}},
        }),
        DemoReport(15, "demo.analyst", {
            "kind": "wellness_check", "channel": "staff",
            "subject": {"name": p[5], "address": "12 Example Court"},
            "details": {"officer": "Officer Demo #101", "checked_at": _at(now, 15),
                        "contact_made": True, "observed_state": "Withdrawn, had not slept",
                        "statements": "Said 'nobody will miss me, or them'.",
                        "weapons_seen": "no", "weapons_access_reported": "yes",
                        "weapons_text": "Family member keeps a shotgun in the house",
                        "others_in_home": "Mother, younger brother",
                        "referral_made": True, "referral_to": "County crisis team",
                        "hold_initiated": False, "officer_concern": "high"},
        }, owner="demo.analyst", status=Status.IN_REVIEW),
        DemoReport(13, "demo.analyst", {
            "kind": "direct_threat", "channel": "staff",
            "details": {"recipient": "Demo City Council member (fictitious)",
                        "medium": "email", "threat_text": "You will regret the vote on Tuesday. "
                        "I know where you park.", "received_at": _at(now, 13),
                        "target_named": "yes"},
            "subject": {"online_handle": "angry.demo.voter@example.org"},
        }),
        DemoReport(12, "demo.fusion", {
            "kind": "sar", "channel": "staff",
            "details": {"categories": ["TESTSEC"], "site": "Demo County courthouse",
                        "why_suspicious": "Same person tried every side door twice and asked "
                        "guards about their rounds."},
        }),
        DemoReport(10, None, {
            "kind": "tip", "channel": "web",
            "narrative": f"My neighbor {p[6]} has been building something in his garage and "
            "talks about the 'day of reckoning'.",
            "subject": {"name": p[6]},
            "details": {"weapons": "unknown", "how_known": "I live next door"},
        }, thread=("I saw him carrying boxes again tonight.",)),
        DemoReport(9, "demo.analyst", {
            "kind": "tip", "channel": "walk_in",
            "narrative": f"A parent came in: her son's friend {p[7]} showed a handgun at a "
            "party and said he would use it on a teacher.",
            "subject": {"name": p[7], "school": school, "approximate_age": 15},
            "reporter": {"name": _person(fake), "phone": "(555) 555-0123",
                         "relationship": "parent of a friend"},
            "details": {"weapons": "yes", "weapons_text": "Handgun",
                        "date_or_target": "yes", "date_or_target_text": "A teacher",
                        "how_known": "Her son was there"},
        }, owner="demo.analyst", status=Status.IN_REVIEW),
        DemoReport(8, "demo.analyst", {
            "kind": "nics_denial", "channel": "staff",
            "details": {"denied_at": _at(now, 8), "transaction_number": "NTN-DEMO-0002",
                        "denial_category": "mental_health_adjudication",
                        "purchaser": {"name": p[8], "date_of_birth": "1999-11-02"},
                        "dealer": {"name": "Demo Sporting Goods (fictitious)",
                                   "address": "100 Example Rd"}},
        }),
        DemoReport(7, "demo.member", {
            "kind": "referral", "channel": "staff",
            "subject": {"name": p[9], "workplace": "Demo Community College (fictitious)"},
            "details": {"organization_type": "campus",
                        "organization_name": "Demo Community College (fictitious)",
                        "behaviors": "Threatening posts about a professor after a failing "
                        "grade; showed up at her office twice."},
        }),
        DemoReport(6, "demo.analyst", {
            "kind": "wellness_check", "channel": "staff",
            "subject": {"name": p[10]},
            "details": {"officer": "Officer Demo #214", "checked_at": _at(now, 6),
                        "contact_made": False, "observed_state": "Nobody answered; lights on",
                        "weapons_seen": "unknown", "officer_concern": "moderate"},
        }),
        DemoReport(5, "demo.analyst", {
            "kind": "purchase_attempt", "channel": "staff",
            "details": {"attempted_at": _at(now, 5), "sought": "Body armor and 1,000 rounds",
                        "behavior": "Nervous, asked whether the store reports large orders.",
                        "dealer": {"name": "Demo Outdoor Supply (fictitious)"}},
        }),
        DemoReport(4, "demo.analyst", {
            "kind": "direct_threat", "channel": "staff",
            "details": {"recipient": f"{school} front office", "medium": "phone",
                        "threat_text": "Caller said there would be 'a surprise' at the "
                        "assembly and hung up.", "received_at": _at(now, 4),
                        "target_named": "no"},
        }, owner="demo.analyst", status=Status.IN_REVIEW),
        DemoReport(3, "demo.analyst", {
            "kind": "tip", "channel": "phone",
            "narrative": "Anonymous caller: a man at the bus depot said he has 'a plan for "
            "the parade'.",
            "location": "Demo bus depot",
            "details": {"weapons": "no", "date_or_target": "yes",
                        "date_or_target_text": "The parade", "how_known": "Overheard"},
        }),
        DemoReport(1.5, "demo.fusion", {
            "kind": "sar", "channel": "staff",
            "details": {"categories": ["MATRLS"], "site": "Demo farm supply store",
                        "why_suspicious": "Bought large amounts of fertilizer and asked about "
                        "detonators; paid cash.",
                        "other_factors": "No farm or land registered; refused to say what it "
                        "was for; asked the clerk not to write down the sale."},
        }),
        DemoReport(0.5, None, {
            "kind": "tip", "channel": "web",
            "narrative": f"{p[11]} said online that he will 'finish what others started' and "
            "posted a photo of ammunition.",
            "subject": {"name": p[11], "online_handle": "@demo_handle_2"},
            "details": {"weapons": "yes", "how_known": "Saw the post"},
        }),
        # The same student again, from a counselor's call: the registry links it to the
        # person of the first tip (same name and school).
        DemoReport(2, "demo.analyst", {
            "kind": "tip", "channel": "phone",
            "narrative": f"The school counselor called: {p[0]} told a classmate to stay home "
            "on the day of the homecoming game.",
            "subject": {"name": p[0], "school": school, "date_of_birth": "2009-05-02"},
            "details": {"weapons": "unknown", "date_or_target": "yes",
                        "date_or_target_text": "Homecoming game",
                        "how_known": "A classmate told the counselor"},
        }),
        # Only a handle: maybe the same student; the review queue asks a person.
        DemoReport(0.2, None, {
            "kind": "tip", "channel": "web",
            "narrative": "The account @demo_handle_1 posted a countdown to the homecoming game "
            "with a picture of a rifle.",
            "subject": {"online_handle": "@demo_handle_1"},
            "details": {"weapons": "yes", "how_known": "Saw the post"},
        }),
    ]  # fmt: skip


def seed_reports(
    session: Session,
    *,
    actor: Actor,
    fake: Faker,
    jurisdiction_id: int,
    agencies: dict[AgencyKind, Agency],
    users: dict[str, User],
    now: datetime,
) -> int:
    """Open the public tip page to the police department and seed the reports."""
    police = agencies[AgencyKind.POLICE]
    jurisdiction = police.jurisdiction
    fields = ("name", "state", "county", "city", "timezone", "warning_signs_md")
    data = {f: getattr(jurisdiction, f) for f in fields}
    service.update_jurisdiction(
        session,
        actor=actor,
        jurisdiction=jurisdiction,
        data=JurisdictionIn(**data, intake_agency_id=police.id),
        now=now,
    )
    fake.seed_instance(REPORTS_SEED)
    school = agencies[AgencyKind.SCHOOL_DISTRICT].name.replace(
        " Unified School District (demo)", " High School (demo)"
    )
    staff = {name: service.actor_for(session, user) for name, user in users.items()}
    seeded = demo_reports(fake, now, school)
    for item in seeded:
        _seed_one(session, item, staff, jurisdiction_id, now)
    # Triage, route, link and cluster every report, as the server does after each commit.
    audit.lock_chain(session)
    triage.process_pending(session, now=now, limit=len(seeded))
    # A report closed with a disposition has no open links left to break.
    for report in session.scalars(select(Report).where(Report.status == Status.CLOSED)):
        triage.close_links_of_closed_report(session, actor=actor, report=report, now=now)
    return len(seeded)


def _seed_one(
    session: Session,
    item: DemoReport,
    staff: dict[str, Actor],
    jurisdiction_id: int,
    now: datetime,
) -> None:
    at = now - timedelta(days=item.days_ago)
    data = dict(item.data)
    if item.author is None:
        data["jurisdiction_id"] = jurisdiction_id
    source = intake.Source(actor=staff[item.author]) if item.author else intake.PUBLIC
    report = intake.receive(session, data=parse_report(data, now=at), source=source, now=at)
    for n, body in enumerate(item.thread):
        moment = at + timedelta(hours=2 * (n + 1))
        if n % 2 == 0:
            intake.tipster_message(session, report=report, body=body, now=moment)
        else:
            intake.staff_message(
                session, actor=staff["demo.analyst"], report=report, body=body, now=moment
            )
    later = at + timedelta(hours=1)
    if item.owner:
        intake.take_ownership(session, actor=staff[item.owner], report=report, now=later)
    if item.status:
        intake.set_status(
            session, actor=staff[item.owner or "demo.analyst"], report=report,
            status=item.status, now=later + timedelta(minutes=30),
        )  # fmt: skip
