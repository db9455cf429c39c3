"""Masking emails and phone numbers for people who may not see them.

Users without ``accounts.view_contact_details`` (the Viewer role) see
``a•••@e•••.com`` and ``••••••••23`` in lists, pages and exports. The log
filter (``accounts.log_redaction``) masks with ``redact_text`` for everyone.
"""

from __future__ import annotations

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
