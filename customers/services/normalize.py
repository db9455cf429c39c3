"""Cleansing: the one place that turns raw values into canonical ones.

Every way in (tracking API, file import, REST) calls these. Each cleanser
returns the canonical value or raises ``InvalidValue`` with a stable code;
``cleanse_core`` cleanses a dict of core profile fields at once and returns
the clean values together with the issues found, so that callers can record
them (``customers.services.quality.record_issues``) instead of dropping them.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple

from django.conf import settings
from django.utils import timezone

from core.errors import DomainError
from customers.models import CORE_FIELDS, Customer

JUNK_IDENTIFIER_VALUES = frozenset(
    {"", "null", "none", "nil", "undefined", "anonymous", "0", "-1", "nan", "[object object]"}
)
_ALL_SAME_FILLER = re.compile(r"^[0\-]+$")
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_SPACES = re.compile(r"\s+")
_UNENCODABLE = re.compile("[\ud800-\udfff]")  # no database stores an unpaired surrogate


class InvalidValue(DomainError):
    """A value the cleanser cannot use (``code`` e.g. ``invalid_email``)."""


@dataclass(frozen=True)
class Issue:
    """A value that could not be used: which field, what arrived, why."""

    field: str
    value: str
    code: str
    message: str


class Cleansed(NamedTuple):
    values: dict[str, object]
    issues: list[Issue]


def collapse(raw: object) -> str:
    """Trim and collapse runs of whitespace (incl. tabs, newlines) to one space."""
    return _SPACES.sub(" ", str(raw)).strip()


def is_junk_identifier(value: str) -> bool:
    """Placeholders that clients send when they have no real id."""
    stripped = value.strip().lower()
    return stripped in JUNK_IDENTIFIER_VALUES or bool(_ALL_SAME_FILLER.match(stripped))


# --- email and phone ----------------------------------------------------------


def normalize_email(raw: object) -> str:
    """Trimmed, lower-cased, syntax-checked (no DNS look-up)."""
    value = str(raw).strip().lower()
    if value.startswith("mailto:"):
        value = value[len("mailto:") :]
    local, _, domain = value.rpartition("@")
    if (
        len(value) > 254
        or len(local) > 64
        or not _EMAIL.match(value)
        or ".." in local
        or local.startswith(".")
        or local.endswith(".")
        or not re.search(r"\.[a-z]{2,}$", domain)
    ):
        raise InvalidValue("invalid_email", f"{raw!r} is not a valid email address")
    return value


def normalize_phone(raw: object, *, region: str | None = None) -> str:
    """E.164 (``+4915112345678``); numbers without a country code use ``region``
    or ``settings.TRIBUTARY_DEFAULT_PHONE_REGION``."""
    text = str(raw).strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    e164, problem = _e164(text, region or settings.TRIBUTARY_DEFAULT_PHONE_REGION)
    if problem:
        raise InvalidValue("invalid_phone", f"{raw!r} {problem}")
    return e164


@functools.lru_cache(maxsize=4096)
def _e164(text: str, region: str) -> tuple[str, str]:
    """(E.164 number, "") or ("", what is wrong). Cached: a message's phone is
    read as an identifier and again as a profile field, and parsing is the
    costliest step of cleansing."""
    # imported here: phonenumbers loads its metadata on import (~0.1-0.2 s),
    # paid only by processes that read a phone number
    import phonenumbers

    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return "", "is not a phone number"
    if not phonenumbers.is_valid_number(parsed):
        return "", "is not a valid phone number"
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), ""


# --- names --------------------------------------------------------------------

# Lower-case particles inside a name ("Ludwig van Beethoven"); the first word
# of a value keeps its capital ("Van Dyke" as a last name on its own).
_PARTICLES = frozenset(
    {"van", "von", "der", "den", "de", "del", "della", "da", "dos", "das", "di", "du", "la", "le"}
)


def _capitalize_word(word: str) -> str:
    lower = word.lower()
    if lower.startswith("mc") and len(lower) > 2:
        return "Mc" + lower[2].upper() + lower[3:]
    # O'Neil, D'Angelo, d'Artagnan-style prefixes: capitalise after the apostrophe.
    for apostrophe in ("'", "\u2019"):
        head, sep, tail = lower.partition(apostrophe)
        if sep and len(head) == 1 and tail:
            return head.upper() + sep + tail[0].upper() + tail[1:]
    return lower[:1].upper() + lower[1:]


# Digits that scanned or hand-copied text puts for a letter (OCR confusions):
# upper case at the start of a word or in an ALL-CAPS word, else lower case.
_OCR_UPPER = {"0": "O", "1": "I", "5": "S", "8": "B"}
_OCR_LOWER = {"0": "o", "1": "l", "5": "s", "8": "b"}
_MIN_LETTERS_PER_OCR_DIGIT = 3


def _ocr_letters(value: str) -> str:
    """``value`` with OCR digits read as the letters they stand for
    (``B1anchet`` → ``Blanchet``, ``Mir0slawa`` → ``Miroslawa``), or
    unchanged when its digits do not look like OCR slips: a digit with no
    letter next to it, one that is not an OCR look-alike (``R2D2``), or
    too many digits for the letters around them (``Room101``)."""
    repaired = []
    for word in value.split(" "):
        digits = sum(ch.isdigit() for ch in word)
        if not digits:
            repaired.append(word)
            continue
        letters = [ch for ch in word if ch.isalpha()]
        if (
            len(letters) < _MIN_LETTERS_PER_OCR_DIGIT * digits
            or any(ch.isdigit() and ch not in _OCR_LOWER for ch in word)
            or any(
                ch.isdigit() and not any(near.isalpha() for near in word[max(i - 1, 0) : i + 2])
                for i, ch in enumerate(word)
            )
        ):
            return value
        capitals = all(ch.isupper() for ch in letters)
        chars = []
        for i, ch in enumerate(word):
            if ch.isdigit():
                start = i == 0 or not word[i - 1].isalpha()
                ch = (_OCR_UPPER if start or capitals else _OCR_LOWER)[ch]
            chars.append(ch)
        repaired.append("".join(chars))
    return " ".join(repaired)


def normalize_name(raw: object) -> str:
    """Trim, collapse spaces; fix ALL-CAPS and all-lower names, keep mixed case;
    read OCR digits as letters (``B1anchet`` → ``Blanchet``).

    ``"  ANN-MARIE  o'neil "`` → ``"Ann-Marie O'Neil"``,
    ``"mcdonald"`` → ``"McDonald"``, ``"LUDWIG VAN BEETHOVEN"`` →
    ``"Ludwig van Beethoven"``; ``"DeShawn"`` stays as written. A value
    with other digits (``R2D2``, ``1234``) is not a name.
    """
    if isinstance(raw, str):
        return _name(raw)
    return _uncached_name(raw)


@functools.lru_cache(maxsize=8192)
def _name(raw: str) -> str:
    """Cached: names repeat (a file of people holds few distinct first names),
    and each is cleansed once per row that carries it."""
    return _uncached_name(raw)


def _uncached_name(raw: object) -> str:
    value = collapse(raw)
    if not value:
        return ""
    value = _ocr_letters(value)
    if any(ch.isdigit() for ch in value) or not any(ch.isalpha() for ch in value):
        raise InvalidValue("invalid_name", f"{raw!r} does not look like a name")
    letters = [ch for ch in value if ch.isalpha()]
    if not (all(ch.isupper() for ch in letters) or all(ch.islower() for ch in letters)):
        return value
    words = []
    for index, word in enumerate(value.split(" ")):
        if index > 0 and word.lower() in _PARTICLES:
            words.append(word.lower())
        else:
            words.append("-".join(_capitalize_word(part) for part in word.split("-")))
    return " ".join(words)


# --- country ------------------------------------------------------------------

# Names people write that ISO 3166 does not list (compared without accents).
_COUNTRY_ALIASES = {
    "uk": "GB",
    "u.k.": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "usa": "US",
    "u.s.a.": "US",
    "u.s.": "US",
    "us of a": "US",
    "america": "US",
    "united states of america": "US",
    "deutschland": "DE",
    "osterreich": "AT",
    "schweiz": "CH",
    "suisse": "CH",
    "svizzera": "CH",
    "espana": "ES",
    "italia": "IT",
    "nederland": "NL",
    "holland": "NL",
    "the netherlands": "NL",
    "belgique": "BE",
    "belgie": "BE",
    "polska": "PL",
    "sverige": "SE",
    "norge": "NO",
    "danmark": "DK",
    "suomi": "FI",
    "brasil": "BR",
    "mexico": "MX",
    "russia": "RU",
    "south korea": "KR",
    "korea": "KR",
    "north korea": "KP",
    "vietnam": "VN",
    "czech republic": "CZ",
    "turkey": "TR",
    "ivory coast": "CI",
    "uae": "AE",
}
_country_index: dict[str, str] | None = None


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return collapse("".join(ch for ch in decomposed if not unicodedata.combining(ch))).lower()


def _countries() -> dict[str, str]:
    global _country_index
    if _country_index is None:
        # imported here: pycountry parses its country database on import (~0.3 s),
        # paid only by processes that read a country
        import pycountry

        index: dict[str, str] = {}
        for country in pycountry.countries:
            for attr in ("alpha_2", "alpha_3", "name", "official_name", "common_name"):
                text = getattr(country, attr, None)
                if text:
                    index[_fold(text)] = country.alpha_2
        index.update(_COUNTRY_ALIASES)
        _country_index = index
    return _country_index


def normalize_country(raw: object) -> str:
    """ISO 3166-1 alpha-2 from an alpha-2/alpha-3 code or a country name."""
    folded = _fold(str(raw))
    code = _countries().get(folded) or _countries().get(folded.removeprefix("the "))
    if code is None:
        raise InvalidValue("invalid_country", f"{raw!r} is not a known country")
    return code


# --- dates --------------------------------------------------------------------

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("jan", "january", "januar", "janvier", "enero"),
            ("feb", "february", "februar", "fevrier", "febrero"),
            ("mar", "march", "marz", "mars", "marzo"),
            ("apr", "april", "avril", "abril"),
            ("may", "mai", "mayo"),
            ("jun", "june", "juni", "juin", "junio"),
            ("jul", "july", "juli", "juillet", "julio"),
            ("aug", "august", "aout", "agosto"),
            ("sep", "sept", "september", "septembre", "septiembre"),
            ("oct", "october", "oktober", "octobre", "octubre"),
            ("nov", "november", "novembre", "noviembre"),
            ("dec", "december", "dezember", "decembre", "diciembre"),
        ],
        start=1,
    )
    for name in names
}
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_YEAR_FIRST = re.compile(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})$")
_DOTTED = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_SLASHED = re.compile(r"^(\d{1,2})[/-](\d{1,2})[/-](\d{4})$")
_DAY_MONTH_NAME = re.compile(r"^(\d{1,2})(?:st|nd|rd|th)?\.? ([a-z]+)\.?,? (\d{4})$")
_MONTH_NAME_DAY = re.compile(r"^([a-z]+)\.? (\d{1,2})(?:st|nd|rd|th)?,? (\d{4})$")


def _make_date(raw: object, year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise InvalidValue("invalid_date", f"{raw!r} is not a real date") from None


def normalize_date(raw: object, *, dayfirst: bool | None = None) -> date:
    """A calendar date from ISO 8601 and the common written forms.

    Accepted: ``1999-12-31`` (optionally with a time), ``19991231``,
    ``1999/12/31``, ``31.12.1999`` (dotted is day-first), ``31/12/1999`` and
    ``12/31/1999`` when only one reading is a real date, ``31 Dec 1999``,
    ``December 31, 1999``. ``01/02/1999`` is ambiguous and rejected unless
    ``dayfirst`` says which order the source uses. Impossible dates
    (``1999-02-30``) are rejected.
    """
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    text = _fold(str(raw)).replace(",", ", ").replace(" ,", ",")
    text = collapse(text)
    for pattern in (_ISO_DATE, _COMPACT, _YEAR_FIRST):
        if match := pattern.match(text.upper() if pattern is _ISO_DATE else text):
            year, month, day = (int(g) for g in match.groups())
            return _make_date(raw, year, month, day)
    if match := _DOTTED.match(text):
        day, month, year = (int(g) for g in match.groups())
        return _make_date(raw, year, month, day)
    if match := _SLASHED.match(text):
        first, second, year = (int(g) for g in match.groups())
        if first == second:
            return _make_date(raw, year, first, second)
        if dayfirst is None:
            if first > 12 >= second:
                dayfirst = True
            elif second > 12 >= first:
                dayfirst = False
            elif first > 12 and second > 12:
                raise InvalidValue("invalid_date", f"{raw!r} is not a real date")
            else:
                raise InvalidValue(
                    "ambiguous_date", f"{raw!r} could be day/month or month/day; use YYYY-MM-DD"
                )
        day, month = (first, second) if dayfirst else (second, first)
        return _make_date(raw, year, month, day)
    for pattern, order in ((_DAY_MONTH_NAME, "dmy"), (_MONTH_NAME_DAY, "mdy")):
        if match := pattern.match(text.replace(",", "")):
            parts = dict(zip(order, match.groups(), strict=True))
            month = _MONTHS.get(parts["m"])
            if month is not None:
                return _make_date(raw, int(parts["y"]), month, int(parts["d"]))
    raise InvalidValue("invalid_date", f"{raw!r} is not a date we can read; use YYYY-MM-DD")


def normalize_birthday(raw: object, *, dayfirst: bool | None = None) -> date:
    """A date of birth: a real date, not in the future, not before 1900."""
    value = normalize_date(raw, dayfirst=dayfirst)
    if value > timezone.now().date() or value.year < 1900:
        raise InvalidValue("implausible_birthday", f"{raw!r} is not a plausible date of birth")
    return value


# --- addresses and free text ----------------------------------------------------


def normalize_postal_code(raw: object) -> str:
    """Trimmed, single-spaced, upper-case (``"sw1a  1aa "`` → ``"SW1A 1AA"``)."""
    value = collapse(raw).upper()
    if value and not re.fullmatch(r"[A-Z0-9][A-Z0-9 \-]{0,31}", value):
        raise InvalidValue("invalid_postal_code", f"{raw!r} is not a postal code")
    return value


def normalize_text(raw: object) -> str:
    """Address lines, city, region, company: trimmed and single-spaced."""
    return collapse(raw)


# --- identifiers ----------------------------------------------------------------


def normalize_identifier(type_name: str, raw: object, *, region: str | None = None) -> str:
    """Canonical form of an identifier value; junk raises InvalidValue.

    ``region`` is the country to read phone numbers without a country code in.
    """
    if raw is None or isinstance(raw, (dict, list, bool)):
        raise InvalidValue("invalid_identifier", f"{type_name} must be a string or number")
    text = str(raw).strip()
    # (surrogates are not printable: the cheap test first)
    if "\x00" in text or (not text.isprintable() and _UNENCODABLE.search(text)):
        raise InvalidValue(
            "invalid_character", f"{type_name} holds a NUL or an unpaired surrogate character"
        )
    if is_junk_identifier(text):
        raise InvalidValue("junk_identifier", f"{raw!r} is a placeholder, not an identifier")
    if type_name == "email":
        return normalize_email(text)
    if type_name == "phone":
        return normalize_phone(text, region=region)
    if len(text) > 255:
        raise InvalidValue("identifier_too_long", f"{type_name} is longer than 255 characters")
    return text


# --- a dict of core fields --------------------------------------------------------

_CLEANSERS = {
    "email": normalize_email,
    "phone": normalize_phone,
    "first_name": normalize_name,
    "last_name": normalize_name,
    "birthday": normalize_birthday,
    "address_line1": normalize_text,
    "address_line2": normalize_text,
    "city": normalize_text,
    "region": normalize_text,
    "postal_code": normalize_postal_code,
    "country": normalize_country,
    "company": normalize_text,
}


def cleanse_core(values: Mapping[str, object], *, dayfirst: bool | None = None) -> Cleansed:
    """Cleanse core profile fields; returns ``(clean values, issues)``.

    Blank values (``None``, empty or whitespace-only strings) mean "not
    provided" and are left out without an issue. Invalid values are left out
    of the clean values and reported as an ``Issue``; unknown field names
    raise ``ValueError`` (a programming error, not bad data). Phone numbers
    without a country code use the cleansed ``country`` when there is one.
    """

    unknown = set(values) - set(CORE_FIELDS)
    if unknown:
        raise ValueError(f"not core fields: {sorted(unknown)}")
    clean: dict[str, object] = {}
    issues: list[Issue] = []

    def run(name: str, raw: object) -> None:
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return
        try:
            if isinstance(raw, (dict, list, bool)):
                raise InvalidValue(f"invalid_{name}", f"{name} must be a single value")
            if name == "phone":
                country = clean.get("country")
                value: object = normalize_phone(raw, region=str(country) if country else None)
            elif name == "birthday":
                value = normalize_birthday(raw, dayfirst=dayfirst)
            else:
                value = _CLEANSERS[name](raw)
            max_length = Customer._meta.get_field(name).max_length
            if isinstance(value, str) and max_length and len(value) > max_length:
                raise InvalidValue("too_long", f"{name} is longer than {max_length} characters")
        except InvalidValue as error:
            issues.append(
                Issue(field=name, value=str(raw)[:500], code=error.code, message=error.message)
            )
            return
        if value != "":
            clean[name] = value

    order = sorted(values, key=lambda name: name != "country")  # country first, for phones
    for name in order:
        run(name, values[name])
    return Cleansed(values={k: clean[k] for k in values if k in clean}, issues=issues)
