"""What destinations hold about a person, for access and erasure requests.

Deliveries keep a copy of the profile in their payload; erasure removes them
(with their attempts log), and replaces mentions of the person in other
people's deliveries (a referral in someone else's event, a receiver's answer
echoing it). Access lists them without the payloads.
"""

from __future__ import annotations

from consent.registry import Subject
from core.mentions import Mentions
from destinations.models import Delivery, DeliveryAttempt


def erase_deliveries(subject: Subject) -> int:
    deleted, _ = Delivery.objects.filter(customer_id__in=subject.customer_ids).delete()
    mentions = Mentions(subject.identifier_values)
    deleted += mentions.redact_rows(
        Delivery.objects.all(), ("payload", "last_error", "last_response_excerpt")
    )
    return deleted + mentions.redact_rows(
        DeliveryAttempt.objects.all(), ("error", "response_excerpt")
    )


def export_deliveries(subject: Subject) -> list[dict]:
    return [
        {**row, "delivery_id": str(row["delivery_id"])}
        for row in Delivery.objects.filter(customer_id__in=subject.customer_ids)
        .order_by("created_at", "pk")
        .values(
            "delivery_id",
            "destination__name",
            "type",
            "status",
            "attempts",
            "created_at",
            "succeeded_at",
        )
    ]
