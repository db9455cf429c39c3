"""Purposes, consent records, privacy requests and suppression.

Data and invariants only; changes go through ``consent.services``, reads
through ``consent.selectors``.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.audit import audited_history, current_actor

REQUEST_DUE_DAYS = 30


class ConsentStateChoices(models.TextChoices):
    GRANTED = "granted", "Granted"
    DENIED = "denied", "Denied"
    WITHDRAWN = "withdrawn", "Withdrawn"


class Purpose(models.Model):
    """Something personal data is used for, and on which legal basis.

    With the ``consent`` basis a customer is included only after granting
    consent; with any other basis a customer is included unless they denied
    or withdrew (objected), see ``consent.selectors.allowed_q``.
    """

    class LegalBasis(models.TextChoices):
        CONSENT = "consent", "Consent"
        LEGITIMATE_INTEREST = "legitimate_interest", "Legitimate interest"
        CONTRACT = "contract", "Contract"
        LEGAL_OBLIGATION = "legal_obligation", "Legal obligation"
        VITAL_INTERESTS = "vital_interests", "Vital interests"
        PUBLIC_TASK = "public_task", "Public task"

    code = models.SlugField(max_length=64, unique=True, help_text="Stable name used by the API.")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    legal_basis = models.CharField(
        max_length=32, choices=LegalBasis.choices, default=LegalBasis.CONSENT
    )
    tracking_categories = models.JSONField(
        default=list,
        blank=True,
        help_text=(
            "Names in the tracking API's context.consent.categoryPreferences that "
            "map to this purpose (compared case-insensitively)."
        ),
    )
    is_active = models.BooleanField(default=True)

    history = audited_history()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def requires_consent(self) -> bool:
        return self.legal_basis == self.LegalBasis.CONSENT


class ConsentRecord(models.Model):
    """One statement of consent; never edited. The latest one per purpose wins."""

    class Method(models.TextChoices):
        WEB_FORM = "web_form", "Web form"
        TRACKING = "tracking", "Consent banner (tracking API)"
        IMPORT = "import", "File import"
        API = "api", "REST API"
        PREFERENCE_CENTRE = "preference_centre", "Preference centre"
        ADMIN = "admin", "Admin"

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="consent_records"
    )
    purpose = models.ForeignKey(Purpose, on_delete=models.PROTECT, related_name="records")
    state = models.CharField(max_length=16, choices=ConsentStateChoices.choices)
    method = models.CharField(max_length=32, choices=Method.choices)
    source = models.ForeignKey(
        "sources.Source", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    occurred_at = models.DateTimeField(help_text="When the person gave or refused consent.")
    recorded_at = models.DateTimeField(default=timezone.now)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    wording = models.TextField(blank=True, help_text="The text the person agreed to.")
    wording_version = models.CharField(max_length=64, blank=True)
    actor = models.CharField(max_length=200, default=current_actor, editable=False)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(
                fields=["customer", "purpose", "-occurred_at"], name="consentrecord_latest"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.purpose}: {self.state}"


class ConsentState(models.Model):
    """The current state per (customer, purpose): the latest record, for fast filters.

    Written only by ``consent.services.record_consent``, in the transaction
    that stores the record.
    """

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="consent_states"
    )
    purpose = models.ForeignKey(Purpose, on_delete=models.CASCADE, related_name="states")
    state = models.CharField(max_length=16, choices=ConsentStateChoices.choices)
    record = models.ForeignKey(ConsentRecord, on_delete=models.CASCADE, related_name="+")
    occurred_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "purpose"], name="consentstate_customer_purpose"
            ),
        ]
        indexes = [
            models.Index(fields=["purpose", "state", "customer"], name="consentstate_filter"),
        ]

    def __str__(self) -> str:
        return f"{self.purpose_id}/{self.customer_id}: {self.state}"


class DataSubjectRequest(models.Model):
    """A person asking what we hold about them (access) or to be forgotten (erasure).

    After an erasure only this minimal record remains: the identifier is
    replaced by its type, the counts say what was removed.
    """

    class Type(models.TextChoices):
        ACCESS = "access", "Access"
        ERASURE = "erasure", "Erasure"

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSING = "processing", "Processing"
        COMPLETED = "completed", "Completed"
        # the identifier named no profile (a typo?); other copies were still handled
        NO_MATCH = "no_match", "No profile matched"
        FAILED = "failed", "Failed"

    type = models.CharField(max_length=16, choices=Type.choices)
    identifier = models.CharField(
        max_length=300, help_text="type:value, e.g. email:ann@example.com"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    created_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField()
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    requested_by = models.CharField(
        max_length=200, default=current_actor, editable=False, help_text="Who filed it."
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    result_file = models.FileField(upload_to="privacy/", blank=True)
    summary = models.JSONField(default=dict, blank=True, help_text="Rows found or removed.")
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(type__in=["access", "erasure"]), name="dsr_type_valid"
            ),
        ]

    def __str__(self) -> str:
        # No identifier here: this text ends up in the admin log.
        return f"{self.get_type_display()} request #{self.pk}"

    def save(self, *args, **kwargs):
        if self.due_at is None:
            self.due_at = (self.created_at or timezone.now()) + timedelta(days=REQUEST_DUE_DAYS)
        super().save(*args, **kwargs)

    @property
    def is_done(self) -> bool:
        return self.status in (self.Status.COMPLETED, self.Status.NO_MATCH)

    @property
    def outcome(self) -> str:
        """What happened, in a sentence for the admin and the API."""
        if self.status == self.Status.NO_MATCH:
            what = (
                "the export is empty"
                if self.type == self.Type.ACCESS
                else "the identifier was still suppressed and removed wherever it was written"
            )
            return f"No profile matched this identifier (check it for a typo); {what}."
        if self.status == self.Status.COMPLETED:
            if self.type == self.Type.ACCESS:
                return f"Completed: {self.summary.get('profile', 0)} profile(s) exported."
            return f"Completed: {self.summary.get('profiles', 0)} profile(s) erased."
        if self.status == self.Status.FAILED:
            return f"Failed ({self.error}); process it again."
        return self.get_status_display()


class Suppression(models.Model):
    """An erased identifier: only its keyed hash, so later data can be dropped."""

    identifier_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    request = models.ForeignKey(
        DataSubjectRequest,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="suppressions",
    )

    def __str__(self) -> str:
        return f"suppressed {self.identifier_hash[:12]}…"


class SuppressedMessageCount(models.Model):
    """How many messages each source sent for erased people (dropped at intake)."""

    source = models.OneToOneField(
        "sources.Source", on_delete=models.CASCADE, related_name="suppressed_messages"
    )
    count = models.PositiveBigIntegerField(default=0)
    last_dropped_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.source_id}: {self.count}"
