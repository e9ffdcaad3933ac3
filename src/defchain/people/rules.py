"""Pure linkage rules: normalize descriptors, derive blocking keys, compare, score.

No session, no clock, no I/O. The trained model (``LinkageModel``: match weights per
comparison level) is data, loaded by ``people.model``; the same level definitions feed
Splink when the model is trained (``people.training`` mirrors each level in SQL).

A *profile* is what one side of a comparison knows about a person: sets of normalized
values per field (a person may have several names, phones, schools). A missing field is
an empty set, and a comparison with nothing on one side contributes no weight at all:
missing information never counts against a match.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

import phonenumbers
from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler

# --- normalization ----------------------------------------------------------------------

_NON_ALNUM = re.compile(r"[^a-z0-9 ]+")
_SPACES = re.compile(r"\s+")
_NAME_NOISE = re.compile(r"\b(jr|sr|ii|iii|iv|mr|mrs|ms|dr)\b")
_ORG_WORDS = {
    "high school": "hs",
    "middle school": "ms",
    "elementary school": "es",
    "junior high": "jh",
    "university": "univ",
    "college": "coll",
    "community": "comm",
    "saint": "st",
    "the": "",
    "of": "",
}
_BARE_SCHOOL = {"high": "hs", "middle": "ms", "elementary": "es"}
_HANDLE = re.compile(r"[^a-z0-9_.]+")
# Latin letters that Unicode does not decompose into a base letter and an accent.
_UNDECOMPOSED = str.maketrans(
    {"ß": "ss", "æ": "ae", "ø": "o", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th"}
    | {"\u0131": "i"}  # dotless i
)


def fold(text: str) -> str:
    """Lowercase, accents removed, punctuation to spaces, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_text = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    ascii_text = ascii_text.translate(_UNDECOMPOSED)
    ascii_text = ascii_text.replace("'", "").replace("\u2019", "")
    return _SPACES.sub(" ", _NON_ALNUM.sub(" ", ascii_text)).strip()


def name_part(text: str) -> str:
    """One given name or surname: folded, titles and suffixes dropped, no spaces."""
    return _NAME_NOISE.sub("", fold(text)).replace(" ", "")


@dataclass(frozen=True)
class PersonName:
    """A full name split into given name(s) and surname (the last word)."""

    given: str
    middle: str
    surname: str


_PARENTHESES = re.compile(r"\([^)]*\)")


def split_name(text: str) -> PersonName:
    """``"Jayden R. Morales"`` → given jayden, middle r, surname morales;
    ``"MORALES, JAYDEN"`` → the same (a comma puts the surname first). Text in
    parentheses is a remark, not a name: ``"Jay Morales (cousin)"``."""
    text = _PARENTHESES.sub(" ", text)
    if "," in text:
        surname, _, rest = text.partition(",")
        words = [w for w in (name_part(p) for p in rest.split()) if w]
        return PersonName(words[0] if words else "", " ".join(words[1:]), name_part(surname))
    words = [w for w in (name_part(p) for p in text.split()) if w]
    if not words:
        return PersonName("", "", "")
    if len(words) == 1:
        return PersonName(words[0], "", "")
    return PersonName(words[0], " ".join(words[1:-1]), words[-1])


def org(text: str) -> str:
    """A school or employer: folded, common words shortened (``high school`` → ``hs``)."""
    folded = f" {fold(text)} "
    for long, short in _ORG_WORDS.items():
        folded = folded.replace(f" {long} ", f" {short} " if short else " ")
    folded = _SPACES.sub(" ", folded).strip()
    # "Westfield High" is what people call Westfield High School.
    for bare, short in _BARE_SCHOOL.items():
        if folded.endswith(f" {bare}"):
            folded = folded[: -len(bare)] + short
    return folded


def handle(text: str) -> str:
    """An online handle: lowercase, no leading @, no spaces or symbols but ``_`` and ``.``."""
    return _HANDLE.sub("", text.strip().lower().lstrip("@"))


def bare_handle(value: str) -> str:
    """A normalized handle without ``_`` and ``.``: ``jay_dee.99`` and ``jaydee99`` are
    written from memory as often as copied, so they share a blocking key."""
    return value.replace("_", "").replace(".", "")


_ID_NUMBER = re.compile(r"[^a-z0-9]+")


def id_number(text: str) -> str:
    """An identity number (state ID, driver's license, student ID, ...): letters and
    digits only, lowercase (``"D123-456 78"`` → ``d12345678``)."""
    return _ID_NUMBER.sub("", fold(text))


def email(text: str) -> str:
    """An e-mail address, lowercased; empty when it does not look like one."""
    value = text.strip().lower()
    local, at, domain = value.partition("@")
    return value if at and local and "." in domain and " " not in value else ""


class InvalidValue(ValueError):
    """A descriptor value that cannot be normalized (it is reported, never dropped)."""

    def __init__(self, field_name: str, value: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason} ({value!r})")
        self.field = field_name
        self.value = value
        self.reason = reason


def phone(text: str, region: str = "US") -> str:
    """E.164 (``+15551234567``); raises ``InvalidValue`` when it is not a valid number."""
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidValue("phone", text, "not a phone number") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidValue("phone", text, "not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


@dataclass(frozen=True, order=True)
class PartialDate:
    """A date of birth known to the year, the month or the day."""

    year: int
    month: int | None = None
    day: int | None = None

    def __str__(self) -> str:
        parts = [f"{self.year:04d}"]
        if self.month is not None:
            parts.append(f"{self.month:02d}")
            if self.day is not None:
                parts.append(f"{self.day:02d}")
        return "-".join(parts)

    @property
    def complete(self) -> bool:
        return self.month is not None and self.day is not None


def partial_date(text: str, *, today: date | None = None) -> PartialDate:
    """``2008-03-14``, ``2008-03``, ``2008`` or ``3/14/2008``; raises ``InvalidValue``."""
    value = text.strip()
    match = _DATE.match(value)
    if match:
        year, month, day = (int(g) if g else None for g in match.groups())
    elif us := _US_DATE.match(value):
        month, day, year = (int(g) for g in us.groups())
    else:
        raise InvalidValue("date_of_birth", text, "use YYYY-MM-DD, YYYY-MM or YYYY")
    assert year is not None
    try:
        earliest = date(year, 1 if month is None else month, 1 if day is None else day)
    except ValueError as exc:
        raise InvalidValue("date_of_birth", text, "no such date") from exc
    if year < 1900 or (today is not None and earliest > today):
        raise InvalidValue("date_of_birth", text, "not a plausible date of birth")
    return PartialDate(year, month, day)


# --- nicknames --------------------------------------------------------------------------


class Nicknames:
    """Given-name variants: each name belongs to one or more groups of the same name."""

    def __init__(self, groups: Iterable[Iterable[str]]) -> None:
        self._groups: dict[str, frozenset[int]] = {}
        for number, group in enumerate(groups):
            for name in group:
                key = name_part(name)
                if key:
                    self._groups[key] = self._groups.get(key, frozenset()) | {number}

    def groups(self, given: str) -> frozenset[int]:
        """The groups of a normalized given name (empty when it is in none)."""
        return self._groups.get(given, frozenset())

    def same_name(self, a: str, b: str) -> bool:
        return bool(self.groups(a) & self.groups(b))

    def __len__(self) -> int:
        return len(self._groups)


# --- profiles ---------------------------------------------------------------------------


class Field(StrEnum):
    """The compared fields. Each is a set of normalized values on each side."""

    GIVEN = "given"  # given names and nicknames
    SURNAME = "surname"
    DOB = "dob"  # PartialDate strings
    AGE = "age"  # approximate ages, with the year they were given: "16@2026"
    ORG = "org"  # schools and employers
    HANDLE = "handle"
    PHONE = "phone"
    EMAIL = "email"
    ADDRESS = "address"  # "street|zip"
    ID_NUMBER = "id_number"  # an identity number (state ID, driver's license, student ID)


@dataclass
class Profile:
    """Normalized values per field; what one side of a comparison knows."""

    values: dict[Field, set[str]] = field(default_factory=dict)

    def add(self, name: Field, value: str) -> None:
        if value:
            self.values.setdefault(name, set()).add(value)

    def get(self, name: Field) -> set[str]:
        return self.values.get(name, set())

    def is_empty(self) -> bool:
        return not any(self.values.values())

    @classmethod
    def of(cls, values: Mapping[Field | str, Iterable[str]]) -> Profile:
        profile = cls()
        for name, items in values.items():
            for item in items:
                profile.add(Field(name), item)
        return profile


# --- blocking keys ----------------------------------------------------------------------


def soundex(word: str) -> str:
    """American Soundex of a normalized word (``morales`` → ``M642``)."""
    if not word:
        return ""
    codes = {c: d for d, letters in _SOUNDEX.items() for c in letters}
    first, tail = word[0].upper(), ""
    previous = codes.get(word[0], "")
    for char in word[1:]:
        code = codes.get(char, "")
        if code and code != previous:
            tail += code
        if char not in "hw":
            previous = code
    return (first + tail + "000")[:4]


_SOUNDEX = {"1": "bfpv", "2": "cgjkqsxz", "3": "dt", "4": "l", "5": "mn", "6": "r"}


def birth_years(profile: Profile) -> set[int]:
    """The years a profile's person may have been born in: the year of each date of birth,
    and for an approximate age (``"16@2026"``: born about 2010) that year and the years
    either side (an age said in a year fits two birth years, and ages are guessed)."""
    years = {int(value[:4]) for value in profile.get(Field.DOB)}
    for age in profile.get(Field.AGE):
        said, _, said_in = age.partition("@")
        born_about = int(said_in) - int(said)
        years.update((born_about - 1, born_about, born_about + 1))
    return years


def one_edit_keys(word: str) -> set[str]:
    """The word and every form of it with one letter deleted: two words within one edit
    (a letter dropped, added, replaced, or two swapped) always share one of these."""
    return {word} | {word[:i] + word[i + 1 :] for i in range(len(word))}


def blocking_keys(profile: Profile, nicknames: Nicknames) -> set[str]:
    """The index keys under which a profile is found; a query is matched against every
    person sharing at least one key. Keys pair a weak field with a second one, so that
    no key gathers a large share of the registry, and strong identifiers stand alone.

    A surname is paired with a birth year (of a date of birth, or implied by an
    approximate age, see ``birth_years``) twice: by its Soundex code, and by its one-edit
    forms (``one_edit_keys``), so that a misspelt surname and an age find the person."""
    keys: set[str] = set()
    given = profile.get(Field.GIVEN)
    groups = {g for name in given for g in nicknames.groups(name)}
    given_keys = {f"g:{name}" for name in given} | {f"n:{g}" for g in groups}
    surnames = profile.get(Field.SURNAME)
    years = birth_years(profile)
    for surname in surnames:
        for name in given:
            keys.add(f"gs:{name[:1]}|{surname}")
            keys.add(f"sx:{soundex(surname)}|{name[:1]}")
        for year in years:
            keys.add(f"sxy:{soundex(surname)}|{year}")
            keys.update(f"sy:{form}|{year}" for form in one_edit_keys(surname))
    for value in profile.get(Field.DOB):
        if len(value) == 10:
            keys.add(f"d:{value}")
    for name_key in given_keys:
        for place in profile.get(Field.ORG):
            keys.add(f"{name_key}|o:{place}")
    keys.update(f"h:{bare_handle(value)}" for value in profile.get(Field.HANDLE))
    for value in profile.get(Field.ADDRESS):
        street, _, zip_code = value.partition("|")
        keys.add(f"a:{street.replace(' ', '')}|{zip_code}")
    for kind, prefix in ((Field.PHONE, "p"), (Field.EMAIL, "e"), (Field.ID_NUMBER, "i")):
        keys.update(f"{prefix}:{value}" for value in profile.get(kind))
    return {key for key in keys if not key.endswith("|") and ":|" not in key and key[-1] != ":"}


# --- comparison levels -----------------------------------------------------------------

NULL = "null"  # nothing to compare on one side: no weight


def _best(levels: Iterable[str], order: tuple[str, ...]) -> str:
    found = set(levels)
    return next((level for level in order if level in found), order[-1])


# "swapped": given name and surname written the other way round (see ``compare``).
GIVEN_LEVELS = ("exact", "fuzzy", "nickname", "initial", "swapped", "else")
SURNAME_LEVELS = ("exact", "fuzzy", "soundex", "swapped", "else")
DOB_LEVELS = ("exact", "typo", "year_month", "year", "else")
AGE_LEVELS = ("close", "near", "else")
ORG_LEVELS = ("exact", "fuzzy", "else")
EXACT_LEVELS = ("exact", "else")
HANDLE_LEVELS = ("exact", "variant", "else")
ADDRESS_LEVELS = ("exact", "typo", "street", "zip", "else")
ID_LEVELS = ("exact", "typo", "else")

LEVELS: dict[Field, tuple[str, ...]] = {
    Field.GIVEN: GIVEN_LEVELS,
    Field.SURNAME: SURNAME_LEVELS,
    Field.DOB: DOB_LEVELS,
    Field.AGE: AGE_LEVELS,
    Field.ORG: ORG_LEVELS,
    Field.HANDLE: HANDLE_LEVELS,
    Field.PHONE: EXACT_LEVELS,
    Field.EMAIL: EXACT_LEVELS,
    Field.ADDRESS: ADDRESS_LEVELS,
    Field.ID_NUMBER: ID_LEVELS,
}
FUZZY_NAME = 0.92  # Jaro-Winkler similarity for a typo in a name
FUZZY_STREET = 0.90  # Jaro-Winkler similarity for a typo in a street name
ID_TYPO_LENGTH = 5  # an identity number this long or longer may differ by one edit
ORG_TYPO_LENGTH = 4  # the distinctive words of a school this long may differ by one edit
# The kind of a school: two schools of different kinds are different schools.
ORG_KINDS = frozenset({"hs", "ms", "es", "jh", "univ", "coll", "comm", "academy"})


def name_typo(a: str, b: str) -> bool:
    """One name misspelt as the other: Jaro-Winkler at least ``FUZZY_NAME``, lengths within
    one, and not the same name with a letter added at the end (Michael / Michaela, Kristin /
    Kristina are different names; a doubled last letter is a typo)."""
    if abs(len(a) - len(b)) > 1 or JaroWinkler.similarity(a, b) < FUZZY_NAME:
        return False
    short, long = sorted((a, b), key=len)
    return not (len(long) == len(short) + 1 and long.startswith(short) and long[-1] != short[-1:])


def given_level(a: str, b: str, nicknames: Nicknames) -> str:
    if a == b:
        return "exact"
    if name_typo(a, b):
        return "fuzzy"
    if nicknames.same_name(a, b):
        return "nickname"
    if (len(a) == 1 or len(b) == 1) and a[:1] == b[:1]:
        return "initial"
    return "else"


def surname_level(a: str, b: str) -> str:
    if a == b:
        return "exact"
    if JaroWinkler.similarity(a, b) >= FUZZY_NAME:
        return "fuzzy"
    if soundex(a) == soundex(b):
        return "soundex"
    return "else"


def dob_level(a: str, b: str) -> str:
    """Dates as ``PartialDate`` strings; a part unknown on either side is not a mismatch."""
    if a == b and len(a) == 10:
        return "exact"
    if len(a) == 10 and len(b) == 10:
        digits_a, digits_b = a.replace("-", ""), b.replace("-", "")
        transposed = a[:4] == b[:4] and a[5:7] == b[8:10] and a[8:10] == b[5:7]
        if DamerauLevenshtein.distance(digits_a, digits_b) <= 1 or transposed:
            return "typo"
    if a[:7] == b[:7] and len(a) >= 7 and len(b) >= 7:
        return "year_month"
    if a[:4] == b[:4]:
        return "year"
    return "else"


def age_level(age: str, other: str) -> str:
    """An approximate age (``"16@2026"``) against another age or a date of birth."""
    years, _, said_in = age.partition("@")
    born_about = int(said_in) - int(years)
    if "@" in other:
        other_years, _, other_in = other.partition("@")
        other_born = int(other_in) - int(other_years)
    else:
        other_born = int(other[:4])
    gap = abs(born_about - other_born)
    if gap <= 1:
        return "close"
    if gap <= 3:
        return "near"
    return "else"


def org_parts(value: str) -> tuple[str, str]:
    """A normalized school or employer → (its kind words, sorted; the other words):
    ``"westfield hs"`` → ``("hs", "westfield")``."""
    words = value.split()
    kinds = " ".join(sorted(w for w in words if w in ORG_KINDS))
    return kinds, " ".join(w for w in words if w not in ORG_KINDS)


def org_level(a: str, b: str) -> str:
    """``fuzzy`` is a typo, not a look-alike: the same kind of school and the distinctive
    words within one edit (``westfeild hs``), never another school (``eastfield hs``,
    ``westfield ms``)."""
    if a == b:
        return "exact"
    kind_a, core_a = org_parts(a)
    kind_b, core_b = org_parts(b)
    if (
        kind_a == kind_b
        and min(len(core_a), len(core_b)) >= ORG_TYPO_LENGTH
        and DamerauLevenshtein.distance(core_a, core_b) <= 1
    ):
        return "fuzzy"
    return "else"


def handle_level(a: str, b: str) -> str:
    """``variant``: the same handle but for ``_`` and ``.`` (``jay_dee`` / ``jaydee``)."""
    if a == b:
        return "exact"
    if bare_handle(a) and bare_handle(a) == bare_handle(b):
        return "variant"
    return "else"


def street_parts(street: str) -> tuple[str, str]:
    """``"12 elm st"`` → ``("12", "elm st")``: the house number (leading digits) and the rest."""
    number, _, rest = street.partition(" ")
    if number.isdigit():
        return number, rest
    return "", street


def address_level(a: str, b: str) -> str:
    """``exact``: same street (with house number) and ZIP; ``typo``: same ZIP and house
    number, the street name misspelt (Jaro-Winkler at least ``FUZZY_STREET``); ``street``:
    the same street and house number, another or no ZIP; ``zip``: the ZIP alone."""
    street_a, _, zip_a = a.partition("|")
    street_b, _, zip_b = b.partition("|")
    # Spaces in a street are not reliable ("ainsworthstreet"): compared without them.
    same_street = bool(street_a) and street_a.replace(" ", "") == street_b.replace(" ", "")
    if same_street and zip_a == zip_b:
        return "exact"
    if zip_a and zip_a == zip_b:
        number_a, name_a = street_parts(street_a)
        number_b, name_b = street_parts(street_b)
        if (
            name_a
            and name_b
            and number_a == number_b
            and JaroWinkler.similarity(name_a, name_b) >= FUZZY_STREET
        ):
            return "typo"
        return "zip"
    if same_street:
        return "street"
    return "else"


def id_level(a: str, b: str) -> str:
    """``typo``: one edit apart (a digit wrong, dropped, added or two swapped), both at
    least ``ID_TYPO_LENGTH`` long."""
    if a == b:
        return "exact"
    if min(len(a), len(b)) >= ID_TYPO_LENGTH and DamerauLevenshtein.distance(a, b) <= 1:
        return "typo"
    return "else"


def compare(query: Profile, candidate: Profile, nicknames: Nicknames) -> dict[Field, str]:
    """The level of every field: the best over all pairs of values, ``null`` when a side
    knows nothing. Symmetric: ``compare(a, b) == compare(b, a)``."""
    levels: dict[Field, str] = {}

    def pairs(name: Field) -> list[tuple[str, str]]:
        return [(a, b) for a in query.get(name) for b in candidate.get(name)]

    def best(name: Field, level_of: Any) -> str:
        found = pairs(name)
        return _best((level_of(a, b) for a, b in found), LEVELS[name]) if found else NULL

    levels[Field.GIVEN] = best(Field.GIVEN, lambda a, b: given_level(a, b, nicknames))
    levels[Field.SURNAME] = best(Field.SURNAME, surname_level)
    # "Morales Jayden" for Jayden Morales: one side's given name is the other's surname
    # and the other way round. Only when the names agree no better the usual way.
    swapped = any(
        given_q == surname_c and surname_q == given_c
        for given_q in query.get(Field.GIVEN)
        for surname_q in query.get(Field.SURNAME)
        for given_c in candidate.get(Field.GIVEN)
        for surname_c in candidate.get(Field.SURNAME)
    )
    for name in (Field.GIVEN, Field.SURNAME):
        if swapped and levels[name] == "else":
            levels[name] = "swapped"
    levels[Field.DOB] = best(Field.DOB, dob_level)
    # An approximate age is compared with the other side's ages and dates of birth, but
    # only when dates of birth were not both known (then DOB already says it).
    if levels[Field.DOB] == NULL:
        ages_q, ages_c = query.get(Field.AGE), candidate.get(Field.AGE)
        found = [age_level(a, b) for a in ages_q for b in ages_c | candidate.get(Field.DOB)]
        found += [age_level(b, a) for b in ages_c for a in query.get(Field.DOB)]
        levels[Field.AGE] = _best(found, AGE_LEVELS) if found else NULL
    else:
        levels[Field.AGE] = NULL
    levels[Field.ORG] = best(Field.ORG, org_level)
    levels[Field.HANDLE] = best(Field.HANDLE, handle_level)
    for name in (Field.PHONE, Field.EMAIL):
        levels[name] = best(name, lambda a, b: "exact" if a == b else "else")
    levels[Field.ADDRESS] = best(Field.ADDRESS, address_level)
    levels[Field.ID_NUMBER] = best(Field.ID_NUMBER, id_level)
    return levels


# --- scoring ----------------------------------------------------------------------------


class Decision(StrEnum):
    LINK = "link"  # above the upper threshold: linked automatically (audited, reversible)
    REVIEW = "review"  # between: a person decides, seeing both records side by side
    NEW = "new"  # below the lower threshold: a new person


@dataclass(frozen=True)
class LinkageModel:
    """A trained Fellegi-Sunter model: the prior and, per field and level, m and u."""

    version: str
    prior: float  # probability that two random records are the same person
    m: Mapping[str, Mapping[str, float]]
    u: Mapping[str, Mapping[str, float]]
    link_threshold: float  # match probability at or above which a report links itself
    review_threshold: float  # at or above which (and below link) a person decides
    trained_on: str = ""

    def weight(self, name: Field, level: str) -> float:
        """log2(m/u) of one level; 0 for ``null`` (missing never counts against)."""
        if level == NULL:
            return 0.0
        m = self.m.get(name, {}).get(level)
        u = self.u.get(name, {}).get(level)
        if not m or not u:
            return 0.0
        return math.log2(m / u)


@dataclass(frozen=True)
class Score:
    """A scored comparison, explained field by field."""

    levels: Mapping[Field, str]
    weights: Mapping[Field, float]
    total: float  # prior weight + the sum of field weights
    probability: float

    def decision(self, model: LinkageModel) -> Decision:
        if self.probability >= model.link_threshold:
            return Decision.LINK
        if self.probability >= model.review_threshold:
            return Decision.REVIEW
        return Decision.NEW


def score(levels: Mapping[Field, str], model: LinkageModel) -> Score:
    """Sum the match weights of the levels (Fellegi-Sunter) into a match probability."""
    weights = {name: model.weight(name, level) for name, level in levels.items()}
    prior = math.log2(model.prior / (1 - model.prior))
    total = prior + sum(weights.values())
    probability = 1 / (1 + 2 ** (-total)) if total > -1000 else 0.0
    return Score(levels=dict(levels), weights=weights, total=total, probability=probability)


def informative(profile: Profile) -> bool:
    """Worth linking: at least a name, a handle, a phone, an e-mail or an ID number."""
    return any(
        profile.get(f)
        for f in (
            Field.GIVEN,
            Field.SURNAME,
            Field.HANDLE,
            Field.PHONE,
            Field.EMAIL,
            Field.ID_NUMBER,
        )
    )
