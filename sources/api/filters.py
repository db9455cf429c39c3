"""django-filter filter sets for the profile and customer endpoints."""

from __future__ import annotations

import json
import math
import re

import django_filters
from django import forms
from django.db.models import Q, Subquery
from django.db.models.fields.json import KeyTransform
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError

from accounts.api.masking import masks_contact_details
from consent.selectors import allowed_q
from consent.services.consent import UnknownPurpose
from customers.models import Customer, Event, Identity
from customers.selectors import customer_ids_matching_identifier
from segments.models import SegmentMembership

_TRAIT_KEY = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")


class TraitConditionsField(forms.Field):
    """Repeated ``key:value`` query parameters (read with getlist)."""

    widget = forms.SelectMultiple

    def to_python(self, value) -> list[tuple[str, str]]:
        conditions = []
        for item in value or []:
            key, sep, raw = str(item).partition(":")
            if not sep or not _TRAIT_KEY.match(key):
                raise forms.ValidationError(
                    "Use trait=<key>:<value>; keys are letters, digits, _ . -",
                    code="invalid_trait_filter",
                )
            if "\x00" in raw:
                raise forms.ValidationError(
                    "A trait value cannot contain a NUL character.", code="invalid_trait_filter"
                )
            conditions.append((key, raw, _number(raw)))
        return conditions

    def validate(self, value) -> None:
        return None


def _number(raw: str) -> int | float | bool | None:
    """The JSON number or boolean ``raw`` also stands for (``age:30`` matches 30
    and "30"); a non-finite one (``NaN``, ``Infinity``, ``1e999``) is refused."""

    def refuse(name: str):
        raise forms.ValidationError(
            f"{name} is not a number a trait can hold.", code="invalid_trait_filter"
        )

    try:
        parsed = json.loads(raw, parse_constant=refuse)
    except (ValueError, RecursionError):
        return None
    if isinstance(parsed, float) and not math.isfinite(parsed):
        refuse(raw)
    return parsed if isinstance(parsed, (int, float, bool)) else None


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class TraitFilter(django_filters.Filter):
    field_class = TraitConditionsField

    def filter(self, qs, value):
        for index, (key, raw, number) in enumerate(value or []):
            alias = f"_trait_{index}"
            qs = qs.alias(**{alias: KeyTransform(key, "traits")})
            condition = Q(**{alias: raw})
            if number is not None:
                condition |= Q(**{alias: number})
            qs = qs.filter(condition)
        return qs


class IdFilter(django_filters.NumberFilter):
    """A row id: a whole number the database's bigint can hold (a bigger one
    used to reach the database and fail there)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


class CustomerFilter(django_filters.FilterSet):
    trait = TraitFilter(
        help_text="`<key>:<value>`, repeat for several (all must match); "
        "`age:30` matches the number or the text."
    )
    source = IdFilter(
        method="filter_source", help_text="Profiles with an identifier first seen from this source."
    )
    seen_since = django_filters.IsoDateTimeFilter(
        field_name="last_seen", lookup_expr="gte", help_text="Last seen at or after (ISO 8601)."
    )
    identified = django_filters.BooleanFilter(field_name="is_identified")
    country = django_filters.CharFilter(field_name="country", help_text="ISO 3166-1 alpha-2")
    segment = IdFilter(method="filter_segment", help_text="A segment id: only its current members.")
    allowed_for = django_filters.CharFilter(
        method="filter_allowed_for",
        help_text="A purpose code: only profiles that purpose may use now (consent).",
    )
    q = django_filters.CharFilter(
        method="search",
        help_text="Any identifier (`email:…`, or a bare value tried as every type), "
        "or part of a name, email or company.",
    )

    class Meta:
        model = Customer
        fields = (
            "trait",
            "source",
            "seen_since",
            "identified",
            "country",
            "segment",
            "allowed_for",
            "q",
        )

    @extend_schema_field(OpenApiTypes.INT)
    def filter_source(self, queryset, name, value):
        holders = Identity.objects.filter(source_id=value).values("customer_id")
        return queryset.filter(pk__in=Subquery(holders))

    @extend_schema_field(OpenApiTypes.INT)
    def filter_segment(self, queryset, name, value):
        members = SegmentMembership.objects.filter(segment_id=value, exited_at__isnull=True).values(
            "customer_id"
        )
        return queryset.filter(pk__in=Subquery(members))

    def filter_allowed_for(self, queryset, name, value):
        try:
            return queryset.filter(allowed_q(value))
        except UnknownPurpose as exc:
            raise ValidationError({"allowed_for": [str(exc)]}) from None

    def search(self, queryset, name, value):
        term = value.strip()
        if not term:
            return queryset
        ids = customer_ids_matching_identifier(term)
        text = Q(first_name__icontains=term) | Q(last_name__icontains=term)
        text |= Q(company__icontains=term)
        if not masks_contact_details(self.request):  # no substring oracle on emails
            text |= Q(email__icontains=term)
        return queryset.filter(text | Q(pk__in=ids))


class EventFilter(django_filters.FilterSet):
    type = django_filters.ChoiceFilter(choices=Event.Type.choices)
    name = django_filters.CharFilter(field_name="name", help_text="Exact event name.")
    since = django_filters.IsoDateTimeFilter(
        field_name="timestamp", lookup_expr="gte", help_text="At or after (ISO 8601)."
    )
    until = django_filters.IsoDateTimeFilter(
        field_name="timestamp", lookup_expr="lt", help_text="Before (ISO 8601)."
    )

    class Meta:
        model = Event
        fields = ("type", "name", "since", "until")
