"""Record linkage: how alike are two profiles? (Fellegi-Sunter field weights)

Each field comparison ends in one of four outcomes: agree, partly agree,
disagree, or missing (either side blank). Field ``f`` has an ``m``
probability (a true match agrees on it) and a ``u`` probability (two
different people agree on it by chance). Agreement adds
``log2(m/u)``, disagreement adds ``log2((1-m)/(1-u))`` (negative), partial
agreement adds a share of the agreement weight, missing adds 0. The sum
``W`` is the log2 likelihood ratio of "same person"; the score is the
logistic ``1 / (1 + 2^-(W - PRIOR_BITS))``, i.e. a posterior probability
for a prior of one match in ``2^PRIOR_BITS`` candidate pairs.

Comparators (strings folded: lower-case, no accents):

- names: Jaro-Winkler; first/last compared crosswise too (swapped names
  count as agreement), known nicknames (Bill/William) agree;
- email: equal → agree; one edit apart, or same mailbox at another
  domain → partial;
- phone: equal digits → agree; one edit (typo, transposition) → partial;
- birthday: equal → agree; day and month swapped, or one digit typed wrong
  or transposed → partial;
- address: street line, postcode and city together count as one fact
  (where someone lives): street lines alike (token-sorted similarity
  ≥ 90) → agree; only the same postcode or city → partial.

Fields are not independent: a phone agreeing next to an agreeing address
is weighed with ``PHONE_IN_HOUSEHOLD`` (relatives share lines), and first name and
birthday carry the strongest disagreement weights: relatives share a last
name, an address and often a phone, but not a first name and a birthday.

Blocking: only profiles that share a blocking key are compared — phonetic
(Soundex) first+last name in either order with the birth year, the email
mailbox name, the last 7 phone digits, the postcode with the first name's
initial, the full birthday with either name's initial. Keys held by more
than ``MAX_BLOCK`` profiles are too common to be informative and skipped.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from itertools import combinations

import jellyfish
from rapidfuzz import fuzz
from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler

# field: (m, u, share of the agreement weight a partial agreement earns)
FIELDS: dict[str, tuple[float, float, float]] = {
    "first_name": (0.97, 0.01, 0.6),
    "last_name": (0.96, 0.005, 0.6),
    "email": (0.85, 0.0001, 0.6),
    "phone": (0.85, 0.002, 0.6),
    "birthday": (0.97, 0.0003, 0.5),
    "address": (0.75, 0.002, 0.35),
}
# Within one household a shared (landline) phone is common, so a phone that
# agrees next to an address that agrees is weighed with this m/u instead.
PHONE_IN_HOUSEHOLD = (0.85, 0.3)
PRIOR_BITS = 12.0
MAX_BLOCK = 60

WEIGHTS: dict[str, tuple[float, float, float]] = {
    name: (math.log2(m / u), math.log2((1 - m) / (1 - u)), share * math.log2(m / u))
    for name, (m, u, share) in FIELDS.items()
}

# nickname=name it is short for (both sides are mapped before comparing)
_NICKNAMES = """
bill=william will=william liam=william bob=robert rob=robert bobby=robert dick=richard
rick=richard jim=james jimmy=james mike=michael kate=katherine katie=katherine
cathy=catherine liz=elizabeth beth=elizabeth betty=elizabeth peggy=margaret
maggie=margaret meg=margaret tom=thomas tommy=thomas joe=joseph joey=joseph dan=daniel
danny=daniel dave=david chris=christopher matt=matthew tony=anthony steve=steven
stephen=steven sam=samuel ben=benjamin alex=alexander sasha=alexander andy=andrew
drew=andrew nick=nicholas ed=edward ted=edward eddie=edward greg=gregory jon=jonathan
nate=nathan pat=patricia patty=patricia sue=susan jen=jennifer jenny=jennifer
becky=rebecca abby=abigail hans=johannes sepp=josef fritz=friedrich lena=helena
jo=johanna pepe=jose paco=francisco
"""
NICKNAMES = dict(pair.split("=") for pair in _NICKNAMES.split())


def fold(value: object) -> str:
    text = str(value or "")
    if text.isascii():
        return " ".join(text.lower().split())
    text = unicodedata.normalize("NFKD", text)
    return " ".join("".join(ch for ch in text if not unicodedata.combining(ch)).lower().split())


@dataclass(frozen=True, slots=True)
class Record:
    """A profile prepared for comparison (folded, parsed once)."""

    pk: int
    first: str
    last: str
    email: str
    phone: str
    birthday: str  # YYYYMMDD or ""
    address: str
    postal_code: str
    city: str

    @classmethod
    def build(cls, pk: int, **values: object) -> Record:
        birthday = values.get("birthday")
        phone = "".join(ch for ch in str(values.get("phone") or "") if ch.isdigit())
        return cls(
            pk=pk,
            first=fold(values.get("first_name")),
            last=fold(values.get("last_name")),
            email=fold(values.get("email")),
            phone=phone,
            birthday=birthday.strftime("%Y%m%d") if isinstance(birthday, date) else "",
            address=fold(values.get("address_line1")),
            postal_code=fold(values.get("postal_code")).replace(" ", ""),
            city=fold(values.get("city")),
        )


def _soundex(name: str) -> str:
    return jellyfish.soundex(name) if name else ""


def blocking_keys(record: Record) -> Iterator[str]:
    first, last = _soundex(record.first), _soundex(record.last)
    year = record.birthday[:4]
    if first and last:
        low, high = sorted((first, last))
        yield f"n:{low}{high}:{year}"
    if record.email:
        yield "e:" + record.email.partition("@")[0]
    if len(record.phone) >= 7:
        yield "p:" + record.phone[-7:]
    if record.postal_code and record.first:
        yield f"z:{record.postal_code}:{record.first[0]}"
    if record.birthday:
        for initial in {record.first[:1], record.last[:1]} - {""}:
            yield f"b:{record.birthday}:{initial}"


def candidate_pairs(records: Iterable[Record]) -> set[tuple[int, int]]:
    """Index pairs (i < j into ``records``) that share a blocking key."""
    blocks: dict[str, list[int]] = {}
    for index, record in enumerate(records):
        for key in blocking_keys(record):
            blocks.setdefault(key, []).append(index)
    pairs: set[tuple[int, int]] = set()
    for members in blocks.values():
        if 1 < len(members) <= MAX_BLOCK:
            pairs.update(combinations(members, 2))
    return pairs


# --- comparators: each returns "agree", "partial", "disagree" or None (missing) ---


def _name(a: str, b: str) -> float:
    if not a or not b:
        return -1.0
    if a == b or NICKNAMES.get(a, a) == NICKNAMES.get(b, b):
        return 1.0
    return JaroWinkler.similarity(a, b)


def _level(similarity: float, agree: float, partial: float) -> str | None:
    if similarity < 0:
        return None
    if similarity >= agree:
        return "agree"
    return "partial" if similarity >= partial else "disagree"


def _names(a: Record, b: Record) -> tuple[str | None, str | None]:
    direct = (_name(a.first, b.first), _name(a.last, b.last))
    crossed = (_name(a.first, b.last), _name(a.last, b.first))
    first, last = crossed if sum(crossed) > sum(direct) + 0.2 else direct
    return _level(first, 0.94, 0.84), _level(last, 0.94, 0.86)


def _edit(a: str, b: str) -> str | None:
    if not a or not b:
        return None
    if a == b:
        return "agree"
    return "partial" if DamerauLevenshtein.distance(a, b) <= 1 else "disagree"


def _email(a: str, b: str) -> str | None:
    level = _edit(a, b)
    if level == "disagree" and a.partition("@")[0] == b.partition("@")[0]:
        return "partial"
    return level


def _birthday(a: str, b: str) -> str | None:
    level = _edit(a, b)
    if level == "disagree" and a[:4] == b[:4] and a[4:6] == b[6:8] and a[6:8] == b[4:6]:
        return "partial"
    return level


def _household(a: Record, b: Record) -> str | None:
    """Street line, postcode and city are one fact (where someone lives):
    compared together, so that they count once, not three times."""
    same_area = (a.postal_code and a.postal_code == b.postal_code) or (a.city and a.city == b.city)
    if a.address and b.address:
        if fuzz.token_sort_ratio(a.address, b.address) >= 90:
            return "agree"
        return "partial" if same_area else "disagree"
    if same_area:
        return "partial"
    if (a.postal_code and b.postal_code) or (a.city and b.city):
        return "disagree"
    return None


def compare(a: Record, b: Record) -> dict[str, str | None]:
    first, last = _names(a, b)
    return {
        "first_name": first,
        "last_name": last,
        "email": _email(a.email, b.email),
        "phone": _edit(a.phone, b.phone),
        "birthday": _birthday(a.birthday, b.birthday),
        "address": _household(a, b),
    }


def weight(outcomes: dict[str, str | None]) -> float:
    total = 0.0
    for name, outcome in outcomes.items():
        agree, disagree, partial = WEIGHTS[name]
        if name == "phone" and outcomes.get("address") == "agree":
            agree = math.log2(PHONE_IN_HOUSEHOLD[0] / PHONE_IN_HOUSEHOLD[1])
        if outcome == "agree":
            total += agree
        elif outcome == "partial":
            total += partial
        elif outcome == "disagree":
            total += disagree
    return total


def score(a: Record, b: Record) -> tuple[float, dict[str, str | None]]:
    """Match score 0-1 and the per-field outcomes behind it."""
    outcomes = compare(a, b)
    bits = weight(outcomes) - PRIOR_BITS
    return 1.0 / (1.0 + 2.0 ** max(-bits, -60.0)), outcomes
