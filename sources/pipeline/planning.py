"""Stage 1, plan: the identifiers each message carries, cleansed and screened."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from customers.services.identity import (
    PREVIOUS_ID_TYPES,
    IdentityRules,
    identifier_types,
    screen_identifiers,
)
from customers.services.normalize import (
    InvalidValue,
    Issue,
    normalize_country,
    normalize_identifier,
)
from sources.contracts import NormalizedMessage
from sources.pipeline.state import Batch, MessageState, Pair


def plan_batch(messages: Sequence[NormalizedMessage]) -> Batch:
    """One state per message: its usable identifiers and the issues of the others."""
    types = identifier_types()
    rules = IdentityRules.load(types)
    states = []
    for index, message in enumerate(messages):
        found, issues = collect_identifiers(message, known_types=types)
        kept, blocked = screen_identifiers(identifiers=found, rules=rules)
        previous = [(t, message.previous_id) for t in PREVIOUS_ID_TYPES if message.previous_id]
        states.append(MessageState(index, message, kept, [*issues, *blocked], previous))
    return Batch(states=states, types=types, rules=rules)


def message_identifiers(
    message: NormalizedMessage, *, known_types: Collection[str] | None = None
) -> list[Pair]:
    """(type, normalized value) pairs the message carries; junk is left out."""
    return collect_identifiers(message, known_types=known_types)[0]


def collect_identifiers(
    message: NormalizedMessage, *, known_types: Collection[str] | None = None
) -> tuple[list[Pair], list[Issue]]:
    """(type, normalized value) pairs the message carries, and the issues of
    the values that could not be used (junk placeholders, bad emails…).

    Person traits come from ``context.traits`` and ``traits`` (except on
    group calls, whose traits describe the group).
    ``context.externalIds`` of a type we do not know become ``external_id``
    values namespaced by their type. An alias's ``previousId`` is added by
    the resolve stage, which knows whether it is a user id or an anonymous id.
    ``known_types`` are the identifier type names (read from the database
    when not given).
    """
    if known_types is None:
        known_types = identifier_types()
    context_traits = message.context.get("traits")
    person: dict = dict(context_traits) if isinstance(context_traits, dict) else {}
    if message.type != "group":
        person.update(message.traits)
    raw: list[tuple[str, object]] = [
        ("user_id", message.user_id),
        ("anonymous_id", message.anonymous_id),
        ("email", person.get("email")),
        ("phone", person.get("phone")),
    ]
    for type_name, value in message.external_ids:
        if type_name in known_types:
            raw.append((type_name, value))
        else:
            raw.append(("external_id", f"{type_name}:{value}"))
    found: list[Pair] = []
    issues: list[Issue] = []
    region = _phone_region(person)
    for type_name, value in raw:
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        try:
            pair = (type_name, normalize_identifier(type_name, value, region=region))
        except InvalidValue as error:
            issues.append(Issue(type_name, str(value)[:500], error.code, error.message))
            continue
        if pair not in found:
            found.append(pair)
    return found, issues


def _phone_region(traits) -> str | None:
    """The profile's country, to read local phone numbers in (None: the default)."""
    address = traits.get("address")
    country = address.get("country") if isinstance(address, dict) else traits.get("country")
    if not country or not isinstance(country, str):
        return None
    try:
        return normalize_country(country)
    except InvalidValue:
        return None
