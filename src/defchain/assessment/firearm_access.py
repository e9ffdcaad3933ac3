"""The weapons-access item and the people registry's firearm-access history, both ways.

An assessment that answers ``weapons_access`` yes or no records that finding for every
subject of the case whose latest status says otherwise (yes: access reported; no: none
known), citing the assessment. A new assessment whose item is still unknown starts
from what is on file, when every subject's latest status agrees; that suggestion cites
nothing (citations name a report, a note or a wellness-check field of the case), so the
assessor must still cite the evidence the item requires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from defchain.access import Actor
from defchain.assessment.instrument import Instrument
from defchain.cases import Case
from defchain.cases import service as cases
from defchain.people import firearms
from defchain.people.firearms import ACCESS_LABELS, AccessStatus

ITEM = "weapons_access"
ON_FILE = "Firearm access on file"
MAX_DETAIL = 500
# The status an answer writes, and the statuses that already say the same.
WRITES: dict[str, AccessStatus] = {"yes": AccessStatus.REPORTED, "no": AccessStatus.NONE_KNOWN}
AGREES: dict[str, frozenset[str]] = {
    "yes": frozenset({AccessStatus.KNOWN.value, AccessStatus.REPORTED.value}),
    "no": frozenset({AccessStatus.NONE_KNOWN.value}),
}


@dataclass(frozen=True)
class OnFile:
    """The answer the subjects' firearm-access history suggests, and where it came from."""

    value: str
    label: str


def write_back(
    db: Session,
    actor: Actor,
    case: Case,
    *,
    value: str,
    detail: str,
    source: str,
    now: datetime,
) -> list[int]:
    """Record the item's yes or no for each subject whose latest status disagrees (an
    unknown answer records nothing). Returns the ids of the persons recorded."""
    status = WRITES.get(value)
    if status is None:
        return []
    subject_ids = [p.id for p in cases.subjects_of(db, case)]
    latest = firearms.statuses(db, subject_ids)
    recorded = []
    for person_id in subject_ids:
        if latest.get(person_id) in AGREES[value]:
            continue
        firearms.record(
            db,
            actor,
            person_id=person_id,
            status=status.value,
            source=source,
            detail=detail,
            now=now,
        )
        recorded.append(person_id)
    return recorded


def on_file(db: Session, case: Case, instrument: Instrument) -> OnFile | None:
    """``yes`` when every subject's latest status is known or reported access, ``no``
    when every one is "none known"; otherwise (no subjects, a subject never recorded or
    unknown, subjects that differ) nothing."""
    if ITEM not in {item.id for item in instrument.items}:
        return None
    subject_ids = [p.id for p in cases.subjects_of(db, case)]
    latest = firearms.statuses(db, subject_ids)
    if not subject_ids or set(subject_ids) - set(latest):
        return None
    for value, agreeing in AGREES.items():
        if all(latest[pid] in agreeing for pid in subject_ids):
            found = "; ".join(
                f"person #{pid}: {ACCESS_LABELS[AccessStatus(latest[pid])]}" for pid in subject_ids
            )
            return OnFile(value, f"{ON_FILE}: {found}"[:MAX_DETAIL])
    return None
