from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone

from core.audit import audited_history


class User(AbstractUser):
    """Staff member using the back office (marketer, data steward, viewer)."""

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        permissions = [
            ("view_contact_details", "Can see emails and phone numbers unmasked"),
        ]


class ApiKey(models.Model):
    """A secret another system sends as ``Authorization: Bearer <key>``.

    Only the SHA-256 digest of the key and a short prefix (to tell keys
    apart) are stored; the key is shown once, when created. Each key acts
    through its own ``user`` (inactive, no password, no permissions) so that the audit
    trail records which key changed what; what the key may do is its
    ``scopes``. Keys are revoked, never deleted, to keep that trail readable.
    """

    name = models.CharField(max_length=120)
    prefix = models.CharField(max_length=16, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list, blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="api_key",
        editable=False,
        help_text="The account this key acts as in the audit trail.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="api_keys_created",
        editable=False,
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    history = audited_history(excluded_fields=["key_hash", "last_used_at"])

    class Meta:
        verbose_name = "API key"
        ordering = ["name", "-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(revoked_at__isnull=True)
                | models.Q(revoked_at__gte=models.F("created_at")),
                name="apikey_revoked_after_created",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scopes(self, required: set[str]) -> bool:
        return required <= set(self.scopes)


class AuthToken(models.Model):
    """A sign-in token a person got from ``POST /api/v1/auth/login/``.

    Sent as ``Authorization: Token <key>``. Like API keys, only the SHA-256
    digest of the key and a short prefix (to tell tokens apart) are stored;
    the key is in the login response only. Each sign-in issues its own
    token; signing out deletes the token it was sent with.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="auth_tokens"
    )
    prefix = models.CharField(max_length=16, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "sign-in token"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.user} ({self.prefix}…)"
