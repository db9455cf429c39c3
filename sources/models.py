"""Where data comes from: sources and their write keys."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords


class Source(models.Model):
    """A system that sends data in (website, app, CRM export, file upload…).

    The write key is never stored: only its SHA-256 digest and a short prefix
    that lets people tell keys apart. A key is shown once, when created or
    rotated (see ``sources.services.keys``).
    """

    class Kind(models.TextChoices):
        WEBSITE = "website", "Website"
        MOBILE = "mobile", "Mobile app"
        SERVER = "server", "Server"
        CRM = "crm", "CRM"
        EMAIL = "email", "Email tool"
        POS = "pos", "Point of sale"
        SHOP = "shop", "Online shop"
        FILE = "file", "File import"
        API = "api", "REST API"

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    write_key_prefix = models.CharField(max_length=16, editable=False)
    write_key_hash = models.CharField(max_length=64, unique=True, editable=False)
    write_key_rotated_at = models.DateTimeField(default=timezone.now, editable=False)
    enabled = models.BooleanField(default=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords(excluded_fields=["write_key_hash"])

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
