"""Train the linkage model (``rules.LinkageModel``) with Splink on DuckDB.

The training data is synthetic and obviously fictitious: Faker names drawn from its
U.S. frequency tables with a fixed seed, e-mail addresses on the reserved ``example.*``
domains, phone numbers in the fictitious ``555-01XX`` range. Each person has one base
record; about half get one or two noisy duplicates (typos, nicknames from the nickname
table, a missing field, an approximate age instead of the date of birth, day and month
transposed, a new address), and about one in ten has a sibling (same surname, address,
phone and school) so that look-alikes that are *not* the same person exist.

Every level of ``rules.LEVELS`` is a Splink custom comparison level written in DuckDB
SQL that mirrors the Python level function (``rules.given_level`` ...), with the same
label; the Python ``compare`` is still the reference. Splink estimates u by random
sampling (1e6 pairs) and m from the known labels (Splink's
``estimate_m_from_label_column`` on the true person id). Expectation maximisation on two
blocking rules (date of birth, then surname; ``m_from="em"``) converges, but its m differ
from the labelled truth by up to 5 bits (dob ``else``: -2.3 against -7.8; given ``else``
-3.0 against -4.8) because the fields are correlated (siblings share surname, address,
phone and school), and it cost 5 points of held-out recall and 8 of FEBRL recall at the
same precision, so the labels are the default. The prior is the known share of matching
pairs. The m and u probabilities per level go into the ``LinkageModel`` unchanged, so
``rules.score`` adds exactly Splink's match weights. A level that no sampled pair reached
(``email.exact``: e-mails are unique here) gets u = 1e-6, one over the number of sampled
pairs: an upper bound, noted in the output. Random sampling also counts the true pairs it
happens to draw as non-matches, so u of a unique identifier (handle, phone) cannot fall
below about prior x m, and such a field alone reaches a probability of about one half.

The Splink input holds one value per field and side; ``rules.compare`` takes the best
level over sets of values. The synthetic records are single-valued, so the two agree on
every pair (tests/people/test_rules.py checks every SQL level against ``rules.compare``).

Random sampling counts the true pairs it happens to draw as non-matches, which caps a
unique identifier's weight; ``true_pairs_removed`` solves the sampled share
``prior * m + (1 - prior) * u`` for u (floored at one over the sampled pairs). The
synthetic duplicates carry every kind of noise a level describes (names written surname
first, a misspelt street, a wrong ZIP code, a handle without punctuation, a mistyped ID
number), so that every level gets an m from the labels.

``estimate_unsupervised`` estimates the same levels on unlabelled data the way Splink's
own examples do (prior from deterministic rules, u by random sampling, m by EM); the
benchmark uses it on FEBRL.

The thresholds are chosen on a held-out synthetic set (another seed, a base of
``HOLDOUT_PERSONS`` = 100,000 persons and 20,000 queries) scored with the
online matcher of this module (``BlockingIndex``: ``rules.blocking_keys`` +
``rules.compare`` + ``rules.score``, best candidate per query): the link threshold is
the lowest probability at which precision of the best candidate, counted over every
query including queries for people absent from the base, is at least
``LINK_PRECISION`` at that threshold and every higher one; the review threshold is the
highest probability that still keeps ``REVIEW_RECALL`` of the correct best candidates
at or above it (linked or reviewed), and never above the link threshold. The prior
stays the training share of matching pairs; the base size enters through the threshold
(a query against a larger base meets more look-alikes), so thresholds are chosen at the
registry size we plan for rather than by rescaling the prior.

    .venv/bin/python -m defchain.people.training      # train and write data/linkage_model.json
"""

from __future__ import annotations

import contextlib
import csv
import logging
import math
import random
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from defchain.people import rules
from defchain.people.rules import Field, LinkageModel, Nicknames, Profile

REFERENCE_YEAR = 2026  # approximate ages are "said in" this year: "16@2026"
LINK_PRECISION = 0.995
REVIEW_RECALL = 0.99
U_MAX_PAIRS = 1e6
# Thresholds are chosen against a held-out base of this size: the more persons a query
# is compared with, the likelier a look-alike, so a threshold chosen on a small base
# links too eagerly on a large one (the prior stays the training share; see the docstring).
HOLDOUT_PERSONS = 100_000
HOLDOUT_QUERIES = 20_000

# A small fallback for when data/nicknames.csv is not there (the shipped table is larger).
FALLBACK_NICKNAMES: tuple[tuple[str, ...], ...] = (
    ("william", "will", "bill", "billy", "liam"),
    ("robert", "rob", "bob", "bobby", "robbie"),
    ("elizabeth", "liz", "beth", "betsy", "eliza", "lizzie"),
    ("katherine", "kate", "katie", "kathy", "kat"),
    ("catherine", "cathy", "cat", "kate"),
    ("michael", "mike", "mikey"),
    ("james", "jim", "jimmy", "jamie"),
    ("jennifer", "jen", "jenny"),
    ("christopher", "chris", "topher"),
    ("christina", "chris", "tina", "christy"),
    ("alexander", "alex", "xander", "al"),
    ("alexandra", "alex", "lexi", "sandra"),
    ("joseph", "joe", "joey"),
    ("daniel", "dan", "danny"),
    ("matthew", "matt"),
    ("anthony", "tony"),
    ("richard", "rick", "rich", "ricky", "dick"),
    ("thomas", "tom", "tommy"),
    ("margaret", "maggie", "meg", "peggy"),
    ("jessica", "jess", "jessie"),
    ("samantha", "sam", "sammy"),
    ("samuel", "sam", "sammy"),
    ("nicholas", "nick", "nicky"),
    ("benjamin", "ben", "benny"),
    ("jonathan", "jon", "johnny"),
    ("john", "jack", "johnny"),
    ("edward", "ed", "eddie", "ted"),
    ("victoria", "vicky", "tori"),
    ("rebecca", "becky", "becca"),
    ("patricia", "pat", "patty", "trish"),
    ("susan", "sue", "susie"),
    ("deborah", "deb", "debbie"),
    ("andrew", "andy", "drew"),
    ("steven", "steve"),
    ("stephen", "steve"),
    ("stephanie", "steph"),
    ("kimberly", "kim"),
    ("timothy", "tim", "timmy"),
    ("zachary", "zach", "zack"),
    ("joshua", "josh"),
    ("gregory", "greg"),
    ("jacob", "jake"),
    ("nathan", "nate"),
    ("nathaniel", "nate", "nat"),
    ("abigail", "abby"),
    ("isabella", "bella", "izzy"),
    ("gabriel", "gabe"),
    ("david", "dave", "davey"),
    ("charles", "charlie", "chuck"),
    ("theodore", "ted", "teddy", "theo"),
    ("frederick", "fred", "freddie"),
    ("ronald", "ron", "ronnie"),
    ("donald", "don", "donnie"),
    ("kenneth", "ken", "kenny"),
    ("lawrence", "larry"),
    ("gerald", "jerry"),
    ("henry", "hank", "harry"),
    ("raymond", "ray"),
    ("walter", "walt"),
    ("peter", "pete"),
    ("douglas", "doug"),
    ("jeffrey", "jeff"),
    ("bradley", "brad"),
    ("cynthia", "cindy"),
    ("pamela", "pam"),
    ("barbara", "barb", "barbie"),
    ("amanda", "mandy"),
    ("melissa", "missy", "mel"),
    ("jacqueline", "jackie"),
    ("leonard", "leo", "len", "lenny"),
)


def nickname_groups() -> list[list[str]]:
    """The groups of the shipped nickname table, or the fallback list when it is absent."""
    from defchain.people.model import NICKNAMES_FILE

    if not NICKNAMES_FILE.exists():
        return [list(group) for group in FALLBACK_NICKNAMES]
    with NICKNAMES_FILE.open(newline="", encoding="utf-8") as handle:
        rows = [[name.strip() for name in row if name.strip()] for row in csv.reader(handle)]
    return [row for row in rows if row and not row[0].startswith("#")]


def load_nicknames() -> Nicknames:
    """``model.nicknames()`` when the table ships, else the fallback list."""
    from defchain.people import model

    if model.NICKNAMES_FILE.exists():
        return model.nicknames()
    return Nicknames(FALLBACK_NICKNAMES)


# --- synthetic people ---------------------------------------------------------------------


@dataclass(frozen=True)
class SynthPerson:
    """One fictitious person: the truth the noisy records are drawn from."""

    person_id: int
    given: str
    surname: str
    dob: date
    org: str  # a school (under 19) or an employer
    handle: str
    phone: str  # "(AAA) 555-01XX"
    email: str
    street: str
    zip: str
    id_number: str = ""  # a state ID or student ID number (8 digits)


@dataclass
class SynthRecord:
    """One record as a source would give it: raw strings, ``None`` when unknown."""

    record_id: str
    person_id: int | None  # None: nobody in the base
    given: str | None = None
    surname: str | None = None
    dob: str | None = None  # "YYYY-MM-DD", "YYYY-MM" or "YYYY"
    age: int | None = None  # approximate age, said in REFERENCE_YEAR
    org: str | None = None
    handle: str | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None  # "street|zip"
    id_number: str | None = None  # a state ID or student ID number
    shape: str = "record"  # what kind of descriptor this is (bench queries)


_AREA_CODES = (
    "201",
    "202",
    "203",
    "205",
    "206",
    "207",
    "208",
    "209",
    "210",
    "212",
    "213",
    "214",
    "215",
    "216",
    "217",
    "218",
    "219",
    "224",
    "225",
    "228",
    "229",
    "231",
    "234",
    "239",
    "240",
    "248",
    "251",
    "252",
    "253",
    "254",
    "256",
    "260",
    "262",
    "267",
    "269",
    "270",
    "276",
    "281",
    "301",
    "302",
    "303",
    "304",
    "305",
    "307",
    "308",
    "309",
    "310",
    "312",
    "313",
    "314",
    "315",
    "316",
    "317",
    "318",
    "319",
    "320",
    "321",
    "323",
    "325",
    "330",
    "334",
    "336",
    "337",
    "339",
    "347",
    "351",
    "352",
    "360",
    "361",
    "386",
    "401",
    "402",
    "404",
    "405",
    "406",
    "407",
    "408",
    "409",
    "410",
    "412",
    "413",
    "414",
    "415",
    "417",
    "419",
    "423",
    "425",
    "430",
    "432",
    "434",
    "435",
    "440",
    "443",
    "469",
    "478",
    "479",
    "480",
    "484",
    "501",
    "502",
    "503",
    "504",
    "505",
    "507",
    "508",
    "509",
    "510",
    "512",
    "513",
    "515",
    "516",
    "517",
    "518",
    "520",
    "530",
    "540",
    "541",
    "551",
    "559",
    "561",
    "562",
    "563",
    "567",
    "570",
    "571",
    "573",
    "574",
    "580",
    "585",
    "586",
    "601",
    "602",
    "603",
    "605",
    "606",
    "607",
    "608",
    "609",
    "610",
    "612",
    "614",
    "615",
    "616",
    "617",
    "618",
    "619",
    "620",
    "623",
    "626",
    "630",
    "631",
    "636",
    "641",
    "646",
    "650",
    "651",
    "660",
    "661",
    "662",
    "678",
    "682",
    "701",
    "702",
    "703",
    "704",
    "706",
    "707",
    "708",
    "712",
    "713",
    "714",
    "715",
    "716",
    "717",
    "718",
    "719",
    "720",
    "724",
    "727",
    "731",
    "732",
    "734",
    "740",
    "754",
    "757",
    "760",
    "763",
    "765",
    "770",
    "772",
    "773",
    "774",
    "775",
    "781",
    "785",
    "786",
    "801",
    "802",
    "803",
    "804",
    "805",
    "806",
    "808",
    "810",
    "812",
    "813",
    "814",
    "815",
    "816",
    "817",
    "818",
    "828",
    "830",
    "831",
    "832",
    "843",
    "845",
    "847",
    "848",
    "850",
    "856",
    "857",
    "858",
    "859",
    "860",
    "862",
    "863",
    "864",
    "865",
    "870",
    "901",
    "903",
    "904",
    "906",
    "907",
    "908",
    "909",
    "910",
    "912",
    "913",
    "914",
    "915",
    "916",
    "917",
    "918",
    "919",
    "920",
    "925",
    "928",
    "931",
    "936",
    "937",
    "940",
    "941",
    "947",
    "949",
    "951",
    "952",
    "954",
    "956",
    "970",
    "971",
    "972",
    "973",
    "978",
    "979",
    "980",
    "985",
    "989",
)
_SCHOOL_KINDS = ("High School", "Middle School", "Elementary School", "Academy")
_EMAIL_DOMAINS = ("example.com", "example.org", "example.net")


@dataclass(frozen=True)
class Pools:
    """Value pools drawn once from Faker (seeded), then sampled with ``random``."""

    first_names: tuple[str, ...]
    first_weights: tuple[float, ...]
    last_names: tuple[str, ...]
    last_weights: tuple[float, ...]
    streets: tuple[str, ...]
    zips: tuple[str, ...]
    schools: tuple[str, ...]
    employers: tuple[str, ...]


def make_pools(persons: int, seed: int) -> Pools:
    from faker import Faker
    from faker.providers.address.en_US import Provider as AddressProvider
    from faker.providers.person.en_US import Provider as PersonProvider

    fake = Faker("en_US")
    fake.seed_instance(seed)
    first = dict(PersonProvider.first_names)
    last = dict(PersonProvider.last_names)
    suffixes = AddressProvider.street_suffixes
    rng = random.Random(seed)  # noqa: S311 - fake data, not secrets
    streets = tuple(sorted({f"{fake.last_name()} {rng.choice(suffixes)}" for _ in range(4000)}))
    zips = tuple(sorted({fake.zipcode() for _ in range(max(200, persons // 150))}))
    schools = tuple(
        sorted(
            {
                f"{fake.last_name()} {rng.choice(_SCHOOL_KINDS)}"
                for _ in range(max(100, persons // 300))
            }
        )
    )
    employers = tuple(sorted({fake.company() for _ in range(max(200, persons // 40))}))
    return Pools(
        first_names=tuple(first),
        first_weights=tuple(first.values()),
        last_names=tuple(last),
        last_weights=tuple(last.values()),
        streets=streets,
        zips=zips,
        schools=schools,
        employers=employers,
    )


def _phone(rng: random.Random) -> str:
    return f"({rng.choice(_AREA_CODES)}) 555-01{rng.randrange(100):02d}"


def _org_for(dob: date, rng: random.Random, pools: Pools) -> str:
    return rng.choice(pools.schools if REFERENCE_YEAR - dob.year < 19 else pools.employers)


def fake_persons(
    n: int, seed: int, pools: Pools | None = None, start: int = 0
) -> list[SynthPerson]:
    """``n`` fictitious persons (ids ``start`` ...); about one in ten is a sibling of the
    previous one: same surname, address, phone and often school."""
    pools = pools or make_pools(n, seed)
    rng = random.Random(seed * 1_000_003 + start)  # noqa: S311 - fake data, not secrets
    people: list[SynthPerson] = []
    epoch = date(1950, 1, 1)
    span = (date(2016, 12, 31) - epoch).days
    # Half the people are of school age: tips are mostly about students.
    young_epoch = date(2007, 1, 1)
    young_span = (date(2016, 12, 31) - young_epoch).days
    givens = rng.choices(pools.first_names, pools.first_weights, k=n)
    surnames = rng.choices(pools.last_names, pools.last_weights, k=n)
    for offset in range(n):
        pid = start + offset
        sibling = people[-1] if people and rng.random() < 0.1 else None
        if rng.random() < 0.5:
            dob = young_epoch + timedelta(days=rng.randrange(young_span))
        else:
            dob = epoch + timedelta(days=rng.randrange(span))
        given = givens[offset]
        if sibling is not None:
            surname, street, zip_code, phone = (
                sibling.surname,
                sibling.street,
                sibling.zip,
                sibling.phone,
            )
            dob = sibling.dob + timedelta(days=rng.randrange(-2000, 2000))
            org = sibling.org if rng.random() < 0.6 else _org_for(dob, rng, pools)
        else:
            surname = surnames[offset]
            street = f"{rng.randrange(1, 9999)} {rng.choice(pools.streets)}"
            zip_code = rng.choice(pools.zips)
            phone = _phone(rng)
            org = _org_for(dob, rng, pools)
        base = (
            f"{given.lower()}{rng.choice(('', '_', '.'))}{surname.lower()[: rng.randrange(1, 6)]}"
        )
        handle = f"{base}{pid % 997}{rng.randrange(10)}"
        email = f"{given.lower()}.{surname.lower()}{pid}@{rng.choice(_EMAIL_DOMAINS)}"
        id_number = f"{rng.randrange(10**7, 10**8)}"
        people.append(
            SynthPerson(
                pid, given, surname, dob, org, handle, phone, email, street, zip_code, id_number
            )
        )
    return people


# --- noise --------------------------------------------------------------------------------

_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def typo(word: str, rng: random.Random) -> str:
    """One keyboard slip: a letter dropped, doubled, swapped with the next or replaced."""
    if len(word) < 3:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        out = word[:i] + word[i + 1 :]
    elif kind == 1:
        out = word[:i] + word[i] + word[i:]
    elif kind == 2:
        out = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    else:
        out = word[:i] + rng.choice(_LETTERS) + word[i + 1 :]
    return out if out.lower() != word.lower() else word[:i] + "x" + word[i + 1 :]


class NicknamePicker:
    """Other names of the same group as a given name."""

    def __init__(self, groups: Iterable[Sequence[str]]) -> None:
        self._variants: dict[str, list[str]] = defaultdict(list)
        for group in groups:
            names = [rules.name_part(n) for n in group if rules.name_part(n)]
            for name in names:
                self._variants[name].extend(n for n in names if n != name)

    def variant(self, given: str, rng: random.Random) -> str | None:
        options = self._variants.get(rules.name_part(given))
        return rng.choice(options).capitalize() if options else None


def noisy_given(given: str, rng: random.Random, picker: NicknamePicker) -> str:
    roll = rng.random()
    if roll < 0.25:
        nick = picker.variant(given, rng)
        if nick:
            return nick
    if roll < 0.35:
        return typo(given, rng)
    if roll < 0.40:
        return given[:1]
    return given


def noisy_dob(dob: date, rng: random.Random) -> tuple[str | None, int | None]:
    """A date of birth as a source might give it, or an approximate age instead."""
    roll = rng.random()
    if roll < 0.12:
        return None, None
    if roll < 0.27:
        age = REFERENCE_YEAR - dob.year - rng.choice((0, 1, 1, 1, 2))
        return None, age + rng.choice((0, 0, 0, -1, 1, 2))
    if roll < 0.33 and dob.day <= 12 and dob.day != dob.month:
        return f"{dob.year:04d}-{dob.day:02d}-{dob.month:02d}", None
    if roll < 0.39:
        digits = list(dob.strftime("%Y%m%d"))
        for _ in range(20):
            i = rng.choice((2, 3, 5, 7))
            digits[i] = str(rng.randrange(10))
            text = "".join(digits)
            try:
                typo_date = date(int(text[:4]), int(text[4:6]), int(text[6:]))
            except ValueError:
                digits = list(dob.strftime("%Y%m%d"))
                continue
            if typo_date != dob and typo_date.year < REFERENCE_YEAR:
                return typo_date.isoformat(), None
            digits = list(dob.strftime("%Y%m%d"))
        return dob.isoformat(), None
    if roll < 0.43:
        return f"{dob.year:04d}-{dob.month:02d}", None
    if roll < 0.47:
        return f"{dob.year:04d}", None
    return dob.isoformat(), None


def noisy_org(org: str, rng: random.Random, pools: Pools, dob: date) -> str | None:
    roll = rng.random()
    if roll < 0.45:
        return None
    if roll < 0.52:
        return _org_for(dob, rng, pools)  # changed school or job
    if roll < 0.60:
        return org.replace("High School", "HS").replace("Middle School", "MS")
    if roll < 0.66:
        return typo(org, rng)
    return org


def base_record(person: SynthPerson, rng: random.Random) -> SynthRecord:
    """What the registry knows about a person: mostly complete, never everything."""
    return SynthRecord(
        record_id=f"b{person.person_id}",
        person_id=person.person_id,
        given=person.given,
        surname=person.surname,
        dob=person.dob.isoformat() if rng.random() < 0.85 else None,
        age=None,
        org=person.org if rng.random() < 0.8 else None,
        handle=person.handle if rng.random() < 0.5 else None,
        phone=person.phone if rng.random() < 0.5 else None,
        email=person.email if rng.random() < 0.4 else None,
        address=f"{person.street}|{person.zip}" if rng.random() < 0.7 else None,
        id_number=person.id_number if rng.random() < 0.3 else None,
    )


def noisy_handle(handle: str, rng: random.Random) -> str:
    """A handle as a tip gives it: mostly as is, sometimes ``@UPPER``, written without (or
    with other) punctuation, or another account of the same person."""
    roll = rng.random()
    if roll < 0.2:
        return "@" + handle.upper()
    if roll < 0.3 and ("_" in handle or "." in handle):
        return handle.replace("_", "").replace(".", "")  # written from memory
    if roll < 0.35 and ("_" in handle or "." in handle):
        return handle.replace("_", "#").replace(".", "_").replace("#", ".")
    if roll < 0.42:
        return f"{handle}_{rng.randrange(100)}"  # another account
    return handle


def noisy_id(value: str, rng: random.Random) -> str:
    """An ID number as a tip gives it: mostly right, sometimes one digit wrong or two
    swapped, sometimes with dashes."""
    roll = rng.random()
    if roll < 0.1:
        i = rng.randrange(len(value))
        return value[:i] + str((int(value[i]) + rng.randrange(1, 10)) % 10) + value[i + 1 :]
    if roll < 0.15:
        i = rng.randrange(len(value) - 1)
        return value[:i] + value[i + 1] + value[i] + value[i + 2 :]
    if roll < 0.25:
        return f"{value[:3]}-{value[3:]}"
    return value


def duplicate_record(
    person: SynthPerson,
    number: int,
    rng: random.Random,
    picker: NicknamePicker,
    pools: Pools,
) -> SynthRecord:
    """Another report about the same person, with the noise tips carry."""
    dob, age = noisy_dob(person.dob, rng)
    surname: str | None = person.surname
    roll = rng.random()
    if roll < 0.12:
        surname = typo(person.surname, rng)
    elif roll < 0.16:
        surname = None
    given = noisy_given(person.given, rng, picker) if rng.random() < 0.97 else None
    if given and surname and rng.random() < 0.02:
        given, surname = surname, given  # written surname first
    address: str | None = None
    roll = rng.random()
    if roll < 0.30:
        address = f"{person.street}|{person.zip}"
    elif roll < 0.33:
        house, _, name = person.street.partition(" ")
        address = f"{house} {typo(name, rng)}|{person.zip}"  # the street misspelt
    elif roll < 0.35:
        address = f"{person.street}|{rng.choice(pools.zips)}"  # a wrong ZIP code
    elif roll < 0.42:
        address = f"{rng.randrange(1, 9999)} {rng.choice(pools.streets)}|{person.zip}"
    elif roll < 0.47:
        address = f"{rng.randrange(1, 9999)} {rng.choice(pools.streets)}|{rng.choice(pools.zips)}"
    handle = noisy_handle(person.handle, rng) if rng.random() < 0.3 else None
    phone = person.phone if rng.random() < 0.3 else None
    if phone and rng.random() < 0.1:
        phone = _phone(rng)  # a new number
    email = person.email if rng.random() < 0.25 else None
    if email and rng.random() < 0.1:
        email = f"{person.handle}@{rng.choice(_EMAIL_DOMAINS)}"  # another address
    return SynthRecord(
        record_id=f"d{person.person_id}-{number}",
        person_id=person.person_id,
        given=given,
        surname=surname,
        dob=dob,
        age=age,
        org=noisy_org(person.org, rng, pools, person.dob),
        handle=handle,
        phone=phone,
        email=email,
        address=address,
        id_number=noisy_id(person.id_number, rng) if rng.random() < 0.15 else None,
    )


def training_records(persons: int, seed: int, picker: NicknamePicker) -> list[SynthRecord]:
    """Base records for ``persons`` people plus noisy duplicates for about half of them."""
    pools = make_pools(persons, seed)
    rng = random.Random(seed)  # noqa: S311 - fake data, not secrets
    records: list[SynthRecord] = []
    for person in fake_persons(persons, seed, pools):
        records.append(base_record(person, rng))
        copies = rng.choices((0, 1, 2), (0.5, 0.35, 0.15))[0]
        records.extend(duplicate_record(person, k, rng, picker, pools) for k in range(copies))
    return records


# --- normalized views ---------------------------------------------------------------------


def profile(record: SynthRecord) -> Profile:
    """The record normalized with ``rules`` (invalid values are dropped here: synthetic)."""
    out = Profile()
    if record.given:
        out.add(Field.GIVEN, rules.name_part(record.given))
    if record.surname:
        out.add(Field.SURNAME, rules.name_part(record.surname))
    if record.dob:
        with contextlib.suppress(rules.InvalidValue):
            out.add(Field.DOB, str(rules.partial_date(record.dob)))
    if record.age is not None:
        out.add(Field.AGE, f"{record.age}@{REFERENCE_YEAR}")
    if record.org:
        out.add(Field.ORG, rules.org(record.org))
    if record.handle:
        out.add(Field.HANDLE, rules.handle(record.handle))
    if record.phone:
        with contextlib.suppress(rules.InvalidValue):
            out.add(Field.PHONE, rules.phone(record.phone))
    if record.email:
        out.add(Field.EMAIL, rules.email(record.email))
    if record.address:
        street, _, zip_code = record.address.partition("|")
        out.add(Field.ADDRESS, f"{rules.fold(street)}|{zip_code.strip()[:5]}")
    if record.id_number:
        out.add(Field.ID_NUMBER, rules.id_number(record.id_number))
    return out


def _one(values: set[str]) -> str | None:
    return min(values) if values else None


def splink_row(record_id: str, person: Any, prof: Profile, nicknames: Nicknames) -> dict[str, Any]:
    """One input row for Splink: a column per field plus the precomputed helpers
    (soundex of the surname, nickname group ids, born-about year, year of birth)."""
    given = _one(prof.get(Field.GIVEN))
    surname = _one(prof.get(Field.SURNAME))
    dob = _one(prof.get(Field.DOB))
    age = _one(prof.get(Field.AGE))
    born_about = None
    handle = _one(prof.get(Field.HANDLE))
    org = _one(prof.get(Field.ORG))
    org_kind, org_core = rules.org_parts(org) if org else (None, None)
    address = _one(prof.get(Field.ADDRESS))
    street, _, zip_code = address.partition("|") if address else (None, None, None)
    number, name = rules.street_parts(street) if street is not None else (None, None)
    if age:
        years, _, said_in = age.partition("@")
        born_about = int(said_in) - int(years)
    return {
        "record_id": record_id,
        "person_id": person,
        "given": given,
        "given_groups": sorted(nicknames.groups(given)) if given else [],
        "surname": surname,
        "surname_sx": rules.soundex(surname) if surname else None,
        "dob": dob,
        "dob_year": int(dob[:4]) if dob else None,
        "born_about": born_about,
        "org": org,
        "org_kind": org_kind,
        "org_core": org_core,
        "handle": handle,
        "handle_bare": rules.bare_handle(handle) if handle else None,
        "phone": _one(prof.get(Field.PHONE)),
        "email": _one(prof.get(Field.EMAIL)),
        "address": address,
        "address_street": street.replace(" ", "") if street is not None else None,
        "address_zip": zip_code,
        "address_number": number,
        "address_name": name,
        "id_number": _one(prof.get(Field.ID_NUMBER)),
    }


# --- the levels in SQL --------------------------------------------------------------------


def _level(label: str, sql: str, *, null: bool = False) -> dict[str, Any]:
    level: dict[str, Any] = {"sql_condition": sql, "label_for_charts": label}
    if null:
        level["is_null_level"] = True
    return level


def _null(*columns: str) -> dict[str, Any]:
    return _level(
        rules.NULL, " OR ".join(f'"{c}_l" IS NULL OR "{c}_r" IS NULL' for c in columns), null=True
    )


def _else() -> dict[str, Any]:
    return _level("else", "ELSE")


_GAP = (
    'least(abs("born_about_l" - "born_about_r"), abs("born_about_l" - "dob_year_r"), '
    'abs("born_about_r" - "dob_year_l"))'
)


# The name in column ``a`` is the one in column ``b`` with one more letter at the end,
# not a doubled last letter (rules.name_typo: Michael / Michaela are different names).
_EXTENDED = (
    '(length("{a}") = length("{b}") + 1 AND starts_with("{a}", "{b}") '
    'AND right("{a}", 1) <> right("{b}", 1))'
)


_SWAPPED = '"given_l" = "surname_r" AND "surname_l" = "given_r"'


def comparison_sql() -> dict[Field, list[dict[str, Any]]]:
    """Every level of ``rules.LEVELS`` as a Splink comparison level in DuckDB SQL, in the
    same order (Splink takes the first level whose condition holds, as the Python
    functions return the first that applies), after a null level."""
    jw_name = rules.FUZZY_NAME
    digits_l, digits_r = "replace(\"dob_l\", '-', '')", "replace(\"dob_r\", '-', '')"
    levels: dict[Field, list[dict[str, Any]]] = {
        Field.GIVEN: [
            _null("given"),
            _level("exact", '"given_l" = "given_r"'),
            _level(
                "fuzzy",
                'abs(length("given_l") - length("given_r")) <= 1 '
                f'AND jaro_winkler_similarity("given_l", "given_r") >= {jw_name} '
                "AND NOT ("
                + _EXTENDED.format(a="given_l", b="given_r")
                + " OR "
                + _EXTENDED.format(a="given_r", b="given_l")
                + ")",
            ),
            _level("nickname", 'list_has_any("given_groups_l", "given_groups_r")'),
            _level(
                "initial",
                '(length("given_l") = 1 OR length("given_r") = 1) '
                'AND left("given_l", 1) = left("given_r", 1)',
            ),
            _level("swapped", _SWAPPED),
            _else(),
        ],
        Field.SURNAME: [
            _null("surname"),
            _level("exact", '"surname_l" = "surname_r"'),
            _level("fuzzy", f'jaro_winkler_similarity("surname_l", "surname_r") >= {jw_name}'),
            _level("soundex", '"surname_sx_l" = "surname_sx_r"'),
            _level("swapped", _SWAPPED),
            _else(),
        ],
        Field.DOB: [
            _null("dob"),
            _level("exact", '"dob_l" = "dob_r" AND length("dob_l") = 10'),
            _level(
                "typo",
                'length("dob_l") = 10 AND length("dob_r") = 10 AND ('
                f"damerau_levenshtein({digits_l}, {digits_r}) <= 1 OR ("
                'left("dob_l", 4) = left("dob_r", 4) '
                'AND substr("dob_l", 6, 2) = substr("dob_r", 9, 2) '
                'AND substr("dob_l", 9, 2) = substr("dob_r", 6, 2)))',
            ),
            _level(
                "year_month",
                'length("dob_l") >= 7 AND length("dob_r") >= 7 '
                'AND left("dob_l", 7) = left("dob_r", 7)',
            ),
            _level("year", 'left("dob_l", 4) = left("dob_r", 4)'),
            _else(),
        ],
        Field.AGE: [
            # Ages count only when dates of birth were not both known, as in rules.compare.
            _level(
                rules.NULL,
                f'("dob_l" IS NOT NULL AND "dob_r" IS NOT NULL) OR {_GAP} IS NULL',
                null=True,
            ),
            _level("close", f"{_GAP} <= 1"),
            _level("near", f"{_GAP} <= 3"),
            _else(),
        ],
        Field.ORG: [
            _null("org"),
            _level("exact", '"org_l" = "org_r"'),
            _level(
                "fuzzy",
                '"org_kind_l" = "org_kind_r" '
                f'AND least(length("org_core_l"), length("org_core_r")) >= {rules.ORG_TYPO_LENGTH} '
                'AND damerau_levenshtein("org_core_l", "org_core_r") <= 1',
            ),
            _else(),
        ],
        Field.ADDRESS: [
            _null("address"),
            _level(
                "exact",
                '"address_street_l" <> \'\' AND "address_street_l" = "address_street_r" '
                'AND "address_zip_l" = "address_zip_r"',
            ),
            _level(
                "typo",
                '"address_zip_l" <> \'\' AND "address_zip_l" = "address_zip_r" '
                "AND \"address_name_l\" <> '' AND \"address_name_r\" <> '' "
                'AND "address_number_l" = "address_number_r" '
                'AND jaro_winkler_similarity("address_name_l", "address_name_r") '
                f">= {rules.FUZZY_STREET}",
            ),
            _level(
                "street",
                '"address_street_l" <> \'\' AND "address_street_l" = "address_street_r" '
                'AND "address_zip_l" <> "address_zip_r"',
            ),
            _level(
                "zip",
                '"address_zip_l" <> \'\' AND "address_zip_l" = "address_zip_r"',
            ),
            _else(),
        ],
        Field.HANDLE: [
            _null("handle"),
            _level("exact", '"handle_l" = "handle_r"'),
            _level("variant", '"handle_bare_l" <> \'\' AND "handle_bare_l" = "handle_bare_r"'),
            _else(),
        ],
        Field.ID_NUMBER: [
            _null("id_number"),
            _level("exact", '"id_number_l" = "id_number_r"'),
            _level(
                "typo",
                'least(length("id_number_l"), length("id_number_r")) '
                f">= {rules.ID_TYPO_LENGTH} "
                'AND damerau_levenshtein("id_number_l", "id_number_r") <= 1',
            ),
            _else(),
        ],
    }
    for name in (Field.PHONE, Field.EMAIL):
        col = name.value
        levels[name] = [_null(col), _level("exact", f'"{col}_l" = "{col}_r"'), _else()]
    for name, labels in rules.LEVELS.items():
        got = tuple(level["label_for_charts"] for level in levels[name][1:])
        assert got == labels, (name, got, labels)
    return {name: levels[name] for name in rules.LEVELS}


def splink_settings(prior: float, link_type: str = "dedupe_only") -> dict[str, Any]:
    from splink import block_on

    return {
        "link_type": link_type,
        "unique_id_column_name": "record_id",
        "probability_two_random_records_match": prior,
        "comparisons": [
            {"output_column_name": name.value, "comparison_levels": levels}
            for name, levels in comparison_sql().items()
        ],
        "blocking_rules_to_generate_predictions": [
            block_on("surname"),
            block_on("dob"),
            block_on("handle"),
            block_on("phone"),
            block_on("email"),
            block_on("id_number"),
        ],
        "additional_columns_to_retain": ["person_id"],
        "retain_intermediate_calculation_columns": False,
    }


def estimate_unsupervised(
    frames: Sequence[Any],
    *,
    deterministic_rules: Sequence[str],
    recall: float,
    em_blocks: Sequence[str] = ("dob", "surname"),
    seed: int = 1,
    link_threshold: float = 0.9,
    review_threshold: float = 0.5,
    name: str = "data",
) -> LinkageModel:
    """Our levels' m and u estimated on unlabelled data, the way Splink's own examples do:
    the prior from deterministic rules (``estimate_probability_two_random_records_match``
    with ``recall``), u by random sampling (``U_MAX_PAIRS``), m by EM on ``block_on`` each
    column of ``em_blocks`` in turn. ``frames``: one data frame of ``splink_row`` rows
    (dedupe) or two (link only). Levels Splink left without a value get 1e-6."""
    import splink
    from splink import DuckDBAPI, Linker, block_on

    db_api = DuckDBAPI()
    link_type = "link_only" if len(frames) > 1 else "dedupe_only"
    tables = [
        db_api.register(frame, table_name=f"unsupervised_{name.replace('-', '_')}_{i}")
        for i, frame in enumerate(frames)
    ]
    linker = Linker(
        tables if len(tables) > 1 else tables[0],
        splink_settings(1e-4, link_type),
        log_level=logging.ERROR,
    )
    linker.training.estimate_probability_two_random_records_match(
        [block_on(*rule.split(",")) for rule in deterministic_rules], recall=recall
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=seed)
    for column in em_blocks:
        linker.training.estimate_parameters_using_expectation_maximisation(block_on(column))
    settings = linker.misc.save_model_to_json()
    prior = float(settings["probability_two_random_records_match"])
    m, _ = _fill_missing(_levels_from_splink(settings, "m"), {})
    u, _ = _fill_missing(_levels_from_splink(settings, "u"), {})
    u = true_pairs_removed(m, u, prior)
    return LinkageModel(
        version=f"unsupervised-{name}-splink{splink.__version__}",
        prior=prior,
        m=m,
        u=u,
        link_threshold=link_threshold,
        review_threshold=review_threshold,
        trained_on=(
            f"{name}, unlabelled: prior from {list(deterministic_rules)} at recall {recall}; "
            f"u: random sampling {U_MAX_PAIRS:.0e} pairs, true pairs removed; m: EM on "
            + ", then ".join(f"block_on({c})" for c in em_blocks)
        ),
    )


# --- the online matcher -------------------------------------------------------------------


@dataclass
class BlockingIndex:
    """An in-memory blocking index on ``rules.blocking_keys``; the online matcher's shape."""

    nicknames: Nicknames
    ids: list[str] = field(default_factory=list)
    profiles: list[Profile] = field(default_factory=list)
    keys: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))

    def add(self, ident: str, prof: Profile) -> None:
        position = len(self.ids)
        self.ids.append(ident)
        self.profiles.append(prof)
        for key in rules.blocking_keys(prof, self.nicknames):
            self.keys[key].append(position)

    def candidates(self, prof: Profile) -> set[int]:
        found: set[int] = set()
        for key in rules.blocking_keys(prof, self.nicknames):
            found.update(self.keys.get(key, ()))
        return found

    def best(self, prof: Profile, model: LinkageModel) -> tuple[str, rules.Score] | None:
        """The best-scoring candidate (ties: the first added), or ``None`` without one."""
        best: tuple[str, rules.Score] | None = None
        for position in sorted(self.candidates(prof)):
            scored = rules.score(
                rules.compare(prof, self.profiles[position], self.nicknames), model
            )
            if best is None or scored.total > best[1].total:
                best = (self.ids[position], scored)
        return best


@dataclass(frozen=True)
class Outcome:
    """The best candidate of one query against the truth."""

    shape: str
    in_base: bool  # the query's person is in the base
    probability: float  # of the best candidate; 0 without one
    correct: bool  # the best candidate is the query's person


def evaluate(
    index: BlockingIndex, queries: Iterable[SynthRecord], model: LinkageModel
) -> list[Outcome]:
    """Best candidate per query; base ids must be ``str(person_id)``."""
    members = set(index.ids)
    outcomes = []
    for query in queries:
        found = index.best(profile(query), model)
        truth = str(query.person_id) if query.person_id is not None else None
        outcomes.append(
            Outcome(
                shape=query.shape,
                in_base=truth in members,
                probability=found[1].probability if found else 0.0,
                correct=found is not None and found[0] == truth,
            )
        )
    return outcomes


def precision_recall(outcomes: Sequence[Outcome], threshold: float) -> tuple[float, float, int]:
    """Precision and recall of linking the best candidate at ``threshold``."""
    linked = [o for o in outcomes if o.probability >= threshold]
    right = sum(o.correct for o in linked)
    positives = sum(o.in_base for o in outcomes)
    precision = right / len(linked) if linked else 1.0
    recall = right / positives if positives else 1.0
    return precision, recall, len(linked)


THRESHOLD_GRID = tuple(
    sorted({round(1 - 10 ** (-k / 20), 6) for k in range(1, 121)} | {0.01, 0.05, 0.1, 0.25})
)


def choose_thresholds(outcomes: Sequence[Outcome]) -> tuple[float, float]:
    """(link, review): see the module docstring."""
    link = THRESHOLD_GRID[-1]
    for threshold in sorted(THRESHOLD_GRID, reverse=True):
        if precision_recall(outcomes, threshold)[0] < LINK_PRECISION:
            break
        link = threshold
    correct = sorted((o.probability for o in outcomes if o.correct), reverse=True)
    if not correct:
        return link, link
    floor = correct[min(len(correct) - 1, math.ceil(REVIEW_RECALL * len(correct)) - 1)]
    review = max((t for t in THRESHOLD_GRID if t <= floor), default=THRESHOLD_GRID[0])
    return link, min(review, link)


def holdout(
    persons: int, seed: int, picker: NicknamePicker, queries: int | None = None
) -> tuple[list[SynthRecord], list[SynthRecord]]:
    """A held-out base of ``persons`` (other seed) and ``queries`` queries (default: one per
    person and a quarter more): noisy duplicates of persons in the base, and a fifth about
    people who are not in it."""
    queries = queries if queries is not None else persons + persons // 4
    absent = queries // 5
    pools = make_pools(persons, seed)
    rng = random.Random(seed)  # noqa: S311 - fake data, not secrets
    people = fake_persons(persons + absent, seed, pools)
    base = [base_record(p, rng) for p in people[:persons]]
    present = rng.sample(people[:persons], min(persons, queries - absent))
    asked = [duplicate_record(p, 0, rng, picker, pools) for p in present]
    asked += [duplicate_record(p, 0, rng, picker, pools) for p in people[persons:]]
    return base, asked


# --- training -----------------------------------------------------------------------------


@dataclass
class TrainingReport:
    records: int = 0
    true_pairs: int = 0
    seconds_generate: float = 0.0
    seconds_splink: float = 0.0
    seconds_thresholds: float = 0.0
    m_source: str = ""
    notes: list[str] = field(default_factory=list)
    holdout_precision: float = 0.0
    holdout_recall: float = 0.0
    holdout_review_share: float = 0.0


def _levels_from_splink(settings: dict[str, Any], kind: str) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for comparison in settings["comparisons"]:
        levels: dict[str, float] = {}
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            value = level.get(f"{kind}_probability")
            if value is not None:
                levels[str(level["label_for_charts"])] = float(value)
        out[str(comparison["output_column_name"])] = levels
    return out


U_FLOOR = 1 / U_MAX_PAIRS


def true_pairs_removed(
    m: dict[str, dict[str, float]], u: dict[str, dict[str, float]], prior: float
) -> dict[str, dict[str, float]]:
    """u without the true pairs random sampling drew. A random pair is a match with
    probability ``prior``, so the share of sampled pairs at a level is
    ``prior * m + (1 - prior) * u``; Splink takes that share for u, which puts a floor of
    about ``prior * m`` under u and caps a unique identifier's weight (handle, phone,
    e-mail, ID number: about +15 bits on synthetic data, +12 on FEBRL). Solved for u,
    floored at ``U_FLOOR`` (one over the sampled pairs), then renormalized per field."""
    out: dict[str, dict[str, float]] = {}
    for name, levels in u.items():
        fixed = {
            label: max(U_FLOOR, (share - prior * m.get(name, {}).get(label, 0.0)) / (1 - prior))
            for label, share in levels.items()
        }
        total = sum(fixed.values())
        out[name] = {label: value / total for label, value in fixed.items()}
    return out


def _fill_missing(
    splink_values: dict[str, dict[str, float]], fallback: dict[str, dict[str, float]]
) -> tuple[dict[str, dict[str, float]], list[str]]:
    """Levels Splink left without a value take the label estimate (noted)."""
    notes = []
    out: dict[str, dict[str, float]] = {}
    for name, labels in rules.LEVELS.items():
        values = dict(splink_values.get(name, {}))
        for label in labels:
            if not values.get(label):
                values[label] = fallback.get(name, {}).get(label) or 1e-6
                notes.append(f"{name}.{label}: no Splink estimate, used {values[label]:.3g}")
        out[name] = values
    return out, notes


def train_with_report(
    persons: int = 20000,
    seed: int = 7,
    *,
    m_from: str = "labels",
    holdout_persons: int = HOLDOUT_PERSONS,
) -> tuple[LinkageModel, TrainingReport]:
    """Train on ``persons`` synthetic people; ``m_from`` is ``"labels"`` (default: Splink's
    ``estimate_m_from_label_column`` on the true person id) or ``"em"`` (Splink's EM on
    ``block_on("dob")`` then ``block_on("surname")``; see the module docstring)."""
    import pandas as pd
    import splink
    from splink import DuckDBAPI, Linker, block_on

    report = TrainingReport()
    started = time.perf_counter()
    nicknames = load_nicknames()
    picker = NicknamePicker(nickname_groups())
    records = training_records(persons, seed, picker)
    rows = [splink_row(r.record_id, r.person_id, profile(r), nicknames) for r in records]
    frame = pd.DataFrame(rows)
    sizes: dict[int, int] = defaultdict(int)
    for record in records:
        assert record.person_id is not None
        sizes[record.person_id] += 1
    report.records = len(records)
    report.true_pairs = sum(k * (k - 1) // 2 for k in sizes.values())
    prior = report.true_pairs / (len(records) * (len(records) - 1) / 2)
    report.seconds_generate = time.perf_counter() - started

    started = time.perf_counter()
    db_api = DuckDBAPI()
    linker = Linker(
        db_api.register(frame, table_name=f"people_train_{seed}"),
        splink_settings(prior),
        log_level=logging.WARNING,
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=seed)
    u_splink = _levels_from_splink(linker.misc.save_model_to_json(), "u")
    if m_from == "labels":
        linker.training.estimate_m_from_label_column("person_id")
        report.m_source = "Splink estimate_m_from_label_column(person_id)"
    else:
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("surname"))
        report.m_source = "Splink EM on block_on(dob) then block_on(surname)"
    settings = linker.misc.save_model_to_json()
    m_splink = _levels_from_splink(settings, "m")
    report.seconds_splink = time.perf_counter() - started

    m, notes_m = _fill_missing(m_splink, {})
    u, notes_u = _fill_missing(u_splink, {})
    u = true_pairs_removed(m, u, prior)
    report.notes = notes_m + notes_u
    today = datetime.now(UTC).date().isoformat()
    model = LinkageModel(
        version=f"{today}-splink{splink.__version__}-synth{persons}-seed{seed}",
        prior=prior,
        m=m,
        u=u,
        link_threshold=0.99,
        review_threshold=0.5,
        trained_on=(
            f"{len(records)} synthetic records ({persons} fictitious persons, seed {seed}, "
            f"{report.true_pairs} true pairs); u: Splink random sampling, "
            f"{U_MAX_PAIRS:.0e} pairs, true pairs removed (training.true_pairs_removed); "
            f"m: {report.m_source}; prior: known share of matching pairs. Thresholds: "
            f"held-out synthetic set (seed {seed + 1}, {holdout_persons} persons, "
            f"{HOLDOUT_QUERIES} queries), best candidate per query, link = lowest "
            f"probability with precision >= {LINK_PRECISION} there and above; review = "
            f"keeps {REVIEW_RECALL:.0%} of the correct best candidates at or above it."
        ),
    )

    started = time.perf_counter()
    base, queries = holdout(holdout_persons, seed + 1, picker, HOLDOUT_QUERIES)
    index = BlockingIndex(nicknames)
    for record in base:
        index.add(str(record.person_id), profile(record))
    outcomes = evaluate(index, queries, model)
    link, review = choose_thresholds(outcomes)
    model = LinkageModel(
        version=model.version,
        prior=model.prior,
        m=model.m,
        u=model.u,
        link_threshold=link,
        review_threshold=review,
        trained_on=model.trained_on,
    )
    precision, recall, _ = precision_recall(outcomes, link)
    report.holdout_precision, report.holdout_recall = precision, recall
    report.holdout_review_share = sum(review <= o.probability < link for o in outcomes) / len(
        outcomes
    )
    report.seconds_thresholds = time.perf_counter() - started
    return model, report


def train(persons: int = 20000, seed: int = 7) -> LinkageModel:
    """Train the linkage model on synthetic people (see the module docstring)."""
    return train_with_report(persons, seed)[0]


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    from defchain.people.model import MODEL_FILE, save_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--persons", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--m-from", choices=("em", "labels"), default="labels")
    parser.add_argument("--holdout-persons", type=int, default=HOLDOUT_PERSONS)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    model, report = train_with_report(
        args.persons, args.seed, m_from=args.m_from, holdout_persons=args.holdout_persons
    )
    total = time.perf_counter() - started
    print(f"records {report.records}, true pairs {report.true_pairs}, prior {model.prior:.3g}")
    print(
        f"seconds: generate {report.seconds_generate:.1f}, splink {report.seconds_splink:.1f}, "
        f"thresholds {report.seconds_thresholds:.1f}, total {total:.1f}"
    )
    print(f"m: {report.m_source}")
    for note in report.notes:
        print("note:", note)
    for name, labels in rules.LEVELS.items():
        weights = ", ".join(f"{lv} {model.weight(name, lv):+.2f}" for lv in labels)
        print(f"  {name:8} {weights}")
    print(
        f"link >= {model.link_threshold}, review >= {model.review_threshold}; held-out "
        f"precision {report.holdout_precision:.4f}, recall {report.holdout_recall:.4f}, "
        f"review share {report.holdout_review_share:.4f}"
    )
    if not args.no_save:
        save_model(model, MODEL_FILE)
        print(f"wrote {MODEL_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
