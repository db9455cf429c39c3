"""Segments, their materialized membership with history, daily sizes, computed traits.

Data and invariants only; every change goes through ``segments.services``.
"""

from __future__ import annotations

import builtins

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from simple_history.models import HistoricalRecords

from customers.models import Customer


class Segment(models.Model):
    """A named group of profiles: by rule (dynamic) or by hand/upload (static)."""

    class Kind(models.TextChoices):
        DYNAMIC = "dynamic", "Dynamic (rule)"
        STATIC = "static", "Static (list)"

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.DYNAMIC)
    rule = models.JSONField(
        default=dict, blank=True, help_text="The rule (see the README's Segments section)."
    )
    # What a profile change must touch for this segment's answer to change
    # ("field:country", "trait:plan", "event:Order Completed", ...); derived
    # from the rule by the service that saves it.
    dependencies = models.JSONField(default=list, blank=True, editable=False)
    is_active = models.BooleanField(default=True)
    personalize = models.BooleanField(
        default=False,
        help_text="Browsers may learn that a visitor is in this segment "
        "(the personalization endpoint names it).",
    )
    size = models.PositiveIntegerField(default=0, editable=False)
    computed_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["size", "computed_at", "updated_at"])

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["dynamic", "static"]), name="segment_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("admin:segments_segment_change", args=[self.pk])


class SegmentMembership(models.Model):
    """One stay of a profile in a segment; ``exited_at`` is empty while it lasts.

    Re-entering creates a new row, so the rows are the enter/exit history.
    """

    # No foreign-key check per row (a first compute checked the same segment
    # row 400,000 times at commit): every writer locks its segments instead
    # (a recompute ``FOR UPDATE``, live re-evaluation ``FOR KEY SHARE``), and
    # ``delete_segments`` locks them before it deletes their rows.
    segment = models.ForeignKey(
        Segment, on_delete=models.CASCADE, related_name="memberships", db_constraint=False
    )
    # No index of its own: (customer, segment) below leads with it, and every
    # index is one more write per member of a 400,000-member first compute.
    # No foreign-key check per row either (400,000 at commit). Live
    # re-evaluation inserts a row with a ``segment.entered`` outbox entry for
    # the same profile (``services._emit``), whose check remains; a recompute
    # writes chunks of ids without one (``segments.membership``), and the
    # segments eraser locks every segment before it deletes a person's rows,
    # so a recompute finishes first (its rows are deleted) or starts after
    # the profile is gone. Deleting a profile deletes its rows (Django's
    # cascade, and the segments eraser).
    customer = models.ForeignKey(
        Customer,
        on_delete=models.CASCADE,
        related_name="segment_memberships",
        db_index=False,
        db_constraint=False,
    )
    entered_at = models.DateTimeField()
    exited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-entered_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["segment", "customer"],
                condition=Q(exited_at__isnull=True),
                name="segmentmembership_one_active",
            ),
            models.CheckConstraint(
                condition=Q(exited_at__isnull=True) | Q(exited_at__gte=models.F("entered_at")),
                name="segmentmembership_exit_after_enter",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "segment"], name="segmentmembership_customer"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} in {self.segment_id}"

    @property
    def is_active(self) -> bool:
        return self.exited_at is None


class SegmentSize(models.Model):
    """How many profiles a segment held at the end of its last recompute that day."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="daily_sizes")
    day = models.DateField()
    size = models.PositiveIntegerField()

    class Meta:
        ordering = ["segment", "day"]
        constraints = [
            models.UniqueConstraint(fields=["segment", "day"], name="segmentsize_one_per_day"),
        ]

    def __str__(self) -> str:
        return f"{self.segment_id} {self.day}: {self.size}"


class ComputedTrait(models.Model):
    """A number or value computed from a profile's events over a time window.

    Computed on read (in rules, on the profile, in the API), so it is never
    stale: ``orders_90d`` is always the count of the last 90 days.
    """

    class Kind(models.TextChoices):
        COUNT = "count", "Event counter"
        SUM = "sum", "Sum of a property"
        AVG = "avg", "Average of a property"
        MIN = "min", "Minimum of a property"
        MAX = "max", "Maximum of a property"
        MOST_FREQUENT = "most_frequent", "Most frequent value"
        FIRST = "first", "First value"
        LAST = "last", "Last value"
        UNIQUE_LIST = "unique_list", "Unique values (list)"
        UNIQUE_COUNT = "unique_count", "Unique values (count)"

    name = models.SlugField(
        max_length=64, unique=True, help_text="Used in rules as {'computed_trait': name}."
    )
    description = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    event = models.CharField(max_length=200, help_text="Event name the trait is computed over.")
    property = models.CharField(
        max_length=200, blank=True, help_text="Event property (all kinds but the counter)."
    )
    window_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Only events of the last N days; empty for all time."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="count") | ~Q(property=""),
                name="computedtrait_property_needed",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if StoredTrait.objects.filter(name=self.name).exists():
            raise ValidationError({"name": "This name is taken by a stored (insights) trait."})

    NUMERIC_KINDS = frozenset({"count", "sum", "avg", "min", "max", "unique_count"})

    @builtins.property  # the name "property" is the model field in this class body
    def is_numeric(self) -> bool:
        return self.kind in self.NUMERIC_KINDS


class StoredTrait(models.Model):
    """A computed trait whose values another app computes and stores (``insights``).

    Used in rules as ``{"computed_trait": name}`` like an on-read one; the two
    share one name space. Declared and written only through
    ``segments.services.stored`` so the compiler and the profile read them.
    """

    name = models.SlugField(max_length=64, unique=True)
    description = models.CharField(max_length=200, blank=True)
    numeric = models.BooleanField(default=False)
    producer = models.CharField(max_length=32, help_text="The app that computes it.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class StoredTraitValue(models.Model):
    """One profile's value of a stored trait, with why it has it.

    ``number`` (numeric traits) or ``text`` holds the value for rules;
    ``value`` is it as computed (JSON), ``explanation`` the inputs and the
    rule that produced it.
    """

    trait = models.ForeignKey(StoredTrait, on_delete=models.CASCADE, related_name="values")
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="stored_trait_values"
    )
    number = models.FloatField(null=True, blank=True)
    text = models.CharField(max_length=200, blank=True)
    value = models.JSONField(null=True)
    explanation = models.JSONField(default=dict, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["trait", "customer"], name="storedtraitvalue_one_per_customer"
            ),
        ]
        indexes = [
            models.Index(fields=["customer"], name="storedtraitvalue_customer"),
        ]

    def __str__(self) -> str:
        return f"{self.trait_id}/{self.customer_id}: {self.value}"
