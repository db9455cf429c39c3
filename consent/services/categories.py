"""Consent category names, as tracking libraries and consent managers spell
them, mapped to purposes.

Segment's consent tooling sends ``context.consent.categoryPreferences`` as
``{"Advertising": true, "DataSharing": false}``, RudderStack's as ``{"Data
Sharing": false}``: names are compared without case, spaces, underscores or
hyphens, so both reach the same purpose. A purpose answers to its code, to
the names in its ``tracking_categories`` (editable in the admin) and, for the
purposes Tributary seeds, to the standard names below. A name that reaches
no active purpose, or a value that is not ``true``/``false``, is returned
as such for the caller to report: it is never silently dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from consent.models import Purpose

# purpose code -> the category names Segment's and RudderStack's consent
# integrations use for it (the README lists them)
STANDARD_CATEGORIES: dict[str, tuple[str, ...]] = {
    "advertising": ("Advertising", "Targeting"),
    "analytics": ("Analytics", "Performance"),
    "personalization": ("Functional", "Personalization"),
    "third_party_sharing": ("DataSharing", "Data Sharing"),
    "email_marketing": ("Email", "Email Marketing"),
    "sms_marketing": ("SMS", "SMS Marketing"),
}
# the data-quality issue code of a category no purpose answers to; the
# source's admin page counts them
UNKNOWN_CONSENT_CATEGORY = "unknown_consent_category"
_SEPARATORS = re.compile(r"[\s_\-]+")


def category_key(name: object) -> str:
    """``"Data Sharing"``, ``"DataSharing"`` and ``"data_sharing"`` → ``datasharing``."""
    return _SEPARATORS.sub("", str(name)).casefold()


@dataclass(frozen=True)
class CategoryReading:
    """What a ``categoryPreferences`` object says, purpose by purpose.

    ``unknown``: names that reach no active purpose; ``invalid``: names whose
    value is not a boolean (neither is recorded as consent).
    """

    answers: dict[Purpose, bool] = field(default_factory=dict)
    unknown: tuple[str, ...] = ()
    invalid: tuple[str, ...] = ()


def read_categories(
    categories: Mapping[str, object], *, purposes: Iterable[Purpose]
) -> CategoryReading:
    """Map category names to the given (active) purposes."""
    by_key: dict[str, Purpose] = {}
    for purpose in purposes:
        names = (purpose.code, *purpose.tracking_categories)
        names += STANDARD_CATEGORIES.get(purpose.code, ())
        for name in names:
            by_key.setdefault(category_key(name), purpose)
    answers: dict[Purpose, bool] = {}
    unknown: list[str] = []
    invalid: list[str] = []
    for name, value in categories.items():
        purpose = by_key.get(category_key(name))
        if purpose is None:
            unknown.append(name)
        elif not isinstance(value, bool):
            invalid.append(name)
        else:
            answers[purpose] = value
    return CategoryReading(answers, tuple(unknown), tuple(invalid))
