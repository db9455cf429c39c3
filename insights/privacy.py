"""What ``insights`` holds about a person: their stored traits (RFM, lifecycle,
scores, predictions, with explanations).

Registered with ``consent.registry`` in ``InsightsConfig.ready``. The values
live in ``segments`` (stored traits) and go through its service; models and
RFM runs hold no per-person data.
"""

from __future__ import annotations

from consent.registry import Subject
from insights.traits import PRODUCER
from segments.models import StoredTrait
from segments.selectors import stored_trait_values
from segments.stored import delete_stored_values


def _names() -> list[str]:
    return list(StoredTrait.objects.filter(producer=PRODUCER).values_list("name", flat=True))


def export_insights(subject: Subject) -> list[dict]:
    names = _names()
    return [
        {
            "customer_id": customer_id,
            "trait": row.trait.name,
            "value": row.value,
            "explanation": row.explanation,
            "computed_at": row.computed_at.isoformat(),
        }
        for customer_id in subject.customer_ids
        for row in stored_trait_values(customer_id, names=names)
    ]


def erase_insights(subject: Subject) -> int:
    return delete_stored_values(customer_ids=subject.customer_ids, names=_names())
