"""Heavily corrupted copies of people, modelled on the public record-linkage benchmarks.

Like the FEBRL / GeCo generators (Christen, "Data Matching", ch. 12), each
person is an original record plus corrupted copies; the truth (which rows
are one person) is kept. Preset ``heavy`` (the one issue 22's targets are
measured on):

- half the people have no copy; the others have 1..``max_copies`` copies
  (``--copies 1`` and ``--copies 5`` are the two reported rows);
- each copy gets 1-3 corruptions, each picked with these weights:
  typo 25 %, OCR confusion 12 %, phonetic respelling 12 %, nickname or
  abbreviation 12 %, first/last name swap 10 %, day/month swap 9 %,
  moved address 20 %;
- 15 % of each copy's contact values (email, phone, birthday, street,
  postcode, city) are missing;
- a copy keeps the original email 40 % of the time and the phone half the
  time, else it carries another one (a second mailbox, a mobile);
- accented names (German, French, Spanish, Scandinavian locales);
- 8 % of people have a relative: same last name and address, half of them
  the same landline; 3 % have a namesake (same first and last name,
  otherwise a different person).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "web.de", "proton.me", "gmx.de", "orange.fr"]
AREA = [("+49 30", 8), ("+49 40", 8), ("+49 89", 7), ("+33 1", 8), ("+34 91", 7), ("+1 212", 7)]
AREA += [("+1 415", 7), ("+46 8", 7)]
NICKNAMES = {
    "William": ["Bill", "Will"],
    "Robert": ["Bob", "Rob"],
    "Richard": ["Rick", "Dick"],
    "James": ["Jim", "Jimmy"],
    "Michael": ["Mike"],
    "Katherine": ["Kate", "Katie"],
    "Elizabeth": ["Liz", "Beth"],
    "Margaret": ["Maggie", "Peggy"],
    "Thomas": ["Tom"],
    "Joseph": ["Joe"],
    "Daniel": ["Dan"],
    "David": ["Dave"],
    "Christopher": ["Chris"],
    "Matthew": ["Matt"],
    "Anthony": ["Tony"],
    "Alexander": ["Alex", "Sasha"],
    "Andrew": ["Andy"],
    "Nicholas": ["Nick"],
    "Jennifer": ["Jen"],
    "Johannes": ["Hans"],
    "Josef": ["Sepp"],
    "Friedrich": ["Fritz"],
    "Francisco": ["Paco"],
    "José": ["Pepe"],
}
STREET_ABBREVIATIONS = {
    "Street": "St",
    "Avenue": "Ave",
    "Road": "Rd",
    "Straße": "Str.",
    "strasse": "str.",
    "straße": "str.",
    "Rue": "R.",
    "Calle": "C/",
    "Weg": "W.",
}
OCR = [("m", "rn"), ("rn", "m"), ("l", "1"), ("o", "0"), ("i", "l"), ("e", "c"), ("cl", "d")]
OCR += [("h", "b"), ("u", "v"), ("g", "q"), ("S", "5"), ("B", "8"), ("O", "0"), ("n", "h")]
PHONETIC = [("ph", "f"), ("f", "ph"), ("ck", "k"), ("c", "k"), ("k", "c"), ("y", "i")]
PHONETIC += [("ie", "y"), ("ei", "ai"), ("ai", "ei"), ("th", "t"), ("sch", "sh"), ("z", "s")]
PHONETIC += [("w", "v"), ("v", "w"), ("tt", "t"), ("mm", "m"), ("nn", "n"), ("ss", "s")]
PHONETIC += [("ou", "u"), ("ea", "ee"), ("dt", "t"), ("x", "ks"), ("qu", "kw")]
CORRUPTIONS = {
    "typo": 0.25,
    "ocr": 0.12,
    "phonetic": 0.12,
    "nickname": 0.12,
    "name_swap": 0.10,
    "day_month_swap": 0.09,
    "moved": 0.20,
}
CONTACT_FIELDS = ("email", "phone", "birthday", "address_line1", "postal_code", "city")


@dataclass(frozen=True)
class Preset:
    max_copies: int = 5
    no_copy_share: float = 0.5
    max_corruptions: int = 3
    missing: float = 0.15
    same_email: float = 0.4
    same_phone: float = 0.5
    relatives: float = 0.08
    namesakes: float = 0.03
    corruptions: dict[str, float] = field(default_factory=lambda: dict(CORRUPTIONS))


PRESETS = {"heavy": Preset()}


def typo(rng: random.Random, text: str) -> str:
    if len(text) < 3:
        return text
    i = rng.randrange(1, len(text) - 1)
    kind = rng.choice(["swap", "drop", "double", "replace", "insert"])
    if kind == "swap":
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if kind == "drop":
        return text[:i] + text[i + 1 :]
    if kind == "double":
        return text[:i] + text[i] + text[i:]
    if kind == "insert":
        return text[:i] + rng.choice("aeiourstnlm") + text[i:]
    return text[:i] + rng.choice("aeiourstnlm") + text[i + 1 :]


def _substitute(rng: random.Random, text: str, table: list[tuple[str, str]]) -> str:
    found = [(a, b) for a, b in table if a in text]
    if not found:
        return typo(rng, text)
    old, new = rng.choice(found)
    starts = [i for i in range(len(text)) if text.startswith(old, i)]
    i = rng.choice(starts)
    return text[:i] + new + text[i + len(old) :]


def _abbreviate(rng: random.Random, person: dict) -> None:
    first = person["first_name"]
    if first in NICKNAMES and rng.random() < 0.7:
        person["first_name"] = rng.choice(NICKNAMES[first])
        return
    street = person["address_line1"]
    for long, short in STREET_ABBREVIATIONS.items():
        if long in street and rng.random() < 0.5:
            person["address_line1"] = street.replace(long, short)
            return
    person["first_name"] = first[0] + rng.choice([".", ""])


class Generator:
    def __init__(self, seed: int, preset: Preset) -> None:
        from faker import Faker

        self.rng = random.Random(seed)
        self.preset = preset
        self.fake = Faker(["en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "sv_SE"])
        self.fake.seed_instance(seed)
        # what happened to each generated row, for error analysis: the
        # corruptions of a copy ("typo:email", "missing:phone", ...) and the
        # person an original was made a relative or namesake of
        self.causes: dict[int, tuple[str, ...]] = {}
        self.related: dict[int, tuple[str, int]] = {}
        self._applied: list[str] = []

    def email(self, first: str, last: str) -> str:
        rng = self.rng
        local = rng.choice([f"{first}.{last}", f"{first[0]}{last}", f"{last}{first[:2]}"])
        local = "".join(ch for ch in local.lower() if (ch.isascii() and ch.isalnum()) or ch == ".")
        return f"{local}{rng.randrange(1000)}@{rng.choice(DOMAINS)}"

    def phone(self) -> str:
        prefix, digits = self.rng.choice(AREA)
        return f"{prefix} {self.rng.randrange(2 * 10 ** (digits - 1), 10**digits)}"

    def person(self, first: str | None = None, last: str | None = None) -> dict:
        locale = self.fake[self.rng.choice(self.fake.locales)]
        first = first or locale.first_name()
        last = last or locale.last_name()
        birthday = date(1940, 1, 1) + timedelta(days=self.rng.randrange(365 * 65))
        return {
            "first_name": first,
            "last_name": last,
            "email": self.email(first, last),
            "phone": self.phone(),
            "birthday": birthday.isoformat(),
            "address_line1": locale.street_address(),
            "postal_code": locale.postcode(),
            "city": locale.city(),
        }

    def corrupt(self, original: dict) -> dict:
        rng, preset = self.rng, self.preset
        copy = dict(original)
        if rng.random() >= preset.same_email:
            copy["email"] = self.email(copy["first_name"], copy["last_name"])
        if rng.random() >= preset.same_phone:
            copy["phone"] = self.phone()
        kinds, weights = zip(*preset.corruptions.items(), strict=True)
        chosen = rng.choices(kinds, weights, k=rng.randint(1, preset.max_corruptions))
        self._applied = []
        if copy["email"] != original["email"]:
            self._applied.append("other:email")
        if copy["phone"] != original["phone"]:
            self._applied.append("other:phone")
        for kind in dict.fromkeys(chosen):
            self.apply(kind, copy)
        for name in CONTACT_FIELDS:
            if rng.random() < preset.missing:
                if copy[name]:
                    self._applied.append(f"missing:{name}")
                copy[name] = ""
        self.causes[id(copy)] = tuple(self._applied)
        return copy

    def apply(self, kind: str, copy: dict) -> None:
        rng = self.rng
        text_fields = ["first_name", "last_name", "address_line1", "city", "email", "phone"]
        if kind in ("typo", "ocr", "phonetic"):
            name = rng.choice(text_fields if kind == "typo" else text_fields[:4])
            if not copy[name]:
                return
            self._applied.append(f"{kind}:{name}")
            if kind == "typo":
                copy[name] = typo(rng, copy[name])
            else:
                copy[name] = _substitute(rng, copy[name], OCR if kind == "ocr" else PHONETIC)
        elif kind == "nickname":
            before = dict(copy)
            _abbreviate(rng, copy)
            changed = [name for name in copy if copy[name] != before[name]]
            self._applied += [f"nickname:{name}" for name in changed]
        elif kind == "name_swap":
            self._applied.append("name_swap")
            copy["first_name"], copy["last_name"] = copy["last_name"], copy["first_name"]
        elif kind == "day_month_swap" and copy["birthday"]:
            self._applied.append("day_month_swap")
            day = date.fromisoformat(copy["birthday"])
            if day.day <= 12 and day.day != day.month:
                copy["birthday"] = date(day.year, day.day, day.month).isoformat()
            else:
                copy["birthday"] = copy["birthday"][:8] + copy["birthday"][9] + copy["birthday"][8]
                copy["birthday"] = _valid_date(copy["birthday"], original=day)
        elif kind == "moved":
            self._applied.append("moved")
            moved = self.person()
            copy["address_line1"] = moved["address_line1"]
            copy["postal_code"] = moved["postal_code"]
            copy["city"] = moved["city"] if rng.random() < 0.7 else copy["city"]

    def generate(self, people: int) -> list[tuple[int, dict]]:
        """(person id, raw values) rows, shuffled; ``causes(raw)`` says what
        was done to a row."""
        rng, preset = self.rng, self.preset
        originals: list[dict] = []
        index_of: dict[int, int] = {}
        for _ in range(people):
            roll = rng.random()
            if originals and roll < preset.relatives:
                relative = rng.choice(originals)
                person = self.person(last=relative["last_name"])
                for name in ("address_line1", "postal_code", "city"):
                    person[name] = relative[name]
                if rng.random() < 0.5:
                    person["phone"] = relative["phone"]
                self.related[len(originals)] = ("relative", index_of[id(relative)])
            elif originals and roll < preset.relatives + preset.namesakes:
                twin = rng.choice(originals)
                person = self.person(twin["first_name"], twin["last_name"])
                self.related[len(originals)] = ("namesake", index_of[id(twin)])
            else:
                person = self.person()
            index_of[id(person)] = len(originals)
            originals.append(person)
        rows = []
        for person_id, person in enumerate(originals):
            rows.append((person_id, person))
            if rng.random() < preset.no_copy_share:
                continue
            copies = rng.randint(1, preset.max_copies)
            rows.extend((person_id, self.corrupt(person)) for _ in range(copies))
        rng.shuffle(rows)
        return rows

    def causes_of(self, raw: dict) -> tuple[str, ...]:
        """The corruptions of a generated copy (empty for an original)."""
        return self.causes.get(id(raw), ())


def _valid_date(text: str, *, original: date) -> str:
    """A transposed-digit day that is still a date (else the original)."""
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        return original.isoformat()


def generator(*, seed: int, preset: str = "heavy", max_copies: int | None = None) -> Generator:
    chosen = PRESETS[preset]
    if max_copies is not None:
        chosen = Preset(**{**chosen.__dict__, "max_copies": max_copies})
    return Generator(seed, chosen)


def generate(*, people: int, seed: int, preset: str = "heavy", max_copies: int | None = None):
    return generator(seed=seed, preset=preset, max_copies=max_copies).generate(people)
