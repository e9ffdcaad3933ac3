"""Receive reports from every channel, and run the anonymous tipster thread.

Every function takes ``session`` keyword-only (and ``actor`` when staff act), writes an
audit event in the same transaction and flushes; the boundary commits, and a report is
acknowledged only after that commit returns.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from defchain import audit, notify
from defchain.access import Actor, Agency, Jurisdiction, Permission, Role, User, require
from defchain.access.rules import is_locked, lockout_after_failure
from defchain.access.security import hash_password, token_digest, verify_password
from defchain.db import cached_get, preassign_ids, transaction_cache
from defchain.errors import Conflict, DomainError, NotFound, ValidationFailed
from defchain.intake.attachments import (
    MAX_ATTACHMENTS,
    AttachmentRefused,
    Cleaned,
    display_name,
)
from defchain.intake.attachments import clean as clean_attachment
from defchain.intake.models import Attachment, Integration, Report, TipMessage
from defchain.intake.rules import (
    DEFAULT_LABELS,
    Channel,
    ReportKind,
    Status,
    label_set,
    new_tip_code,
    normalize_tip_code,
    passphrase_problem,
    search_text,
    to_the_minute,
)
from defchain.intake.schemas import ReportIn

P = Permission
FOLLOWUP_LOCK_THRESHOLD = 5
FOLLOWUP_LOCK_MINUTES = 15
MAX_MESSAGE_LENGTH = 5000


@dataclass(frozen=True)
class Source:
    """Who is handing us a report: a staff member, an integration, or the public."""

    actor: Actor | None = None
    integration: Integration | None = None

    @property
    def label(self) -> str:
        if self.actor is not None:
            return self.actor.label
        if self.integration is not None:
            return f"integration:{self.integration.name} (#{self.integration.id})"
        return "public"

    @property
    def audit_id(self) -> int | None:
        return self.actor.audit_id if self.actor is not None else None


PUBLIC = Source()


def _audit(
    session: Session,
    who: audit.Recorded,
    tag: str,
    report: Report,
    changes: dict[str, Any],
    now: datetime,
) -> None:
    audit.record_by(
        session,
        who,
        tag=tag,
        subject_type="report",
        subject_id=report.id,
        changes=changes,
        at=now,
    )


def _placement(session: Session, data: ReportIn, source: Source) -> tuple[int, int]:
    """The (jurisdiction, agency) a new report belongs to."""
    if source.actor is not None and source.actor.agency_id:
        agency = cached_get(session, Agency, source.actor.agency_id)
    elif source.integration is not None:
        agency = cached_get(session, Agency, source.integration.agency_id)
    else:
        agency = None
    if agency is not None:
        return data.jurisdiction_id or agency.jurisdiction_id, agency.id
    if data.jurisdiction_id is None:
        raise ValidationFailed(
            "jurisdiction_id: choose where this happened.", field="jurisdiction_id"
        )
    jurisdiction = cached_get(session, Jurisdiction, data.jurisdiction_id)
    if jurisdiction is None or jurisdiction.intake_agency_id is None:
        raise ValidationFailed(
            "jurisdiction_id: this jurisdiction does not take reports here.",
            field="jurisdiction_id",
        )
    return jurisdiction.id, jurisdiction.intake_agency_id


def _subject(data: ReportIn) -> dict[str, Any]:
    subject = data.subject.model_dump()
    if data.subject.is_empty() and data.kind in (
        ReportKind.NICS_DENIAL,
        ReportKind.PURCHASE_ATTEMPT,
    ):
        purchaser = data.details.get("purchaser") or {}
        subject.update({k: purchaser.get(k, "") for k in ("name", "date_of_birth", "address")})
    return subject


@dataclass(frozen=True)
class Incoming:
    """One validated report to store, who hands it over, and when it arrived."""

    data: ReportIn
    source: Source
    now: datetime


Received = tuple[Report, bool]
"""A stored report, and whether this call created it (false: its integration had sent
the same ``external_id`` before, and this is the report stored then)."""


def receive(session: Session, *, data: ReportIn, source: Source, now: datetime) -> Report:
    """Store one validated report; public web tips get a tip code and minute precision."""
    return _one(receive_batch(session, [Incoming(data, source, now)]))[0]


def receive_from_integration(
    session: Session, *, data: ReportIn, integration: Integration, now: datetime
) -> Received:
    """Store a report forwarded through the API: ``(report, created)``.

    A repeated ``external_id`` from the same integration returns the report already
    stored, with ``created`` false, so a client may retry after a lost response. Two
    concurrent first attempts race on the unique index; the loser gets the winner's report.
    """
    return _one(receive_batch(session, [Incoming(data, Source(integration=integration), now)]))


def _one(outcomes: list[Received | DomainError]) -> Received:
    outcome = outcomes[0]
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome


def receive_batch(session: Session, entries: Sequence[Incoming]) -> list[Received | DomainError]:
    """Store many reports in the current transaction: one insert for all of them, one for
    their audit events. A group commit (``defchain.groupcommit``) calls it with every
    report waiting; ``receive`` calls it with one.

    Returns, for each entry in order, ``(report, created)``, or the ``DomainError`` that
    refused it (nothing of a refused entry is written). Public web tips get a tip code and
    times to the minute. When another transaction stored the same ``external_id`` first,
    a batch of one returns that report; a larger batch raises ``IntegrityError`` (roll
    back to before the call), so that the caller can store its entries one at a time.
    """
    outcomes: list[Received | DomainError | None] = [None] * len(entries)
    keys = [_external_key(entry) for entry in entries]
    known = _by_external_ids(session, {key for key in keys if key is not None})
    new: list[tuple[int, Report, Incoming]] = []
    first_of: dict[tuple[int, str], int] = {}  # an external id sent twice in one batch
    for index, (entry, key) in enumerate(zip(entries, keys, strict=True)):
        if key is not None and key in known:
            outcomes[index] = (known[key], False)
            continue
        if key is not None and key in first_of:
            continue  # filled in below with the first one's report
        try:
            report = _new_report(session, entry)
        except DomainError as exc:
            outcomes[index] = exc
            continue
        new.append((index, report, entry))
        if key is not None:
            first_of[key] = index
    if new:
        _assign_tip_codes(session, [report for _, report, _ in new if report.tip_code == ""])
        reports = [report for _, report, _ in new]
        if len(entries) == 1 and keys[0] is not None:  # it may lose a race: a savepoint
            try:
                with session.begin_nested():  # flushes what was pending before: not this row
                    session.add(reports[0])
                    session.flush()
            except IntegrityError:
                existing = _by_external_ids(session, {keys[0]}).get(keys[0])
                if existing is None:
                    raise
                return [(existing, False)]
        else:
            preassign_ids(session, reports)
            session.add_all(reports)
            session.flush()
        audit.record_many(session, [_received_event(report, entry) for _, report, entry in new])
        for index, report, _ in new:
            outcomes[index] = (report, True)
    done: list[Received | DomainError] = []
    for outcome, key in zip(outcomes, keys, strict=True):
        if outcome is None:  # a repeat, within this batch, of a stored external id
            first = outcomes[first_of[key]] if key is not None else None
            assert isinstance(first, tuple)
            outcome = (first[0], False)
        done.append(outcome)
    return done


def _external_key(entry: Incoming) -> tuple[int, str] | None:
    if entry.source.integration is None or not entry.data.external_id:
        return None  # "" is no id (and must not collide)
    return entry.source.integration.id, entry.data.external_id


def _by_external_ids(session: Session, keys: set[tuple[int, str]]) -> dict[tuple[int, str], Report]:
    if not keys:
        return {}
    query = select(Report).where(
        Report.integration_id.in_({integration for integration, _ in keys}),
        Report.external_id.in_({external for _, external in keys}),
    )
    found: dict[tuple[int, str], Report] = {}
    for report in session.scalars(query):
        if report.integration_id is not None and report.external_id is not None:
            key = (report.integration_id, report.external_id)
            if key in keys:
                found[key] = report
    return found


def _new_report(session: Session, entry: Incoming) -> Report:
    """The report row for one entry, checked and placed, not yet flushed."""
    data, source = entry.data, entry.source
    if source.actor is not None:
        needed = (
            P.INTAKE_REPORT_IMPORT if data.channel is Channel.IMPORT else P.INTAKE_REPORT_CREATE
        )
        require(source.actor, needed)
    if source.integration is not None:
        check_jurisdiction(session, data.jurisdiction_id)
    jurisdiction_id, agency_id = _placement(session, data, source)
    public = data.channel is Channel.WEB and source.actor is None
    labels = sorted(set(DEFAULT_LABELS.get(data.kind, frozenset())) | set(data.labels))
    subject = _subject(data)
    return Report(
        kind=data.kind,
        channel=data.channel,
        status=Status.NEW,
        received_at=to_the_minute(entry.now) if public else entry.now,
        jurisdiction_id=jurisdiction_id,
        agency_id=agency_id,
        created_by_user_id=source.actor.audit_id if source.actor else None,
        danger_now=data.danger_now,
        narrative=data.narrative,
        location=data.location,
        occurred_at_text=data.occurred_at_text,
        subject=subject,
        details=data.details,
        reporter=data.reporter.model_dump() if data.reporter else None,
        labels=labels,
        label_set=label_set(labels),
        tip_code="" if public else None,  # "": one is assigned before the insert
        integration_id=source.integration.id if source.integration else None,
        external_id=data.external_id or None,
        search_text=search_text(
            data.narrative, data.location, data.occurred_at_text, subject, data.details
        ),
    )


def _received_event(report: Report, entry: Incoming) -> audit.Entry:
    return audit.Entry(
        actor_id=entry.source.audit_id,
        actor_label=entry.source.label,
        tag="intake:report:received",
        subject_type="report",
        subject_id=report.id,
        changes={
            "kind": [None, report.kind],
            "channel": [None, report.channel],
            "agency_id": [None, report.agency_id],
            "labels": [None, report.labels],
        },
        at=report.received_at,
    )


def _assign_tip_codes(session: Session, reports: list[Report]) -> None:
    """A fresh tip code for each report, unused in the database and in this batch."""
    for _ in range(10):
        if not reports:
            return
        codes = {new_tip_code() for _ in reports}
        codes -= set(session.scalars(select(Report.tip_code).where(Report.tip_code.in_(codes))))
        while codes and reports:
            reports.pop().tip_code = codes.pop()
    if reports:  # pragma: no cover - 59 random bits: ten collisions in a row do not happen
        raise Conflict("tip_code: could not allocate a unique code; try again.")


# --- the anonymous tipster ----------------------------------------------------------


def set_passphrase(session: Session, *, report: Report, passphrase: str, now: datetime) -> None:
    """The tipster chooses a passphrase once, right after submitting."""
    if report.tip_code is None:
        raise ValidationFailed("report: this report has no tip code.", field="report")
    if report.passphrase_hash is not None:
        raise Conflict(
            "passphrase: a passphrase was already chosen for this tip code.", field="passphrase"
        )
    problem = passphrase_problem(passphrase)
    if problem:
        raise ValidationFailed(f"passphrase: {problem}", field="passphrase")
    report.passphrase_hash = hash_password(passphrase)
    _audit(session, PUBLIC, "intake:tipcode:passphrase_set", report, {}, to_the_minute(now))
    session.flush()


@dataclass(frozen=True)
class FollowupResult:
    """The report behind a tip code, or why the tipster cannot see it."""

    report: Report | None
    message: str = ""


GENERIC_FOLLOWUP_FAILURE = "That tip code and passphrase do not match."


def open_followup(
    session: Session, *, tip_code: str, passphrase: str, now: datetime
) -> FollowupResult:
    """Check a tip code and passphrase; five failures lock the code for 15 minutes."""
    code = normalize_tip_code(tip_code)
    report = session.scalar(select(Report).where(Report.tip_code == code)) if code else None
    if report is None or report.passphrase_hash is None:
        verify_password(passphrase, None)
        return FollowupResult(None, GENERIC_FOLLOWUP_FAILURE)
    if is_locked(report.followup_locked_until, now=now):
        return FollowupResult(
            None, f"Too many attempts. Try again in {FOLLOWUP_LOCK_MINUTES} minutes."
        )
    if not verify_password(passphrase, report.passphrase_hash):
        report.followup_failures, locked_until = lockout_after_failure(
            report.followup_failures,
            now=now,
            threshold=FOLLOWUP_LOCK_THRESHOLD,
            minutes=FOLLOWUP_LOCK_MINUTES,
        )
        if locked_until is not None:
            report.followup_locked_until = locked_until
            _audit(session, PUBLIC, "intake:tipcode:locked", report, {}, to_the_minute(now))
        return FollowupResult(None, GENERIC_FOLLOWUP_FAILURE)
    report.followup_failures = 0
    return FollowupResult(report)


def _check_body(body: str) -> str:
    body = body.strip()
    if not body:
        raise ValidationFailed("message: write a message first.", field="message")
    if len(body) > MAX_MESSAGE_LENGTH:
        raise ValidationFailed(
            f"message: at most {MAX_MESSAGE_LENGTH} characters.", field="message"
        )
    return body


def tipster_message(session: Session, *, report: Report, body: str, now: datetime) -> TipMessage:
    """The tipster writes to staff; the report's owner (or its agency's analysts) is told."""
    message = TipMessage(
        report_id=report.id, author="tipster", body=_check_body(body), created_at=to_the_minute(now)
    )
    session.add(message)
    session.flush()
    _audit(
        session,
        PUBLIC,
        "intake:message:from_tipster",
        report,
        {"message_id": [None, message.id]},
        to_the_minute(now),
    )
    for user_id in _people_to_tell(session, report):
        notify.notify_user(
            session,
            user_id=user_id,
            tag="intake:message:from_tipster",
            subject=f"Tipster replied on report #{report.id}",
            body="The anonymous tipster sent a new message.",
            link=f"/reports/{report.id}",
            now=now,
        )
    return message


def _people_to_tell(session: Session, report: Report) -> list[int]:
    if report.owner_user_id is not None:
        return [report.owner_user_id]
    users = session.scalars(
        select(User).where(User.agency_id == report.agency_id, User.disabled.is_(False))
    ).all()
    return [u.id for u in users if Role.INTAKE_ANALYST in u.roles]


def staff_message(
    session: Session, *, actor: Actor, report: Report, body: str, now: datetime
) -> TipMessage:
    """Staff write to the anonymous tipster; the tipster sees it at follow-up."""
    require(actor, P.INTAKE_REPORT_UPDATE, report)
    if report.tip_code is None:
        raise ValidationFailed(
            "message: this report has no anonymous tipster to write to.", field="message"
        )
    message = TipMessage(
        report_id=report.id,
        author="staff",
        staff_user_id=actor.user_id,
        body=_check_body(body),
        created_at=now,
    )
    session.add(message)
    session.flush()
    _audit(
        session,
        actor,
        "intake:message:to_tipster",
        report,
        {"message_id": [None, message.id]},
        now,
    )
    return message


# --- staff handling -----------------------------------------------------------------


def take_ownership(session: Session, *, actor: Actor, report: Report, now: datetime) -> None:
    """The acting analyst becomes the report's owner."""
    require(actor, P.INTAKE_REPORT_UPDATE, report)
    before = report.owner_user_id
    if before == actor.user_id:
        return
    report.owner_user_id = actor.user_id
    if report.status == Status.NEW:
        report.status = Status.IN_REVIEW
    _audit(
        session,
        actor,
        "intake:report:owner_set",
        report,
        {"owner_user_id": [before, actor.user_id]},
        now,
    )
    session.flush()


def set_status(
    session: Session, *, actor: Actor, report: Report, status: Status, now: datetime
) -> None:
    """Move a report between new, in review and closed."""
    require(actor, P.INTAKE_REPORT_UPDATE, report)
    before = report.status
    if before == status:
        return
    report.status = status
    _audit(
        session,
        actor,
        "intake:report:status_set",
        report,
        {"status": [before, str(status)]},
        now,
    )
    session.flush()


# --- integrations -------------------------------------------------------------------


def create_integration(
    session: Session, *, actor: Actor, name: str, agency_id: int, now: datetime
) -> tuple[Integration, str]:
    """Register another tip line or system; returns the token, shown once."""
    require(actor, P.INTAKE_INTEGRATION_MANAGE)
    name = name.strip()
    if not 2 <= len(name) <= 200:
        raise ValidationFailed("name: 2 to 200 characters.", field="name")
    if session.scalar(select(Integration.id).where(Integration.name == name)) is not None:
        raise Conflict(f"name: '{name}' is already in use.", field="name")
    if session.get(Agency, agency_id) is None:
        raise ValidationFailed(f"agency_id: no such agency (id {agency_id}).", field="agency_id")
    token = "dci_" + secrets.token_urlsafe(32)
    integration = Integration(
        name=name, agency_id=agency_id, token_hash=token_digest(token), created_at=now
    )
    session.add(integration)
    session.flush()
    audit.record_by(
        session,
        actor,
        tag="intake:integration:created",
        subject_type="integration",
        subject_id=integration.id,
        changes={"name": [None, name], "agency_id": [None, agency_id]},
        at=now,
    )
    return integration, token


def integration_for_token(session: Session, token: str) -> Integration | None:
    """The active integration holding ``token``."""
    if not token.startswith("dci_"):
        return None
    digest = token_digest(token)
    cache = transaction_cache(session)  # a group commit asks once per batch
    if ("integration", digest) not in cache:
        cache["integration", digest] = session.scalar(
            select(Integration).where(Integration.token_hash == digest)
        )
    integration: Integration | None = cache["integration", digest]
    if integration is None or not integration.active:
        return None
    return integration


def get_report(session: Session, report_id: int) -> Report:
    """A report by id (no access decision: routes use ``load_for``)."""
    report = session.get(Report, report_id)
    if report is None:
        raise NotFound(f"No report with id {report_id}.")
    return report


# --- reads --------------------------------------------------------------------------


def record_view(
    session: Session,
    *,
    actor: Actor,
    report: Report,
    now: datetime,
    attachment_id: int | None = None,
) -> None:
    """Audit that a person's report was read (the page, or one attachment downloaded)."""
    require(actor, P.INTAKE_REPORT_READ, report)
    if attachment_id is None:
        tag, changes = "intake:report:viewed", {}
    else:
        tag, changes = "intake:attachment:downloaded", {"attachment_id": [None, attachment_id]}
    _audit(session, actor, tag, report, changes, now)
    session.flush()


# --- attachments --------------------------------------------------------------------


def add_attachment(
    session: Session,
    *,
    report: Report,
    filename: str,
    now: datetime,
    data: bytes = b"",
    cleaned: Cleaned | None = None,
    source: Source = PUBLIC,
) -> Attachment:
    """Check one file by content, strip its metadata and store it with the report.

    ``cleaned``: the file was already checked and cleaned (``attachments.clean``: slow,
    so the public page does it before its transaction); otherwise ``data`` is cleaned
    here. Raises ``AttachmentRefused`` (a ``ValidationFailed`` on field ``attachments``)
    naming the file; the sha256 is of the clean bytes, which are what is kept.
    """
    if len(report.attachments) >= MAX_ATTACHMENTS:
        raise AttachmentRefused("at most %(n)s files per report.", n=MAX_ATTACHMENTS)
    if cleaned is None:
        cleaned = clean_attachment(filename, data)
    # A public tip's times are kept to the minute, like the report's own.
    at = to_the_minute(now) if report.tip_code is not None else now
    attachment = Attachment(
        report_id=report.id,
        filename=display_name(filename),
        content_type=cleaned.content_type,
        size=len(cleaned.data),
        sha256=hashlib.sha256(cleaned.data).hexdigest(),
        data=cleaned.data,
        created_at=at,
    )
    report.attachments.append(attachment)
    session.flush()
    _audit(
        session,
        source,
        "intake:attachment:added",
        report,
        {"attachment_id": [None, attachment.id], "content_type": [None, attachment.content_type]},
        at,
    )
    return attachment


# --- API integrations and bulk import ------------------------------------------------
# (used by web/routes/api.py, cli/integrations.py and intake/importer.py)

# Ids above this cannot exist (and would overflow SQLite's driver): refuse them as unknown.
MAX_RECORD_ID = 2**31 - 1
# last_used_at is refreshed at most this often, so that a busy integration's requests do
# not all queue on one row lock.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def check_jurisdiction(session: Session, jurisdiction_id: int | None) -> None:
    """Refuse a ``jurisdiction_id`` that names no jurisdiction, before anything is written."""
    if jurisdiction_id is None:
        return
    in_range = jurisdiction_id <= MAX_RECORD_ID
    if not in_range or cached_get(session, Jurisdiction, jurisdiction_id) is None:
        raise ValidationFailed(
            f"jurisdiction_id: no jurisdiction with id {jurisdiction_id}.", field="jurisdiction_id"
        )


def touch_integration(integration: Integration, *, now: datetime) -> None:
    """Record that the integration was just used (to the minute)."""
    last = integration.last_used_at
    if last is None or now - last >= LAST_USED_RESOLUTION:
        integration.last_used_at = now


def report_of_integration(session: Session, *, integration: Integration, report_id: int) -> Report:
    """A report this integration sent; any other id is 'not found'."""
    report = session.get(Report, report_id) if 0 < report_id <= MAX_RECORD_ID else None
    if report is None or report.integration_id != integration.id:
        raise NotFound(f"No report with id {report_id} from this integration.")
    return report


def list_integrations(session: Session, *, actor: Actor) -> list[tuple[Integration, Agency]]:
    """Every integration with the agency its reports go to, by name."""
    require(actor, P.INTAKE_INTEGRATION_MANAGE)
    rows = session.execute(
        select(Integration, Agency)
        .join(Agency, Agency.id == Integration.agency_id)
        .order_by(Integration.name)
    ).all()
    return [(integration, agency) for integration, agency in rows]


def integration_named(session: Session, name: str) -> Integration:
    """An integration by its exact name."""
    found = session.scalar(select(Integration).where(Integration.name == name.strip()))
    if found is None:
        raise NotFound(f"name: no integration named '{name}'.", field="name")
    return found


def set_integration_active(
    session: Session, *, actor: Actor, integration: Integration, active: bool, now: datetime
) -> None:
    """Turn an integration's token off (or on again); its requests then get 401."""
    require(actor, P.INTAKE_INTEGRATION_MANAGE)
    if integration.active == active:
        return
    integration.active = active
    audit.record_by(
        session,
        actor,
        tag="intake:integration:" + ("enabled" if active else "disabled"),
        subject_type="integration",
        subject_id=integration.id,
        changes={"active": [not active, active]},
        at=now,
    )
    session.flush()


# --- end of API integrations and bulk import -----------------------------------------
