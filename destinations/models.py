"""Outbound webhooks: where changes go, and the log of every delivery.

Data and invariants only; dispatching, signing and sending live in
``destinations.services``.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

from core.fields import EncryptedTextField


class Destination(models.Model):
    """A webhook endpoint, the secret that signs its requests, what it receives.

    The signing secret must be readable to compute HMACs, so it is stored
    encrypted (``core.crypto``; never in the history table) and shown only
    once, when created or rotated. During a rotation the previous secret
    keeps signing too, until ``previous_secret_expires_at``.
    """

    name = models.CharField(max_length=120, unique=True)
    url = models.URLField(max_length=500, help_text="HTTPS endpoint that receives POSTed JSON.")
    enabled = models.BooleanField(default=True)
    purpose = models.ForeignKey(
        "consent.Purpose",
        null=True,
        on_delete=models.PROTECT,
        related_name="destinations",
        help_text="What the data is used for there: only customers this purpose may use "
        "are sent. Without a purpose nothing about customers is sent.",
    )
    secret = EncryptedTextField(editable=False)
    previous_secret = EncryptedTextField(blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    secret_rotated_at = models.DateTimeField(null=True, blank=True, editable=False)

    # What it receives.
    on_profile_created = models.BooleanField("profile created", default=False)
    on_profile_updated = models.BooleanField("profile updated", default=False)
    on_profile_merged = models.BooleanField("profile merged", default=False)
    on_identify = models.BooleanField("identify calls", default=False)
    on_segment_entered = models.BooleanField("segment entered", default=False)
    on_segment_exited = models.BooleanField("segment exited", default=False)
    segments = models.ManyToManyField(
        "segments.Segment",
        blank=True,
        related_name="destinations",
        help_text="The segments whose entries and exits are sent.",
    )
    track_events = models.JSONField(
        default=list,
        blank=True,
        help_text='Track event names to receive, e.g. ["Order Completed"]; empty: none.',
    )

    failing_since = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="First failed try since the last success."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["secret", "previous_secret", "failing_since"])

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("admin:destinations_destination_change", args=[self.pk])


class Delivery(models.Model):
    """One outbox entry (or test event) on its way to one destination, about one
    profile (a chunk entry has one delivery per profile it names).

    ``delivery_id`` stays the same across retries and replays, so receivers
    can use it to drop duplicates.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed", "failed (will retry)"
        DEAD = "dead"
        SKIPPED_NO_CONSENT = "skipped_no_consent", "skipped: no consent"

    delivery_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    destination = models.ForeignKey(
        Destination, on_delete=models.CASCADE, related_name="deliveries"
    )
    outbox_entry = models.ForeignKey(
        "core.OutboxEntry",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    type = models.CharField(max_length=32)
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)
    last_response_excerpt = models.TextField(blank=True)
    last_latency_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["-id"]
        constraints = [
            # Exactly one delivery per outbox entry, destination and profile (a
            # chunk of ids fans out into one per profile) ...
            models.UniqueConstraint(
                fields=["outbox_entry", "destination", "customer"],
                name="delivery_entry_destination_profile_unique",
            ),
            # ... and one per entry and destination for an entry about no profile
            # (NULLs are distinct in the constraint above).
            models.UniqueConstraint(
                fields=["outbox_entry", "destination"],
                condition=Q(customer__isnull=True),
                name="delivery_entry_destination_unique",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["pending", "failed"]) | Q(next_attempt_at__isnull=False),
                name="delivery_open_has_next_attempt",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "failed"]),
                name="delivery_due",
            ),
            # Per-profile ordering: earlier open deliveries to the same destination.
            models.Index(fields=["destination", "customer", "id"], name="delivery_profile_order"),
            models.Index(
                fields=["destination", "status", "created_at"], name="delivery_dest_status"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} → {self.destination_id} ({self.status})"


class DeliveryAttempt(models.Model):
    """One HTTP request of a delivery: the attempts log."""

    class Outcome(models.TextChoices):
        SUCCEEDED = "succeeded"
        RETRY = "retry", "failed, will retry"
        GAVE_UP = "gave_up", "failed, no retry"

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="+")
    number = models.PositiveSmallIntegerField()
    attempted_at = models.DateTimeField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True)
    response_excerpt = models.TextField(blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["attempted_at", "id"]
        indexes = [
            models.Index(fields=["destination", "attempted_at"], name="attempt_dest_time"),
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}: {self.outcome}"
