"""Global search: customers holding a term as any identifier, or whose name,
company or city holds every word of it (``backoffice.name_search``)."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from accounts.masking import can_see_contact_details, is_contact_lookup, shown_email, shown_phone
from backoffice.name_search import ranked_matches
from customers.models import Customer
from customers.selectors import customer_ids_matching_identifier

MAX_RESULTS = 50
MAX_SUGGESTIONS = 8
_RESULT_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "company",
    "city",
    "country",
    "last_seen",
)


@dataclass(frozen=True)
class SearchResult:
    pk: int
    name: str
    email: str
    phone: str
    company: str
    city: str
    country: str
    last_seen: object
    url: str


def search_customers(*, term: str, user, limit: int = MAX_RESULTS) -> list[SearchResult]:
    """Active profiles matching ``term``, exact identifier matches first, then
    name matches by latest activity; contact details masked for people who may
    not see them. For them a term that looks like an email or phone number is
    not searched at all (the view refuses it first)."""
    term = term.replace("\x00", "").strip()  # PostgreSQL text holds no NUL (a 500 otherwise)
    if not term:
        return []
    active = Customer.objects.active().only(*_RESULT_FIELDS)
    by_identifier: list[Customer] = []
    if can_see_contact_details(user) or not is_contact_lookup(term):
        ids = customer_ids_matching_identifier(term)
        if ids:
            by_identifier = list(active.filter(pk__in=ids).order_by("-last_seen")[:limit])
    seen = {c.pk for c in by_identifier}
    by_name = []
    if len(by_identifier) < limit:
        ids = ranked_matches(active.exclude(pk__in=seen), term, limit=limit - len(by_identifier))
        rows = active.in_bulk(ids)
        by_name = [rows[pk] for pk in ids if pk in rows]
    return [_result(c, user) for c in (*by_identifier, *by_name)]


def _result(c: Customer, user) -> SearchResult:
    return SearchResult(
        pk=c.pk,
        name=" ".join(p for p in (c.first_name, c.last_name) if p) or f"Customer #{c.pk}",
        email=shown_email(user, c.email),
        phone=shown_phone(user, c.phone),
        company=c.company,
        city=c.city,
        country=c.country,
        last_seen=c.last_seen,
        url=reverse("admin:customers_customer_change", args=[c.pk]),
    )
