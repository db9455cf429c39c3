"""Celery wrappers around ``insights.services``; ids in, no logic."""

from __future__ import annotations

from celery import shared_task

from insights.services import daily, predictions, purchases


@shared_task
def compute_insights() -> list[str]:
    return daily.compute_insights().lines()


@shared_task
def train_models() -> list[dict]:
    return [
        {"target": r.target, "model_id": r.model_id, "published": r.published, "reason": r.reason}
        for r in predictions.train_all()
    ]


@shared_task
def follow_purchases() -> int:
    rounds = 0
    while purchases.follow_purchases().entries:
        rounds += 1
    return rounds
