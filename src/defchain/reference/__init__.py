"""Reference data: the firearm-law table (public API of the reference domain).

Which laws and policies in each state can separate a person who is a clear danger from
firearms, who may petition, how long orders last, and when (not) to use each. Seeded
from ``data/firearm_laws.yaml``; not legal advice, and every cell that states the law
says whether it has been verified.
"""

from defchain.reference.models import FirearmLaw, FirearmLawChange
from defchain.reference.rules import (
    FIELD_LABELS,
    INSTRUMENT_LABELS,
    PETITIONER_KIND_LABELS,
    UNVERIFIED_TEXT,
    VERIFIABLE_FIELDS,
    Instrument,
    PetitionerKind,
    is_verified,
    unverified_fields,
)
from defchain.reference.schemas import (
    CaseOption,
    LawChange,
    LawEditInvalid,
    SeedFileInvalid,
    SeedLaw,
)
from defchain.reference.service import (
    UPDATED_TAG,
    actor_state,
    get_law,
    history,
    laws_for_state,
    load_seed,
    may_edit,
    options_for_case,
    parse_seed,
    require_edit,
    seed,
    states,
    update_law,
)

__all__ = [
    "FIELD_LABELS",
    "INSTRUMENT_LABELS",
    "PETITIONER_KIND_LABELS",
    "UNVERIFIED_TEXT",
    "UPDATED_TAG",
    "VERIFIABLE_FIELDS",
    "CaseOption",
    "FirearmLaw",
    "FirearmLawChange",
    "Instrument",
    "LawChange",
    "LawEditInvalid",
    "PetitionerKind",
    "SeedFileInvalid",
    "SeedLaw",
    "actor_state",
    "get_law",
    "history",
    "is_verified",
    "laws_for_state",
    "load_seed",
    "may_edit",
    "options_for_case",
    "parse_seed",
    "require_edit",
    "seed",
    "states",
    "unverified_fields",
    "update_law",
]
