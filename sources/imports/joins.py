"""Rows that join a known person only through a less trusted identifier.

A row whose most trusted identifier (the lowest ``IdentifierType.priority``
it carries, e.g. its email) is new, yet lands on an existing profile
through a less trusted one (a phone number), may be somebody else who
shares that phone. The identity rules let it join when the profile holds
no value of the trusted type (no conflict); the import (and its preview)
lists each such row as a notice and counts them, so the person running it
can check before importing.
"""

from __future__ import annotations

from customers.models import IdentifierType, Identity
from sources.imports.rows import RowIssue, RowOutcome
from sources.pipeline import ProcessResult, message_identifiers

WEAK_JOIN = "joined_through_lower_priority"


def weak_join(
    outcome: RowOutcome, result: ProcessResult, types: dict[str, IdentifierType]
) -> RowIssue | None:
    """The notice for a row that joined an existing profile only through
    identifiers less trusted than its most trusted one, or None."""
    if result.customer is None or result.created_profile or not result.new_identities:
        return None
    pairs = [p for p in message_identifiers(outcome.message, known_types=types) if p[0] in types]
    if not pairs:
        return None
    top = min(types[t].priority for t, _ in pairs)
    new = set(result.new_identities)
    trusted = [(t, v) for t, v in pairs if types[t].priority == top]
    if not all(f"{t}:{v}" in new for t, v in trusted):
        return None
    held = set(Identity.objects.filter(customer=result.customer).values_list("type__name", "value"))
    through = [(t, v) for t, v in pairs if f"{t}:{v}" not in new and (t, v) in held]
    if not through:
        return None
    name, value = trusted[0]
    column = outcome.columns.get((name, value)) or outcome.columns.get(name, "")
    return RowIssue(
        outcome.row,
        column,
        value,
        "notice",
        WEAK_JOIN,
        f"joins profile #{result.customer.pk} through {', '.join(t for t, _ in through)} only: "
        f"its {name} is new to that profile (check that it is the same person)",
    )
