"""File imports, intake storage and rejected messages of sources (``customers.Source``)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from core.audit import current_actor
from customers.models import Source


class ImportJob(models.Model):
    """One run of a file source: an uploaded CSV/XLSX/JSON file and what became of it.

    The counters describe the latest run: a preview (``dry_run``) or the real
    import. Row-level problems are ``ImportIssue`` rows.
    """

    class Kind(models.TextChoices):
        CUSTOMERS = "customers", "Customers"
        EVENTS = "events", "Events"

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "Excel (XLSX)"
        JSON = "json", "JSON"

    class DateOrder(models.TextChoices):
        DMY = "DMY", "Day first (31/12/1999)"
        MDY = "MDY", "Month first (12/31/1999)"

    class Status(models.TextChoices):
        UPLOADED = "uploaded", "Uploaded (map the columns)"
        PREVIEWING = "previewing", "Previewing"
        PREVIEWED = "previewed", "Previewed (confirm to import)"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Importing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    file = models.FileField(upload_to="imports/%Y/%m/%d/")
    original_name = models.CharField(max_length=255)
    format = models.CharField(max_length=8, choices=Format.choices)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.CUSTOMERS)
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="import_jobs")
    headers = models.JSONField(default=list, blank=True)
    mapping = models.JSONField(
        default=dict,
        blank=True,
        help_text="Column header → target (core field, trait.X, id.X, consent.X …).",
    )
    event_name = models.CharField(
        max_length=200, blank=True, help_text="Event files: every row's event name."
    )
    date_order = models.CharField(
        max_length=3,
        choices=DateOrder.choices,
        blank=True,
        help_text="How a/b/yyyy dates are written; empty: decided per column.",
    )
    column_types = models.JSONField(
        default=dict,
        blank=True,
        help_text="How the latest run read each column's values (number, MDY dates …).",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UPLOADED)
    dry_run = models.BooleanField(default=False, help_text="The counters describe a preview.")
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    rows_new = models.PositiveIntegerField(default=0)
    rows_updated = models.PositiveIntegerField(default=0)
    rows_merged = models.PositiveIntegerField(default=0)
    rows_unchanged = models.PositiveIntegerField(default=0)
    rows_invalid = models.PositiveIntegerField(default=0)
    rows_with_warnings = models.PositiveIntegerField(default=0)
    # an import's batches run as tasks; the one that brings done to total ends the job
    batches_total = models.PositiveIntegerField(default=0)
    batches_done = models.PositiveIntegerField(default=0)
    # when batches not applied were last sent again (sources.imports.resend)
    batches_resent_at = models.DateTimeField(null=True, blank=True)
    rows_joined_weakly = models.PositiveIntegerField(
        default=0,
        help_text="Rows that join a known person only through a less trusted identifier "
        "(a phone, while their email is new to that person).",
    )
    error = models.TextField(blank=True, help_text="Why the job failed as a whole.")
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rows_done__lte=models.F("rows_total")),
                name="importjob_done_within_total",
            ),
            models.CheckConstraint(
                condition=models.Q(batches_done__lte=models.F("batches_total")),
                name="importjob_batches_within_total",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.get_kind_display().lower()})"

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.PREVIEWING, self.Status.QUEUED, self.Status.RUNNING)


class ImportBatch(models.Model):
    """A batch of an import run that has been applied: written in the batch's
    own transaction, so a batch delivered twice (a worker killed after the
    commit, before the acknowledgement) is applied and counted once."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="batches")
    number = models.PositiveIntegerField()
    # a job none of whose batches was applied for a while has its lost ones re-sent
    applied_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "number"], name="importbatch_once_per_job"),
        ]

    def __str__(self) -> str:
        return f"{self.job_id} batch {self.number}"


class ImportIssue(models.Model):
    """A row-level problem: an error rejects the row, a warning drops one value."""

    class Severity(models.TextChoices):
        ERROR = "error", "Error (row rejected)"
        WARNING = "warning", "Warning (value left out)"
        NOTICE = "notice", "Notice (row kept; check it)"

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="issues")
    row = models.PositiveIntegerField()
    column = models.CharField(max_length=255, blank=True)
    value = models.TextField(blank=True)
    severity = models.CharField(max_length=8, choices=Severity.choices)
    code = models.CharField(max_length=64)
    reason = models.CharField(max_length=500)

    class Meta:
        ordering = ["row", "id"]
        indexes = [models.Index(fields=["job", "row"], name="importissue_job_row")]

    def __str__(self) -> str:
        return f"row {self.row}: {self.reason}"


class IntakeMessage(models.Model):
    """One accepted tracking call, stored before it is acknowledged.

    ``payload`` is the call as received (batch-level context and
    integrations merged in, ``context.ip`` filled from the request), so the
    pipeline can process it, and a steward replay it, at any later time.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed"

    # no index of its own: (source, message_id) leads with it
    source = models.ForeignKey(
        Source, on_delete=models.CASCADE, related_name="intake_messages", db_index=False
    )
    message_id = models.CharField(max_length=200)
    type = models.CharField(max_length=16)
    payload = models.JSONField()
    received_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "message_id"], name="intake_source_message_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["source", "received_at"], name="intake_source_received"),
            models.Index(
                fields=["source", "received_at"],
                condition=models.Q(status="failed"),
                name="intake_failed",
            ),
            # workers pick up a source's waiting calls oldest first
            models.Index(
                fields=["source", "id"], condition=models.Q(status="pending"), name="intake_pending"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.message_id}"


class RejectedMessage(models.Model):
    """A call refused at intake, kept with its payload and the reason."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="rejections")
    code = models.CharField(max_length=64)
    reason = models.TextField()
    field = models.CharField(max_length=200, blank=True)
    # the offending message, or {"raw": <first bytes>} when the body was unreadable
    payload = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["source", "received_at"], name="rejected_source_received")]

    def __str__(self) -> str:
        return f"{self.code}: {self.reason}"


class ExportRecord(models.Model):
    """One file of customers or events that left through an export: the audit
    trail of who took what, for which purpose. No personal data: the people
    in the file are whoever the purpose allowed at that moment."""

    class What(models.TextChoices):
        CUSTOMERS = "customers", "Customers"
        EVENTS = "events", "Events"
        SEGMENT_MEMBERS = "segment_members", "Segment members"

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.CharField(max_length=200, default=current_actor, editable=False)
    purpose = models.ForeignKey("consent.Purpose", on_delete=models.PROTECT, related_name="exports")
    what = models.CharField(max_length=32, choices=What.choices)
    detail = models.CharField(
        max_length=300, blank=True, help_text="Which segments, or the list's filters."
    )
    file_format = models.CharField(max_length=8)
    rows = models.PositiveIntegerField(help_text="People (or events) the purpose allowed.")
    masked = models.BooleanField(help_text="Emails and phone numbers were masked.")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Export #{self.pk}: {self.get_what_display()}"
