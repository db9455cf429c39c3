"""What destinations hold about a person, for access and erasure requests.

Deliveries keep a copy of the profile in their payload; erasure removes them
(with their attempts log), access lists them without the payloads.
"""

from __future__ import annotations

from consent.registry import Subject
from destinations.models import Delivery


def erase_deliveries(subject: Subject) -> int:
    deleted, _ = Delivery.objects.filter(customer_id__in=subject.customer_ids).delete()
    return deleted


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
