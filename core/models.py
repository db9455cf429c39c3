"""Models of the base layer: the outbox."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone


class OutboxEntry(models.Model):
    """A change other parts react to, written in the transaction that made it.

    Destinations read these rows and deliver them; nothing is lost between a
    change and its delivery, and no app calls an app above it. The table keeps
    its first name (the model moved here from ``customers``).
    """

    class Topic(models.TextChoices):
        PROFILE_CREATED = "profile.created"
        PROFILE_UPDATED = "profile.updated"
        PROFILE_MERGED = "profile.merged"
        PROFILE_UNMERGED = "profile.unmerged"
        IDENTIFY = "identify"
        TRACK = "track"
        SEGMENT_ENTERED = "segment.entered"
        SEGMENT_EXITED = "segment.exited"

    topic = models.CharField(max_length=32, choices=Topic.choices)
    customer = models.ForeignKey(
        "customers.Customer", null=True, on_delete=models.CASCADE, related_name="outbox_entries"
    )
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "customers_outboxentry"
        verbose_name_plural = "outbox entries"
        indexes = [
            models.Index(
                fields=["id"], condition=Q(dispatched_at__isnull=True), name="outbox_pending"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.topic} #{self.pk}"
