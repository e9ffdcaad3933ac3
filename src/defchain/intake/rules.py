"""Pure intake rules: kinds, channels, code lists, tip codes, anonymity, statuses."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from enum import StrEnum


class ReportKind(StrEnum):
    """Every kind of signal is a first-class report."""

    TIP = "tip"
    SAR = "sar"
    NICS_DENIAL = "nics_denial"
    PURCHASE_ATTEMPT = "purchase_attempt"
    WELLNESS_CHECK = "wellness_check"
    REFERRAL = "referral"
    DIRECT_THREAT = "direct_threat"


KIND_LABELS: dict[ReportKind, str] = {
    ReportKind.TIP: "Tip",
    ReportKind.SAR: "Suspicious activity report",
    ReportKind.NICS_DENIAL: "NICS denial notification",
    ReportKind.PURCHASE_ATTEMPT: "Suspicious purchase attempt",
    ReportKind.WELLNESS_CHECK: "Wellness check report",
    ReportKind.REFERRAL: "Referral",
    ReportKind.DIRECT_THREAT: "Direct threat",
}


class Channel(StrEnum):
    """How the report reached us."""

    WEB = "web"  # the public tip page
    PHONE = "phone"
    WALK_IN = "walk_in"
    STAFF = "staff"  # entered by staff from their own work (e.g. a wellness check)
    API = "api"
    IMPORT = "import"


CHANNEL_LABELS: dict[Channel, str] = {
    Channel.WEB: "Public tip page",
    Channel.PHONE: "Phone",
    Channel.WALK_IN: "Walk-in",
    Channel.STAFF: "Staff entry",
    Channel.API: "API",
    Channel.IMPORT: "Bulk import",
}


class Status(StrEnum):
    """Where a report stands; the public sees only a plain-word version."""

    NEW = "new"
    IN_REVIEW = "in_review"
    CLOSED = "closed"


PUBLIC_STATUS: dict[Status, str] = {
    Status.NEW: "received",
    Status.IN_REVIEW: "being looked into",
    Status.CLOSED: "closed",
}


class YesNoUnknown(StrEnum):
    """An answer that may honestly be 'don't know'."""

    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"


class SarCode(StrEnum):
    """The 16 ISE-SAR Functional Standard behavior categories."""

    AVIATION = "AVIATION"
    CYBER = "CYBER"
    ELICIT = "ELICIT"
    EXPERT = "EXPERT"
    INTRSN = "INTRSN"
    MATRLS = "MATRLS"
    MISREP = "MISREP"
    PHOTO = "PHOTO"
    RECRUT = "RECRUT"
    SABOT = "SABOT"
    SECTOR = "SECTOR"
    SURVL = "SURVL"
    TESTSEC = "TESTSEC"
    THEFT = "THEFT"
    THREAT = "THREAT"
    WPNS = "WPNS"


SAR_LABELS: dict[SarCode, str] = {
    SarCode.AVIATION: "Aviation activity",
    SarCode.CYBER: "Cyberattack",
    SarCode.ELICIT: "Eliciting information",
    SarCode.EXPERT: "Acquiring expertise",
    SarCode.INTRSN: "Breach or attempted intrusion",
    SarCode.MATRLS: "Acquiring materials",
    SarCode.MISREP: "Misrepresentation",
    SarCode.PHOTO: "Photography",
    SarCode.RECRUT: "Recruiting or financing",
    SarCode.SABOT: "Sabotage, tampering or vandalism",
    SarCode.SECTOR: "Sector-specific incident",
    SarCode.SURVL: "Observation or surveillance",
    SarCode.TESTSEC: "Testing or probing of security",
    SarCode.THEFT: "Theft, loss or diversion",
    SarCode.THREAT: "Expressed or implied threat",
    SarCode.WPNS: "Weapons collection or discovery",
}

# Categories whose behavior is often lawful, constitutionally protected activity. A SAR in
# one of them must also state what else makes it suspicious (ISE-SAR Functional Standard).
PROTECTED_ACTIVITY_CODES: frozenset[SarCode] = frozenset(
    {SarCode.PHOTO, SarCode.SURVL, SarCode.ELICIT, SarCode.EXPERT, SarCode.MATRLS, SarCode.RECRUT}
)


class DenialCategory(StrEnum):
    """Why NICS denied the transfer (the federal prohibiting categories, in brief)."""

    INDICTMENT = "indictment"
    FELONY = "felony_conviction"
    FUGITIVE = "fugitive"
    CONTROLLED_SUBSTANCE = "controlled_substance"
    MENTAL_HEALTH_ADJUDICATION = "mental_health_adjudication"
    IMMIGRATION_STATUS = "immigration_status"
    DISHONORABLE_DISCHARGE = "dishonorable_discharge"
    RENOUNCED_CITIZENSHIP = "renounced_citizenship"
    PROTECTION_ORDER = "protection_order"
    DOMESTIC_VIOLENCE_MISDEMEANOR = "domestic_violence_misdemeanor"
    STATE_PROHIBITOR = "state_prohibitor"
    OTHER = "other"


DENIAL_LABELS: dict[DenialCategory, str] = {
    DenialCategory.INDICTMENT: "Under indictment",
    DenialCategory.FELONY: "Felony conviction",
    DenialCategory.FUGITIVE: "Fugitive from justice",
    DenialCategory.CONTROLLED_SUBSTANCE: "Unlawful user of a controlled substance",
    DenialCategory.MENTAL_HEALTH_ADJUDICATION: "Mental health adjudication or commitment",
    DenialCategory.IMMIGRATION_STATUS: "Prohibited immigration status",
    DenialCategory.DISHONORABLE_DISCHARGE: "Dishonorable discharge",
    DenialCategory.RENOUNCED_CITIZENSHIP: "Renounced citizenship",
    DenialCategory.PROTECTION_ORDER: "Subject to a protection order",
    DenialCategory.DOMESTIC_VIOLENCE_MISDEMEANOR: "Misdemeanor crime of domestic violence",
    DenialCategory.STATE_PROHIBITOR: "State prohibitor",
    DenialCategory.OTHER: "Other",
}


class StrawIndicator(StrEnum):
    """Signs a purchase may be a straw purchase (ATF/NSSF 'Don't Lie for the Other Guy')."""

    COMPANION_CHOOSES = "companion_chooses"
    COMPANION_PAYS = "companion_pays"
    BUYER_UNFAMILIAR = "buyer_unfamiliar_with_firearm"
    LARGE_CASH = "large_cash_purchase"
    MULTIPLE_SAME_MODEL = "multiple_same_model"
    ANSWERS_COACHED = "answers_coached"
    RECENT_DENIAL_COMPANION = "companion_recently_denied"
    OTHER = "other"


STRAW_LABELS: dict[StrawIndicator, str] = {
    StrawIndicator.COMPANION_CHOOSES: "A companion chose the firearm",
    StrawIndicator.COMPANION_PAYS: "A companion paid or handed over the money",
    StrawIndicator.BUYER_UNFAMILIAR: "Buyer unfamiliar with the firearm or its use",
    StrawIndicator.LARGE_CASH: "Large cash purchase",
    StrawIndicator.MULTIPLE_SAME_MODEL: "Several of the same model",
    StrawIndicator.ANSWERS_COACHED: "Answers on the form appeared coached",
    StrawIndicator.RECENT_DENIAL_COMPANION: "Companion was recently denied",
    StrawIndicator.OTHER: "Other",
}


class Concern(StrEnum):
    """An officer's or referrer's own level of concern."""

    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"


# Labels a report of this kind carries by default (who may read it).
DEFAULT_LABELS: dict[ReportKind, frozenset[str]] = {
    ReportKind.NICS_DENIAL: frozenset({"cji"}),
}

TIP_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"  # no 0/O, 1/I/L, U
TIP_CODE_GROUPS = 3
TIP_CODE_GROUP_LENGTH = 4
MIN_PASSPHRASE_LENGTH = 8


def new_tip_code() -> str:
    """A random tip code such as ``7KQ4-M9XT-2HPD`` (about 59 bits)."""
    groups = (
        "".join(secrets.choice(TIP_CODE_ALPHABET) for _ in range(TIP_CODE_GROUP_LENGTH))
        for _ in range(TIP_CODE_GROUPS)
    )
    return "-".join(groups)


def normalize_tip_code(text: str) -> str:
    """Accept codes typed with spaces, lowercase, or without dashes."""
    raw = "".join(ch for ch in text.upper() if ch.isalnum())
    size = TIP_CODE_GROUP_LENGTH
    return "-".join(raw[i : i + size] for i in range(0, len(raw), size))


def to_the_minute(moment: datetime) -> datetime:
    """Anonymous reports keep no time finer than the minute."""
    return moment.replace(second=0, microsecond=0)


FUTURE_TOLERANCE = timedelta(minutes=5)


def is_future(moment: datetime, *, now: datetime) -> bool:
    """A date in the future (beyond clock skew) is a typing error, not a report."""
    return moment > now + FUTURE_TOLERANCE


def passphrase_problem(passphrase: str) -> str | None:
    """Why a tipster's passphrase is unacceptable, or ``None``."""
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        return f"must be at least {MIN_PASSPHRASE_LENGTH} characters"
    if len(passphrase) > 200:
        return "must be at most 200 characters"
    return None


def search_text(*parts: object) -> str:
    """The text indexed for full-text search: every string value, flattened."""
    out: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, str):
            if value.strip():
                out.append(value.strip())
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)

    for part in parts:
        walk(part)
    return "\n".join(out)


def label_set(labels: list[str]) -> str:
    """The searchable form of a label list: ``,cji,health,``."""
    return "," + ",".join(sorted(set(labels))) + ("," if labels else "")


class Setting(StrEnum):
    """Where the worrying behavior happened or is aimed (a tip question)."""

    SCHOOL = "school"
    WORKPLACE = "workplace"
    PUBLIC_PLACE = "public_place"
    HOME = "home"
    ONLINE = "online"
    OTHER = "other"
    UNKNOWN = "unknown"


SETTING_LABELS: dict[Setting, str] = {
    Setting.SCHOOL: "A school or college",
    Setting.WORKPLACE: "A workplace",
    Setting.PUBLIC_PLACE: "A public place",
    Setting.HOME: "A home",
    Setting.ONLINE: "Online",
    Setting.OTHER: "Somewhere else",
    Setting.UNKNOWN: "Don't know",
}
