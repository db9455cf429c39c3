"""Celery wrappers around ``segments.services`` (queue "segments"); ids in, no logic."""

from __future__ import annotations

from celery import shared_task

from segments import services


@shared_task
def recompute_segment(segment_id: int) -> dict:
    result = services.recompute_segment(segment_id=segment_id)
    return {"segment_id": result.segment_id, "entered": result.entered, "exited": result.exited}


@shared_task
def recompute_all_segments() -> int:
    return len(services.recompute_all_segments())


@shared_task
def reevaluate_customers(customer_ids: list[int], changes: list[str] | None = None) -> int:
    result = services.reevaluate_customers(customer_ids=customer_ids, changes=changes)
    return len(result["entered"]) + len(result["exited"])
