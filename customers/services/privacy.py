"""What ``customers`` holds about a person: export it, or erase it without a trace.

``consent`` registers these with its privacy registry; ``customers`` itself
knows nothing about privacy requests.
"""

from __future__ import annotations

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q

from core.mentions import Mentions
from core.models import OutboxEntry
from customers.models import (
    Customer,
    DataQualityIssue,
    DuplicateSuggestion,
    Event,
    Group,
    GroupMembership,
    Identity,
    Merge,
)
from customers.services.shared_values import forget as forget_shared_values

_PROFILE_FIELDS = [f.attname for f in Customer._meta.concrete_fields]
_PROFILE_HISTORY_FIELDS = [
    f.attname
    for f in Customer.history.model._meta.concrete_fields
    if not f.name.startswith("history_")
]


def subject_customer_ids(customer_id: int) -> list[int]:
    """The profile and every profile merged into it (directly or through others)."""
    found = [customer_id]
    frontier = [customer_id]
    while frontier:
        frontier = list(
            Customer.objects.filter(merged_into_id__in=frontier)
            .exclude(pk__in=found)
            .values_list("pk", flat=True)
        )
        found.extend(frontier)
    return found


def subject_identifiers(customer_ids: list[int]) -> list[tuple[str, str]]:
    """Every (type, value) the profiles are known by, core email/phone included."""
    pairs = list(
        Identity.objects.filter(customer_id__in=customer_ids).values_list("type__name", "value")
    )
    for email, phone in Customer.objects.filter(pk__in=customer_ids).values_list("email", "phone"):
        if email:
            pairs.append(("email", email))
        if phone:
            pairs.append(("phone", phone))
    return list(dict.fromkeys(pairs))


@transaction.atomic
def erase_customers(*, customer_ids: list[int], identifier_values: list[str]) -> int:
    """Delete the profiles, their identities, events, outbox rows and every history row,
    then remove mentions of their identifiers from everyone else's data.

    Deleting a row with history writes one more historical row (the "-"
    record), so the history tables are purged *after* the deletes.
    Returns the number of rows removed or rewritten.
    """
    identity_ids = list(
        Identity.objects.filter(customer_id__in=customer_ids).values_list("pk", flat=True)
    )
    removed_flags = forget_shared_values(
        owned=Identity.objects.filter(pk__in=identity_ids).values_list("type__name", "value"),
        known=subject_identifiers(customer_ids),
    )
    removed = Event.objects.filter(customer_id__in=customer_ids).delete()[0]
    removed += DataQualityIssue.objects.filter(
        Q(customer_id__in=customer_ids) | Q(value__in=identifier_values)
    ).delete()[0]
    removed += _delete_admin_log(Customer, customer_ids) + _delete_admin_log(Identity, identity_ids)
    removed += Customer.objects.filter(pk__in=customer_ids).delete()[0]
    removed += Customer.history.filter(id__in=customer_ids).delete()[0]
    removed += Identity.history.filter(
        Q(id__in=identity_ids) | Q(customer_id__in=customer_ids) | Q(value__in=identifier_values)
    ).delete()[0]
    return removed + removed_flags + redact_mentions(Mentions(identifier_values))


def redact_mentions(mentions: Mentions) -> int:
    """Mentions of the person in other people's events, outbox entries, traits (and
    their history), groups, merge logs, duplicate comparisons and data-quality issues
    are replaced by ``[erased]``; the rows themselves stay. Returns rows rewritten."""
    return sum(
        mentions.redact_rows(queryset, fields)
        for queryset, fields in (
            (Event.objects.all(), ("properties", "context")),
            (OutboxEntry.objects.all(), ("payload",)),
            (Customer.objects.all(), ("traits",)),
            (Customer.history.all(), ("traits",)),
            (Group.objects.all(), ("traits",)),
            (Group.history.all(), ("traits",)),
            (Merge.objects.all(), ("detail", "changes")),
            (DuplicateSuggestion.objects.all(), ("comparison",)),
            (DataQualityIssue.objects.all(), ("value", "message")),
        )
    )


def _delete_admin_log(model, object_ids: list[int]) -> int:
    if not object_ids:
        return 0
    return LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(model),
        object_id__in=[str(pk) for pk in object_ids],
    ).delete()[0]


def export_profiles(customer_ids: list[int]) -> list[dict]:
    return list(
        Customer.objects.filter(pk__in=customer_ids).order_by("pk").values(*_PROFILE_FIELDS)
    )


def export_identities(customer_ids: list[int]) -> list[dict]:
    return list(
        Identity.objects.filter(customer_id__in=customer_ids)
        .order_by("pk")
        .values("type__name", "value", "customer_id", "source_id", "first_seen")
    )


def export_events(customer_ids: list[int]) -> list[dict]:
    return list(
        Event.objects.filter(customer_id__in=customer_ids)
        .order_by("timestamp", "pk")
        .values(
            "customer_id",
            "source_id",
            "type",
            "name",
            "properties",
            "context",
            "timestamp",
            "received_at",
            "message_id",
        )
    )


def export_group_memberships(customer_ids: list[int]) -> list[dict]:
    """The accounts (Segment ``group`` calls) the person belongs to."""
    return list(
        GroupMembership.objects.filter(customer_id__in=customer_ids)
        .order_by("first_seen", "pk")
        .values("group__group_id", "group__name", "source_id", "first_seen", "last_seen")
    )


def export_data_quality_issues(customer_ids: list[int]) -> list[dict]:
    """Values that arrived for the person but could not be used."""
    return list(
        DataQualityIssue.objects.filter(customer_id__in=customer_ids)
        .order_by("created_at", "pk")
        .values("field", "value", "code", "message", "source_id", "created_at")
    )


def export_change_history(customer_ids: list[int]) -> dict[str, list[dict]]:
    """Who changed the profile and its identities, when (the audit trail)."""
    meta = ("history_date", "history_type", "history_actor", "history_change_reason")
    profile = Customer.history.filter(id__in=customer_ids).order_by("history_date", "history_id")
    identities = Identity.history.filter(customer_id__in=customer_ids).order_by(
        "history_date", "history_id"
    )
    return {
        "profile": list(profile.values(*meta, *_PROFILE_HISTORY_FIELDS)),
        "identities": list(identities.values(*meta, "id", "type_id", "value", "customer_id")),
    }
