"""The customer 360° page: everything known about one profile, read-side.

Each section is one bounded query (the event timeline is paginated), and
emails and phone numbers are masked for people who may not see them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.core.paginator import Paginator
from django.db.models import Count, Sum
from django.utils.dateparse import parse_datetime

from accounts.masking import (
    can_see_contact_details,
    shown_data,
    shown_field,
    shown_identifier,
    shown_text,
    shown_trait,
)
from consent.selectors import consent_history, consent_overview
from customers.models import CORE_FIELDS, Customer, Event, Merge, Source
from insights.selectors import profile_insights
from segments.models import SegmentMembership
from segments.purchases import purchase_event, revenue_expression
from segments.selectors import profile_computed_traits

EVENTS_PER_PAGE = 25
HISTORY_ROWS = 20


@dataclass(frozen=True)
class ValueRow:
    name: str
    value: object
    source: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class IdentityRow:
    type: str
    value: str
    source: str
    first_seen: datetime


@dataclass(frozen=True)
class Purchases:
    """Lifetime value and order count: the one purchase event (DESIGN.md)."""

    event: str
    count: int
    revenue: float


@dataclass(frozen=True)
class HistoryRow:
    at: datetime
    who: str
    kind: str
    changes: list[tuple[str, object, object]] = field(default_factory=list)


def display_name(customer: Customer, *, user) -> str:
    """The name, else the email or phone (in full for those who may see it)."""
    name = " ".join(p for p in (customer.first_name, customer.last_name) if p)
    if can_see_contact_details(user):
        return name or customer.email or customer.phone or f"Customer #{customer.pk}"
    return str(customer)  # masked


def _provenance(customer: Customer) -> tuple[dict, dict[int, str]]:
    provenance = customer.trait_provenance or {}
    source_ids = {p.get("source") for p in provenance.values() if isinstance(p, dict)}
    names = dict(
        Source.objects.filter(pk__in=[s for s in source_ids if s]).values_list("pk", "name")
    )
    return provenance, names


def _row(name, value, key, provenance, names) -> ValueRow:
    entry = provenance.get(key) if isinstance(provenance.get(key), dict) else {}
    at = entry.get("at")
    return ValueRow(
        name=name,
        value=value,
        source=names.get(entry.get("source"), ""),
        at=parse_datetime(at) if isinstance(at, str) else None,
    )


def profile_rows(customer: Customer, *, user) -> tuple[list[ValueRow], list[ValueRow]]:
    """Core fields and custom traits, each with the source and time that set it."""
    provenance, names = _provenance(customer)
    core = [
        _row(name, shown_field(user, name, value), name, provenance, names)
        for name in CORE_FIELDS
        if (value := getattr(customer, name)) not in (None, "")
    ]
    traits = [
        _row(name, shown_trait(user, name, value), f"traits.{name}", provenance, names)
        for name, value in sorted((customer.traits or {}).items())
    ]
    return core, traits


def event_page(
    customer: Customer, *, event_type: str, page: str | int | None, user=None, name: str = ""
):
    """One page of the timeline, newest first, optionally of one type or
    name; each event carries its properties (``shown_properties``), masked
    for people who may not see contact details."""
    events = customer.events.select_related("source").order_by("-timestamp", "-id")
    if event_type in Event.Type.values:
        events = events.filter(type=event_type)
    if name:
        events = events.filter(name=name)
    page = Paginator(events, EVENTS_PER_PAGE).get_page(page)
    for event in page.object_list:
        event.shown_properties = sorted(shown_data(user, event.properties or {}).items())
    return page


def purchases(customer: Customer) -> Purchases:
    """Order count and lifetime value over the purchase event."""
    totals = customer.events.filter(type=Event.Type.TRACK, name=purchase_event()).aggregate(
        count=Count("id"), revenue=Sum(revenue_expression())
    )
    return Purchases(
        event=purchase_event(), count=totals["count"], revenue=totals["revenue"] or 0.0
    )


def identity_rows(customer: Customer, *, user) -> list[IdentityRow]:
    """Every identifier of the profile with the source that brought it."""
    identities = customer.identities.select_related("type", "source").order_by(
        "type__priority", "type__name", "first_seen"
    )
    return [
        IdentityRow(
            type=i.type.name,
            value=shown_identifier(user, i.type.name, i.value),
            source=i.source.name if i.source else "",
            first_seen=i.first_seen,
        )
        for i in identities[:100]
    ]


def event_names(customer: Customer) -> list[str]:
    """The event names in this person's timeline (for the timeline filter)."""
    names = customer.events.order_by().values_list("name", flat=True).distinct()
    return sorted(n for n in names[:100] if n)


def data_quality_rows(customer: Customer, *, user) -> list:
    rows = list(customer.data_quality_issues.select_related("source")[:50])
    for issue in rows:
        issue.shown_value = shown_field(user, issue.field, issue.value)
        issue.shown_message = shown_text(user, issue.message)  # it quotes the value
    return rows


def history_rows(customer: Customer, *, user) -> list[HistoryRow]:
    """Who changed what on the profile, newest first (field by field)."""
    records = list(
        customer.history.select_related("history_user").order_by("-history_date", "-history_id")[
            : HISTORY_ROWS + 1
        ]
    )
    rows = []
    for newer, older in zip(records, [*records[1:], None], strict=True):
        if len(rows) == HISTORY_ROWS:
            break
        changes = []
        if older is not None:
            delta = newer.diff_against(older)
            changes = [
                (
                    c.field,
                    shown_field(user, c.field, c.old),
                    shown_field(user, c.field, c.new),
                )
                for c in delta.changes
            ]
        rows.append(
            HistoryRow(
                at=newer.history_date,
                who=str(newer.history_user) if newer.history_user else "pipeline",
                kind={"+": "created", "~": "changed", "-": "deleted"}[newer.history_type],
                changes=changes,
            )
        )
    return rows


def segment_rows(customer: Customer) -> list[SegmentMembership]:
    """Segments the person is in or was in, with entry (and exit) times."""
    return list(
        SegmentMembership.objects.filter(customer=customer)
        .select_related("segment")
        .order_by("exited_at", "-entered_at")[:50]
    )


def merge_rows(customer: Customer) -> list[Merge]:
    """Profiles merged into this one (the merge log), newest first."""
    return list(
        Merge.objects.filter(survivor=customer)
        .select_related("actor", "undone_by")
        .order_by("-created_at", "-id")[:50]
    )


def customer_360(
    customer: Customer, *, user, event_type: str = "", page=None, event_name: str = ""
) -> dict:
    core, traits = profile_rows(customer, user=user)
    segments = segment_rows(customer)
    return {
        "name": display_name(customer, user=user),
        "email": shown_field(user, "email", customer.email),
        "phone": shown_field(user, "phone", customer.phone),
        "purchases": purchases(customer),
        "identities": identity_rows(customer, user=user),
        "current_segments": [m.segment for m in segments if m.exited_at is None],
        "core": core,
        "traits": traits,
        "events": event_page(
            customer, event_type=event_type, page=page, user=user, name=event_name
        ),
        "event_type": event_type if event_type in Event.Type.values else "",
        "event_types": Event.Type.values,
        "event_name": event_name,
        "event_names": event_names(customer),
        "data_quality": data_quality_rows(customer, user=user),
        "history": history_rows(customer, user=user),
        "segments": segments,
        "computed_traits": [
            (name, shown_trait(user, name, value))
            for name, value in profile_computed_traits(customer.pk)
        ],
        "insights": profile_insights(customer.pk),
        "consent": consent_overview(customer),
        "consent_history": list(consent_history(customer, limit=HISTORY_ROWS)),
        "merges": merge_rows(customer),
        "can_undo_merges": user.has_perm("customers.change_merge"),
    }
