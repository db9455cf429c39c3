"""Masking emails and phone numbers for people who may not see them.

Users without ``accounts.view_contact_details`` (the Viewer role) see
``a•••@e•••.com`` and ``••••••••23`` in lists, pages and exports. The log
filter at the bottom keeps contact details and secrets out of log lines for
everyone.
"""

from __future__ import annotations

import logging
import re

from accounts.roles import SEE_CONTACT_DETAILS

MASK = "•••"
CONTACT_TYPES = frozenset({"email", "phone"})
_EMAIL_IN_TEXT = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
# Phone numbers as Tributary stores them: E.164, "+" possibly URL-encoded.
_PHONE_IN_TEXT = re.compile(r"(?:\+|%2B)\d{7,15}", re.IGNORECASE)


def can_see_contact_details(user) -> bool:
    return bool(user and user.has_perm(SEE_CONTACT_DETAILS))


def mask_email(value: str) -> str:
    if not value:
        return value
    local, _, domain = value.partition("@")
    host, _, tld = domain.rpartition(".")
    if not host:
        return f"{local[:1]}{MASK}"
    return f"{local[:1]}{MASK}@{host[:1]}{MASK}.{tld}"


def mask_phone(value: str) -> str:
    if not value:
        return value
    digits = [c for c in value if c.isdigit()]
    return "•" * max(len(digits) - 2, 3) + "".join(digits[-2:])


def mask_identifier(type_name: str, value: str) -> str:
    if type_name == "email":
        return mask_email(value)
    if type_name == "phone":
        return mask_phone(value)
    return value


def shown_email(user, value: str) -> str:
    return value if can_see_contact_details(user) else mask_email(value)


def shown_phone(user, value: str) -> str:
    return value if can_see_contact_details(user) else mask_phone(value)


def shown_identifier(user, type_name: str, value: str) -> str:
    return value if can_see_contact_details(user) else mask_identifier(type_name, value)


def redact_text(text: str) -> str:
    """Replace anything that looks like an email or an E.164 phone number."""
    text = text.replace("%40", "@")
    text = _EMAIL_IN_TEXT.sub(lambda m: mask_email(m.group(0)), text)
    return _PHONE_IN_TEXT.sub(lambda m: mask_phone(re.sub("(?i)^%2b", "+", m.group(0))), text)


# --- log lines ---------------------------------------------------------------

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
    """``redact_text`` plus what only logs carry: secrets, and phone numbers
    written any way under a key that names one (``"phone": "(415) 555-0123"``).

    Secrets: write keys, API keys, sign-in tokens and webhook signing secrets
    by their prefixes (``wk_``, ``tk_``, ``tok_``, ``whsec_``), the credentials
    of ``Authorization`` headers (``Basic``/``Bearer``/``Token``), and any
    value under ``writeKey``, ``password`` or ``secret``.
    """
    text = _KEYED_VALUE.sub(_mask_keyed, text)
    text = _PREFIXED_SECRET.sub(lambda m: f"{m.group(1)}_{MASK}", text)
    text = _AUTHORIZATION.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    return redact_text(text)


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
