"""Cleansing: the one place that turns raw values into canonical ones.

Every way in (tracking API, file import, REST) calls these. Each cleanser
returns the canonical value or raises ``InvalidValue`` with a stable code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings

JUNK_IDENTIFIER_VALUES = frozenset(
    {"", "null", "none", "nil", "undefined", "anonymous", "0", "-1", "nan", "[object object]"}
)
_ALL_SAME_FILLER = re.compile(r"^[0\-]+$")
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)


@dataclass(frozen=True)
class InvalidValue(Exception):
    code: str
    message: str

    def __str__(self) -> str:
        return self.message


def is_junk_identifier(value: str) -> bool:
    """Placeholders that clients send when they have no real id."""
    stripped = value.strip().lower()
    return stripped in JUNK_IDENTIFIER_VALUES or bool(_ALL_SAME_FILLER.match(stripped))


def normalize_email(raw: str) -> str:
    value = str(raw).strip().lower()
    if len(value) > 254 or not _EMAIL.match(value):
        raise InvalidValue("invalid_email", f"{raw!r} is not a valid email address")
    return value


def normalize_phone(raw: str, *, region: str | None = None) -> str:
    import phonenumbers

    text = str(raw).strip()
    try:
        parsed = phonenumbers.parse(text, region or settings.TRIBUTARY_DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException:
        raise InvalidValue("invalid_phone", f"{raw!r} is not a phone number") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidValue("invalid_phone", f"{raw!r} is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalize_identifier(type_name: str, raw: object) -> str:
    """Canonical form of an identifier value; junk raises InvalidValue."""
    if raw is None or isinstance(raw, (dict, list, bool)):
        raise InvalidValue("invalid_identifier", f"{type_name} must be a string or number")
    text = str(raw).strip()
    if is_junk_identifier(text):
        raise InvalidValue("junk_identifier", f"{raw!r} is a placeholder, not an identifier")
    if type_name == "email":
        return normalize_email(text)
    if type_name == "phone":
        return normalize_phone(text)
    if len(text) > 255:
        raise InvalidValue("identifier_too_long", f"{type_name} is longer than 255 characters")
    return text
