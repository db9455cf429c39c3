"""Insights: the store's policy, RFM runs, scoring plans and predictive models.

Data and invariants only; every change goes through ``insights.services``.
The values themselves (``rfm_segment``, ``lifecycle_stage``, scores and
predictions) are stored computed traits in ``segments`` (``segments.stored``),
so rules and the profile read them like any computed trait.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords


class InsightPolicy(models.Model):
    """The store's settings for insights: one row (``InsightPolicy.current()``).

    Lifecycle stage of a buyer, from days since their first and last purchase:
    first purchase within ``new_days`` → new; else last purchase within
    ``active_days`` → active, within ``at_risk_days`` → at risk, within
    ``lapsed_days`` → lapsed, older → churned. People who never bought have
    no stage.
    """

    rfm_window_days = models.PositiveIntegerField(
        default=365, help_text="RFM counts purchases of the last N days."
    )
    new_days = models.PositiveIntegerField(default=30)
    active_days = models.PositiveIntegerField(default=90)
    at_risk_days = models.PositiveIntegerField(default=180)
    lapsed_days = models.PositiveIntegerField(default=365)
    min_auc = models.FloatField(
        default=0.65,
        help_text="A predictive model with a lower validation AUC is never published.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = "insight policy"
        verbose_name_plural = "insight policy"
        constraints = [
            models.CheckConstraint(
                condition=Q(rfm_window_days__gte=1)
                & Q(new_days__gte=1)
                & Q(active_days__gte=F("new_days"))
                & Q(at_risk_days__gt=F("active_days"))
                & Q(lapsed_days__gt=F("at_risk_days")),
                name="insightpolicy_thresholds_ordered",
            ),
            models.CheckConstraint(
                condition=Q(min_auc__gte=0.5) & Q(min_auc__lte=1.0),
                name="insightpolicy_min_auc_range",
            ),
        ]

    def __str__(self) -> str:
        return "Insight policy"

    @classmethod
    def current(cls) -> InsightPolicy:
        return cls.objects.order_by("pk").first() or cls.objects.create()


class RfmRun(models.Model):
    """A daily RFM computation: the quintile boundaries later purchases are placed by.

    ``boundaries``: for ``recency`` (last purchase time, ISO), ``frequency``
    and ``monetary``, the highest value of quintiles 1, 2, 3 and 4; a later
    value goes to the lowest quintile whose values reach it.
    """

    computed_at = models.DateTimeField()
    window_days = models.PositiveIntegerField()
    buyers = models.PositiveIntegerField()
    boundaries = models.JSONField(default=dict)

    class Meta:
        ordering = ["-computed_at"]
        get_latest_by = "computed_at"

    def __str__(self) -> str:
        return f"RFM {self.computed_at:%Y-%m-%d %H:%M} ({self.buyers} buyers)"


class ScoringPlan(models.Model):
    """Points per event or condition, published as a numeric computed trait."""

    name = models.CharField(max_length=120, unique=True)
    trait_name = models.SlugField(
        max_length=64,
        unique=True,
        help_text="The computed trait it is published as, e.g. lead_score.",
    )
    description = models.TextField(blank=True)
    decay_percent_per_day = models.FloatField(
        default=0.0,
        help_text="Event points lose this many percent of their value per day of age.",
    )
    window_days = models.PositiveIntegerField(
        default=365, help_text="Events older than this earn nothing."
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(decay_percent_per_day__gte=0) & Q(decay_percent_per_day__lt=100),
                name="scoringplan_decay_range",
            ),
            models.CheckConstraint(condition=Q(window_days__gte=1), name="scoringplan_window"),
        ]

    def __str__(self) -> str:
        return self.name


class ScoringRule(models.Model):
    """``points`` per matching event (decayed by age), or once while a condition holds."""

    class Kind(models.TextChoices):
        EVENT = "event", "Per event"
        CONDITION = "condition", "While a condition holds"

    plan = models.ForeignKey(ScoringPlan, on_delete=models.CASCADE, related_name="rules")
    label = models.CharField(max_length=120)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.EVENT)
    event = models.CharField(max_length=200, blank=True, help_text="Event name (per event).")
    where = models.JSONField(
        default=list,
        blank=True,
        help_text='Property conditions, as in segment rules: [{"property": "path", '
        '"op": "contains", "value": "/pricing"}].',
    )
    condition = models.JSONField(
        default=dict, blank=True, help_text="A segment rule (while a condition holds)."
    )
    points = models.IntegerField()

    history = HistoricalRecords()

    class Meta:
        ordering = ["plan", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="event") & ~Q(event="")) | (Q(kind="condition") & Q(event="")),
                name="scoringrule_kind_fields",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.points:+d})"


class PredictiveModel(models.Model):
    """One trained model of a target, with its validation next to the RFM-only baseline.

    ``params`` / ``baseline_params``: the fitted model as plain numbers
    (feature names, standardisation, coefficients), so scoring needs no
    pickled object. ``metrics``: AUC, calibration and lift by decile of both.
    """

    class Target(models.TextChoices):
        PURCHASE_30D = "purchase_30d", "Purchase in the next 30 days"
        CHURN_90D = "churn_90d", "Churn (no purchase in the next 90 days)"
        REVENUE_90D = "revenue_90d", "Revenue in the next 90 days"

    class Status(models.TextChoices):
        PUBLISHED = "published", "Published"
        REJECTED = "rejected", "Rejected"
        RETIRED = "retired", "Retired (replaced)"

    target = models.CharField(max_length=16, choices=Target.choices)
    status = models.CharField(max_length=10, choices=Status.choices)
    reason = models.CharField(max_length=300, blank=True)
    trained_at = models.DateTimeField()
    train_cutoff = models.DateTimeField()
    validation_cutoff = models.DateTimeField()
    train_rows = models.PositiveIntegerField()
    validation_rows = models.PositiveIntegerField()
    validation_positives = models.PositiveIntegerField()
    auc = models.FloatField("validation AUC", null=True)
    baseline_auc = models.FloatField("RFM-only baseline AUC", null=True)
    metrics = models.JSONField(default=dict)
    params = models.JSONField(default=dict)
    baseline_params = models.JSONField(default=dict)
    published_at = models.DateTimeField(null=True, blank=True)
    scored_at = models.DateTimeField(null=True, blank=True)
    scored_profiles = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-trained_at", "-pk"]
        permissions = [("train_predictivemodel", "Can train and publish predictive models")]
        constraints = [
            models.UniqueConstraint(
                fields=["target"],
                condition=Q(status="published"),
                name="predictivemodel_one_published_per_target",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_target_display()} #{self.pk} ({self.status})"

    @property
    def auc_gain(self) -> float | None:
        if self.auc is None or self.baseline_auc is None:
            return None
        return self.auc - self.baseline_auc


class OutboxCursor(models.Model):
    """How far a reader of the outbox (``core.OutboxEntry``) has got."""

    name = models.CharField(max_length=64, unique=True)
    last_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_id}"
