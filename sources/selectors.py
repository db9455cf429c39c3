"""Read-side queries for the sources admin."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, IntegerField, Max, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from consent.services.categories import UNKNOWN_CONSENT_CATEGORY
from customers.models import DataQualityIssue, Source
from customers.services.identity import REFUSAL_CODES
from sources.models import IntakeMessage, RejectedMessage


def _count(model, **filters) -> Coalesce:
    rows = (
        model.objects.filter(source=OuterRef("pk"), **filters)
        .order_by()
        .values("source")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), 0)


def with_intake_figures(queryset: QuerySet[Source], *, now: datetime) -> QuerySet[Source]:
    """Sources annotated with what arrived recently (one query for the page)."""
    hour, day = now - timedelta(hours=1), now - timedelta(days=1)
    last = (
        IntakeMessage.objects.filter(source=OuterRef("pk"))
        .order_by()
        .values("source")
        .annotate(at=Max("received_at"))
        .values("at")
    )
    return queryset.annotate(
        messages_last_hour=_count(IntakeMessage, received_at__gte=hour),
        messages_last_day=_count(IntakeMessage, received_at__gte=day),
        last_message_at=Subquery(last),
        rejections_last_day=_count(RejectedMessage, received_at__gte=day),
        failures_last_day=_count(
            IntakeMessage, received_at__gte=day, status=IntakeMessage.Status.FAILED
        ),
        unknown_consent_categories_last_day=_count(
            DataQualityIssue, created_at__gte=day, code=UNKNOWN_CONSENT_CATEGORY
        ),
        identity_refusals_last_day=_count(
            DataQualityIssue, created_at__gte=day, code__in=REFUSAL_CODES
        ),
    )
