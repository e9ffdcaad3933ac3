"""Labelled synthetic tips for the surge-clustering benchmark (``bench/surge.py``).

Everything is fictitious: places are Faker surnames plus a kind of place ("Harper High
School, 4411 Nolan Avenue"), narratives are a short made-up incident sentence plus Faker's
random English sentences, and persons are bare ids. No real attacker, victim, school or
address appears. The same ``seed`` gives the same tips.

Three kinds of ground-truth groups:

- **events** (about 25% of tips): an incident at one place at one time, reported by many
  tips over the following hours (mean 6 h, at most 40 h). Sizes are heavy-tailed, from 3 to
  about 400 tips. Each event has one to three base texts; every tip is a variant of one of
  them: typos, reordered or dropped sentences, truncation, a few words swapped for
  synonyms, a phrase added in front or at the end, changed case. The place is written in
  varied ways (case, punctuation, abbreviations, word order, filler words), left out, or
  (rarely) given by name only. Some tips name the event's suspect (a person id). A few are
  very short ("gun at Harper High??") and can only join through the place or the person.
- **persons** (about 10%): 2-30 tips naming one linked person id within 14 days, each with
  its own text (half of them open with one of a few stock sentences) and place.
- **background** (the rest): singletons with their own text (sometimes empty or very short),
  place (often empty or vague, otherwise a unique address), and sometimes a person id of
  their own. They are spread over 180 days.

Truth: ``truth[tip_id]`` is a group label (events and persons share one label space;
a background tip is its own group). Tip ids are a random permutation of 1..n so that ids
carry no information about groups.

Command line (prints a summary and a few examples)::

    .venv/bin/python bench/surge_data.py --tips 2000 --seed 7
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from faker import Faker

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from defchain.triage.clusters import Tip

START = datetime(2026, 1, 5, tzinfo=UTC)
SPAN = timedelta(days=180)

PLACE_KINDS = (
    ("High School", "HS"),
    ("Middle School", "MS"),
    ("Elementary School", "Elementary"),
    ("Community Center", "Community Ctr"),
    ("Public Library", "Library"),
    ("Shopping Center", "Shopping Ctr"),
    ("Stadium", "Stadium"),
    ("Church", "Church"),
    ("Recreation Center", "Rec Center"),
)
STREET_KINDS = (
    ("Street", "St."),
    ("Avenue", "Ave"),
    ("Road", "Rd"),
    ("Boulevard", "Blvd"),
    ("Drive", "Dr."),
    ("Lane", "Ln"),
    ("Court", "Ct"),
)
WHO = (
    "a man in a {color} hoodie",
    "a student with a {color} backpack",
    "someone wearing a {color} jacket",
    "a tall guy in a {color} cap",
    "two people in {color} shirts",
    "an older man with a {color} bag",
)
WHAT = (
    "was seen with what looked like a rifle",
    "fired several shots",
    "was threatening people with a knife",
    "left a suspicious package",
    "pulled out a handgun",
    "was shouting threats and waving a gun",
)
WHERE = (
    "near the main entrance of {name}",
    "in the parking lot at {name}",
    "outside {name}",
    "behind the gym at {name}",
    "by the front doors of {name}",
)
COLORS = ("red", "black", "grey", "green", "blue", "white", "yellow", "orange")
PREFIXES = (
    "I heard that ",
    "My daughter just texted me that ",
    "Not sure if this is real but ",
    "URGENT ",
    "People are saying ",
    "Please check this, ",
)
SUFFIXES = (
    " Please send someone.",
    " Everyone is scared.",
    " This is all over social media.",
    " Hope everyone is ok.",
    " Can someone confirm?",
)
SYNONYMS = {
    "man": "guy",
    "guy": "man",
    "seen": "spotted",
    "rifle": "long gun",
    "handgun": "pistol",
    "pulled": "took",
    "threatening": "menacing",
    "people": "folks",
    "near": "close to",
    "outside": "in front of",
    "shots": "rounds",
    "package": "bag",
    "someone": "somebody",
    "wearing": "in",
    "student": "kid",
}
BACKGROUND_OPENERS = (
    "I want to report something about my neighbor.",
    "A classmate has been acting strange lately.",
    "Someone posted a worrying message online.",
    "My coworker said something that scared me.",
    "There is a car that keeps circling the block.",
    "A former employee made comments about coming back.",
    "",
)
PERSON_OPENERS = (
    "He has been talking about hurting people again.",
    "She posted a photo of weapons with a threatening caption.",
    "They said they would get even with the teachers.",
    "He keeps asking about the schedule of the security guards.",
    "Their messages have become more aggressive this week.",
)
VAGUE_PLACES = ("school", "online", "downtown", "the mall", "home", "unknown", "work")
SHORT_TEXTS = ("help", "gun!!", "shots fired", "call me back", "same as before", "")


@dataclass(frozen=True)
class SurgeData:
    """Generated tips and their ground truth (tip id -> group label)."""

    tips: list[Tip]
    truth: dict[int, int]
    groups: dict[str, int]  # number of groups of each kind


@dataclass(frozen=True)
class _Place:
    name: str  # "Harper High School"
    short: str  # "Harper HS"
    number: str
    street: str  # "Nolan"
    kind: tuple[str, str]  # ("Avenue", "Ave")


class _Maker:
    """Holds the random sources and makes places, texts and variants."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - fake data, not secrets
        self.fake = Faker("en_US")
        self.fake.seed_instance(seed)

    def place(self) -> _Place:
        kind = self.rng.choice(PLACE_KINDS)
        surname = self.fake.last_name()
        return _Place(
            name=f"{surname} {kind[0]}",
            short=f"{surname} {kind[1]}",
            number=str(self.rng.randint(10, 9999)),
            street=self.fake.last_name(),
            kind=self.rng.choice(STREET_KINDS),
        )

    def write_place(self, p: _Place) -> str:
        """One way of writing the event's place (the same place key unless name-only)."""
        rng = self.rng
        r = rng.random()
        if r < 0.25:
            return ""
        if r < 0.30:
            return p.name  # name only: a different key, on purpose
        name = p.short if rng.random() < 0.3 else p.name
        street = p.kind[1] if rng.random() < 0.5 else p.kind[0]
        address = f"{p.number} {p.street} {street}"
        form = rng.randrange(4)
        if form == 0:
            text = f"{name}, {address}"
        elif form == 1:
            text = f"{address} ({name})"
        elif form == 2:
            text = f"at {name} on {address}"
        else:
            text = f"near the {name} - {address}"
        case = rng.random()
        if case < 0.3:
            text = text.lower()
        elif case < 0.4:
            text = text.upper()
        if rng.random() < 0.3:
            text = text.replace(",", "").replace("  ", " ") + "."
        return text

    def base_text(self, p: _Place) -> str:
        rng = self.rng
        color = rng.choice(COLORS)
        incident = (
            f"{rng.choice(WHO).format(color=color).capitalize()} {rng.choice(WHAT)} "
            f"{rng.choice(WHERE).format(name=p.name)}."
        )
        extra = " ".join(self.fake.sentence(nb_words=rng.randint(6, 12)) for _ in range(2))
        return f"{incident} {extra}"

    def variant(self, base: str) -> str:
        """A near-duplicate of ``base``: reordered, truncated, typo'd, reworded."""
        rng = self.rng
        sentences = [s.strip() for s in base.split(".") if s.strip()]
        if len(sentences) > 1 and rng.random() < 0.3:
            rng.shuffle(sentences)
        if len(sentences) > 2 and rng.random() < 0.2:
            sentences.pop(rng.randrange(1, len(sentences)))
        text = ". ".join(sentences) + "."
        if rng.random() < 0.2:
            text = text[: int(len(text) * rng.uniform(0.6, 0.95))]
        if rng.random() < 0.3:
            words = text.split(" ")
            for _ in range(rng.randint(1, 3)):
                i = rng.randrange(len(words))
                words[i] = SYNONYMS.get(words[i].lower(), words[i])
            text = " ".join(words)
        text = self.typos(text, rng.choice((0.0, 0.0, 0.01, 0.02, 0.03)))
        if rng.random() < 0.3:
            text = rng.choice(PREFIXES) + text[0].lower() + text[1:]
        if rng.random() < 0.2:
            text += rng.choice(SUFFIXES)
        case = rng.random()
        if case < 0.15:
            text = text.lower()
        elif case < 0.2:
            text = text.upper()
        if rng.random() < 0.2:
            text = text.replace(".", "!!")
        return text

    def typos(self, text: str, rate: float) -> str:
        if rate == 0.0 or not text:
            return text
        chars = list(text)
        for _ in range(max(1, int(len(chars) * rate))):
            i = self.rng.randrange(len(chars))
            op = self.rng.randrange(3)
            if op == 0 and i + 1 < len(chars):
                chars[i], chars[i + 1] = chars[i + 1], chars[i]
            elif op == 1 and len(chars) > 1:
                del chars[i]
            else:
                chars.insert(i, self.rng.choice("abcdefghijklmnopqrstuvwxyz"))
        return "".join(chars)

    def background_text(self) -> str:
        rng = self.rng
        r = rng.random()
        if r < 0.08:
            return rng.choice(SHORT_TEXTS)
        opener = rng.choice(BACKGROUND_OPENERS)
        body = " ".join(self.fake.sentence(nb_words=rng.randint(5, 14)) for _ in range(2))
        return f"{opener} {body}".strip()

    def background_place(self) -> str:
        r = self.rng.random()
        if r < 0.4:
            return ""
        if r < 0.55:
            return self.rng.choice(VAGUE_PLACES)
        p = self.place()
        return f"{p.number} {p.street} {p.kind[0]}, {self.fake.city()}"

    def time(self, start: datetime, span: timedelta) -> datetime:
        return start + timedelta(seconds=self.rng.uniform(0, span.total_seconds()))


def _event_size(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.02:
        return rng.randint(300, 450)
    if r < 0.10:
        return rng.randint(60, 200)
    if r < 0.35:
        return rng.randint(15, 60)
    return rng.randint(3, 15)


def generate(n_tips: int, seed: int = 7) -> SurgeData:
    """Make ``n_tips`` labelled tips (see the module docstring)."""
    m = _Maker(seed)
    rng = m.rng
    rows: list[tuple[datetime, str, str, int | None, int]] = []  # at, text, place, person, group
    group = 0
    next_person = 1
    counts = {"events": 0, "persons": 0, "background": 0}

    event_budget = int(n_tips * 0.25)
    while event_budget >= 3:
        size = min(_event_size(rng), event_budget)
        event_budget -= size
        group += 1
        counts["events"] += 1
        place = m.place()
        t0 = m.time(START, SPAN)
        bases = [m.base_text(place) for _ in range(rng.randint(1, 3))]
        suspect = next_person
        next_person += 1
        for _ in range(size):
            at = t0 + timedelta(hours=min(rng.expovariate(1 / 6), 40))
            if rng.random() < 0.05:
                text = f"{rng.choice(('gun', 'shots', 'knife'))} at {place.short}??"
            else:
                text = m.variant(rng.choice(bases))
            person = suspect if rng.random() < 0.1 else None
            rows.append((at, text, m.write_place(place), person, group))

    person_budget = int(n_tips * 0.10)
    while person_budget >= 2:
        size = min(rng.choice((2, 2, 3, 4, 5, 8, 12, 30)), person_budget)
        person_budget -= size
        group += 1
        counts["persons"] += 1
        pid = next_person
        next_person += 1
        t0 = m.time(START, SPAN)
        for _ in range(size):
            at = t0 + timedelta(days=rng.uniform(0, 14))
            opener = rng.choice(PERSON_OPENERS) if rng.random() < 0.5 else ""
            body = " ".join(m.fake.sentence(nb_words=rng.randint(6, 12)) for _ in range(2))
            text = f"{opener} {body}".strip()
            rows.append((at, text, m.background_place(), pid, group))

    while len(rows) < n_tips:
        group += 1
        counts["background"] += 1
        person = None
        if rng.random() < 0.15:
            person = next_person
            next_person += 1
        rows.append((m.time(START, SPAN), m.background_text(), m.background_place(), person, group))

    ids = list(range(1, len(rows) + 1))
    rng.shuffle(ids)
    tips = [
        Tip(id=tip_id, at=at, text=text, location=loc, person_id=person)
        for tip_id, (at, text, loc, person, _) in zip(ids, rows, strict=True)
    ]
    truth = {tip_id: row[4] for tip_id, row in zip(ids, rows, strict=True)}
    return SurgeData(tips=tips, truth=truth, groups=counts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tips", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--show", type=int, default=8, help="example tips to print")
    args = parser.parse_args(argv)
    data = generate(args.tips, args.seed)
    print(f"{len(data.tips)} tips; groups: {data.groups}")
    for tip in sorted(data.tips, key=lambda t: data.truth[t.id])[: args.show]:
        print(f"  [{data.truth[tip.id]}] {tip.at:%Y-%m-%d %H:%M} {tip.location!r} {tip.text!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
