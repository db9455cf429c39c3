"""Global search: customers holding a term as any identifier."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from accounts.masking import shown_email, shown_phone
from customers.models import Customer
from customers.selectors import customer_ids_matching_identifier

MAX_RESULTS = 50


@dataclass(frozen=True)
class SearchResult:
    pk: int
    name: str
    email: str
    phone: str
    country: str
    last_seen: object
    url: str


def search_customers(*, term: str, user) -> list[SearchResult]:
    """Active profiles whose identifiers match ``term`` (normalized per type,
    ``type:value`` accepted), newest activity first, contact details masked
    for people who may not see them."""
    ids = customer_ids_matching_identifier(term)
    if not ids:
        return []
    customers = Customer.objects.active().filter(pk__in=ids).order_by("-last_seen")[:MAX_RESULTS]
    return [
        SearchResult(
            pk=c.pk,
            name=" ".join(p for p in (c.first_name, c.last_name) if p) or f"Customer #{c.pk}",
            email=shown_email(user, c.email),
            phone=shown_phone(user, c.phone),
            country=c.country,
            last_seen=c.last_seen,
            url=reverse("admin:customers_customer_change", args=[c.pk]),
        )
        for c in customers
    ]
