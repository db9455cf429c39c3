"""Masking emails and phone numbers for people who may not see them.

The one copy of the masking rules. Users without
``accounts.view_contact_details`` (the Viewer role) get, wherever data
leaves (admin pages, templates, the REST API, exports, history):

- an email: its first character, ``•••@•••.`` and its top-level domain
  (``mary.o'neil@example.com`` → ``m•••@•••.com``);
- a phone number: ``•••`` and its last two digits (``+4915123456789`` →
  ``•••89``);
- any other text: masked where it contains an email shape, or a run of
  digits and separators (spaces, ``-``, ``.``, ``/``, parentheses, a leading
  ``+``) holding seven or more digits (``0151 2345 6789`` → ``•••89``).
  ISO 8601 dates and times (``2026-06-01T12:00:00Z``) are times, not
  numbers, and stay.

People holding the permission, and API keys (governed by their scopes),
see values in full. Viewers may not *search* by contact details either
(``is_contact_lookup``): a prefix search would recover what the mask hides.
The log filter at the bottom keeps contact details and secrets out of log
lines for everyone.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from accounts.roles import SEE_CONTACT_DETAILS

MASK = "•••"
CONTACT_TYPES = frozenset({"email", "phone"})
# An email shape: a local part of anything but spaces and delimiters (RFC 5322
# allows ' ! # $ % & * + / = ? ^ ` { | } ~ and, with SMTPUTF8, any letter),
# then a dotted domain ending in a top-level domain of letters.
# ``%40`` and ``%2B``/``%20``: the same, URL-encoded (a page URL, a request path).
_EMAIL_IN_TEXT = re.compile(r"""[^\s@<>()\[\],;:"\\]+?(?:@|%40)(?:[\w-]+\.)+[^\W\d_]{2,}""")
# Digits, possibly separated by spaces, - . / ( ) and led by + or (; an ISO
# 8601 date or time is tried first and left alone.
_NUMBERS = re.compile(
    r"(?P<time>(?<!\d)\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
    r"(?:Z|[+-]\d{2}:?\d{2})?(?![\d-]))"
    r"|(?P<digits>(?:[+(]|%2B)?\d(?:(?:[ \t\u00a0\-./()]|%20)*\d)*)",
    re.IGNORECASE,
)
MIN_DIGITS = 7
# What URL-encodes an email or phone in a path or query (log lines).
_URL_ENCODED = re.compile(r"%(40|2B|20)", re.IGNORECASE)
_URL_DECODED = {"40": "@", "2B": "+", "20": " "}
# Trait, property and column names that hold contact details.
_CONTACT_KEY = re.compile(r"e-?mail|phone|mobile|msisdn|(^|_)tel(_|$)|fax", re.IGNORECASE)


def can_see_contact_details(user) -> bool:
    return bool(user and user.has_perm(SEE_CONTACT_DETAILS))


def mask_email(value: str) -> str:
    """``mary.o'neil@example.com`` → ``m•••@•••.com``."""
    if not value:
        return value
    local, _, domain = value.rpartition("@")
    tld = domain.rpartition(".")[2] if "." in domain else ""
    first = (local or value)[:1]
    return f"{first}{MASK}@{MASK}.{tld}" if tld else f"{first}{MASK}@{MASK}"


def mask_phone(value: str) -> str:
    """``+49 151 2345 6789`` → ``•••89``."""
    if not value:
        return value
    digits = [c for c in str(value) if c.isdigit()]
    return MASK + "".join(digits[-2:])


def mask_identifier(type_name: str, value: str) -> str:
    if type_name == "email":
        return mask_email(value)
    if type_name == "phone":
        return mask_phone(value)
    return redact_text(value)


def mask_field(name: str, value: Any) -> Any:
    """A value of the model field ``name`` (a typed column), masked for viewers:
    emails and phones by their own rule, other text by ``redact_text``, JSON
    by ``redact_data``; numbers, dates and flags are not contact details."""
    if value in (None, ""):
        return value
    if isinstance(value, str):
        if name == "email":
            return mask_email(value)
        if name == "phone":
            return mask_phone(value)
        return redact_text(value)
    if isinstance(value, dict | list | tuple):
        return redact_data(value)
    return value


def mask_trait(name: str, value: Any) -> Any:
    """A value of the custom trait or event property ``name`` (free-form JSON)."""
    return _redact_item(name, value)


def _mask_digits(match: re.Match) -> str:
    run = match.group(0)
    if match.group("time") or sum(c.isdigit() for c in _decoded(run)) < MIN_DIGITS:
        return run
    return mask_phone(_decoded(run))


def redact_text(text: str) -> str:
    """Mask every email shape and every run of seven or more digits in ``text``."""
    if not text:
        return text
    text = _EMAIL_IN_TEXT.sub(lambda m: mask_email(_decoded(m.group(0))), text)
    return _NUMBERS.sub(_mask_digits, text)


def _decoded(text: str) -> str:
    return _URL_ENCODED.sub(lambda m: _URL_DECODED[m.group(1).upper()], text)


def redact_data(value: Any) -> Any:
    """``redact_text`` through a JSON document (traits, event properties,
    rules); whole numbers of seven or more digits (a phone sent as a
    number) are masked too. Keys named like contact details get the email or
    phone mask."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int) and len(str(abs(value))) >= MIN_DIGITS:
        return mask_phone(str(value))
    if isinstance(value, dict):
        return {key: _redact_item(key, item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_data(item) for item in value]
    return value


def _redact_item(key: Any, item: Any) -> Any:
    if isinstance(key, str) and is_contact_key(key) and item not in (None, ""):
        if isinstance(item, str) and "@" in item:
            return mask_email(item)
        if isinstance(item, int) and not isinstance(item, bool):
            return mask_phone(str(item))
    return redact_data(item)


def redact_json(value: Any) -> str:
    """A JSON document as text, masked: for read-only JSON fields in pages."""
    return json.dumps(redact_data(value), ensure_ascii=False, sort_keys=True)


def shown_email(user, value: str) -> str:
    return value if can_see_contact_details(user) else mask_email(value)


def shown_phone(user, value: str) -> str:
    return value if can_see_contact_details(user) else mask_phone(value)


def shown_identifier(user, type_name: str, value: str) -> str:
    return value if can_see_contact_details(user) else mask_identifier(type_name, value)


def shown_field(user, name: str, value: Any) -> Any:
    return value if can_see_contact_details(user) else mask_field(name, value)


def shown_trait(user, name: str, value: Any) -> Any:
    return value if can_see_contact_details(user) else mask_trait(name, value)


def shown_text(user, text: str) -> str:
    return text if can_see_contact_details(user) else redact_text(text)


def shown_data(user, value: Any) -> Any:
    return value if can_see_contact_details(user) else redact_data(value)


# --- lookups: what a viewer may not search by ----------------------------------


def is_contact_key(name: str) -> bool:
    """A field, trait or property name that holds emails or phone numbers."""
    return name in CONTACT_TYPES or bool(_CONTACT_KEY.search(name or ""))


def looks_like_contact(text: str) -> bool:
    """An email (or a piece of one: any ``@``) or seven or more digits."""
    text = _decoded(str(text))
    return "@" in text or redact_text(text) != text


def is_contact_lookup(term: str) -> bool:
    """Whether searching by ``term`` is searching by an email or phone number:
    ``email:…`` / ``phone:…`` (any identifier type named like one), or a value
    that looks like either."""
    term = str(term).strip()
    type_name, sep, value = term.partition(":")
    if sep and type_name and value and re.fullmatch(r"[A-Za-z0-9_\-]+", type_name):
        return is_contact_key(type_name) or "@" in value
    return looks_like_contact(term)


# --- log lines ---------------------------------------------------------------

_E164_IN_TEXT = re.compile(r"(?:\+|%2B)\d{7,15}", re.IGNORECASE)
_PREFIXED_SECRET = re.compile(r"\b(wk|tk|tok|whsec)_[A-Za-z0-9_\-]{6,}")
# a credential: 16+ token characters, one of them a digit (not an English word)
_AUTHORIZATION = re.compile(
    r"(?i)\b(basic|bearer|token)(\s+)(?=[A-Za-z0-9+/=._~\-]*\d)[A-Za-z0-9+/=._~\-]{16,}"
)
# names of keys whose values are masked whole (a pattern, not a secret)
_MASKED_KEYS = r"write_?key|password|passwd|secret|phone(?:_?number)?|mobile(?:_?phone)?|tel"
_KEYED_VALUE = re.compile(
    rf"""(?ix)
    (?P<key>["']?\b(?:{_MASKED_KEYS})\b["']?\s*[:=]\s*)
    (?P<value>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s,;&}}\]]+(?:\s+[\d()+.\-]+)*)
    """
)


def _mask_keyed(match: re.Match) -> str:
    value = match.group("value")
    quote = value[0] if value[0] in "\"'" else ""
    return f"{match.group('key')}{quote}{MASK}{quote}"


def redact_log_text(text: str) -> str:
    """Emails and E.164 numbers, plus what only logs carry: secrets, and phone numbers
    written any way under a key that names one (``"phone": "(415) 555-0123"``).

    Secrets: write keys, API keys, sign-in tokens and webhook signing secrets
    by their prefixes (``wk_``, ``tk_``, ``tok_``, ``whsec_``), the credentials
    of ``Authorization`` headers (``Basic``/``Bearer``/``Token``), and any
    value under ``writeKey``, ``password`` or ``secret``.
    """
    text = _KEYED_VALUE.sub(_mask_keyed, text)
    text = _PREFIXED_SECRET.sub(lambda m: f"{m.group(1)}_{MASK}", text)
    text = _AUTHORIZATION.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    # emails, and phone numbers as stored (E.164): durations and task ids in
    # logs are long digit runs too, so not ``redact_text``'s digit rule
    text = _EMAIL_IN_TEXT.sub(lambda m: mask_email(_decoded(m.group(0))), text)
    return _E164_IN_TEXT.sub(lambda m: mask_phone(m.group(0)), text)


class RedactContactDetails(logging.Filter):
    """The log filter, on every handler of ``settings.LOGGING``: contact details
    and secrets (``redact_log_text``) are masked in the message, its arguments
    and the exception text — the whole traceback, chained exceptions included
    (e.g. a database error quoting a JSON payload) — before any handler
    formats the record."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_log_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_info[0] is not None:
            # Formatted once here, masked, and the live exception dropped, so no
            # handler (ours or one added later) prints the clear text.
            record.exc_text = record.exc_text or self._formatter.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact_log_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_log_text(record.stack_info)
        return True
