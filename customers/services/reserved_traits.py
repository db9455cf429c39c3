"""Segment's reserved identify traits, read into profile fields.

A pure function: the same traits always give the same split, so the
tracking pipeline, file imports' dry runs and tests agree. What is read
(see the README's "What the tracking libraries' fields mean"):

- ``email``, ``phone``, ``firstName``/``first_name``, ``lastName``/
  ``last_name``, ``birthday`` → the core fields of the same meaning;
- ``address`` object (``street``, ``street2``, ``city``, ``state``,
  ``postalCode``, ``country``) → the address fields; without an ``address``
  object, the same keys given flat among the traits are read instead (and
  are then not kept as custom traits);
- ``company`` object → ``company`` from its ``name``, its other keys kept as
  ``company_<key>`` traits (``company_id``, ``company_industry``,
  ``company_employee_count``, ``company_plan``…); ``company`` as text →
  ``company``;
- ``name`` → first and last name (first word, the rest) when the call
  carries neither; ``name`` itself is kept as a trait, and so is every other
  key (``createdAt``, ``title``…).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_CORE = {
    "email": "email",
    "phone": "phone",
    "firstName": "first_name",
    "first_name": "first_name",
    "lastName": "last_name",
    "last_name": "last_name",
    "birthday": "birthday",
}
ADDRESS_PARTS = {
    "street": "address_line1",
    "street2": "address_line2",
    "city": "city",
    "state": "region",
    "postalCode": "postal_code",
    "postal_code": "postal_code",
    "country": "country",
}
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def split_traits(traits: Mapping[str, object]) -> tuple[dict, dict]:
    """``(core field values, custom traits)`` of an identify call's traits.

    Core values are raw (``customers.services.normalize.cleanse_core``
    cleanses them); a value of the wrong shape (an ``address`` list, a
    ``company`` number) stays a custom trait as sent.
    """
    core: dict[str, object] = {}
    custom: dict[str, object] = {}
    address = traits.get("address")
    flat_address = not isinstance(address, dict)
    for key, value in traits.items():
        if key in _CORE:
            core[_CORE[key]] = value
        elif key == "address" and isinstance(value, dict):
            core.update({ADDRESS_PARTS[k]: v for k, v in value.items() if k in ADDRESS_PARTS})
        elif flat_address and key in ADDRESS_PARTS:
            core[ADDRESS_PARTS[key]] = value
        elif key == "company" and isinstance(value, dict):
            if "name" in value:
                core["company"] = value["name"]
            custom.update({_company_trait(k): v for k, v in value.items() if k != "name"})
        elif key == "company" and isinstance(value, str):
            core["company"] = value
        else:
            custom[key] = value
    if "first_name" not in core and "last_name" not in core:
        core.update(names_from_full_name(traits.get("name")))
    return core, custom


def names_from_full_name(name: object) -> dict[str, str]:
    """First and last name from a full name: the first word, and the rest
    (``"Zoë van der Berg"`` → ``Zoë`` / ``van der Berg``); nothing from a blank
    or a non-text value."""
    if not isinstance(name, str):
        return {}
    words = name.split()
    if not words:
        return {}
    names = {"first_name": words[0]}
    if len(words) > 1:
        names["last_name"] = " ".join(words[1:])
    return names


def _company_trait(key: str) -> str:
    """``employeeCount`` and ``employee_count`` both → ``company_employee_count``."""
    return "company_" + _CAMEL.sub("_", str(key)).lower()
