"""The unified profile and what hangs off it: identities, events, the outbox.

Data and invariants only; the operations that change these rows live in
``customers.services``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts.masking import mask_email, mask_phone, redact_text
from core.audit import audited_history
from core.fields import EncryptedTextField

# the fields of a postal address, which are set together or not at all when
# guessed from a one-cell address
ADDRESS_FIELDS: tuple[str, ...] = (
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postal_code",
    "country",
)
CORE_FIELDS: tuple[str, ...] = (
    "email",
    "phone",
    "first_name",
    "last_name",
    "birthday",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postal_code",
    "country",
    "company",
)


class Source(models.Model):
    """A system that sends data in (website, app, CRM export, file upload…).

    The write key is never stored: only its SHA-256 digest and a short prefix
    that lets people tell keys apart. A key is shown once, when created or
    rotated (see ``sources.services.keys``). It lives in ``customers`` (the
    table keeps its first name) because profiles, identities and events point
    at it and the base layers must not depend on ``sources``.
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

    # Personalization (GET /v1/personalize, answered to browsers holding the write key)
    personalization_traits = models.JSONField(
        default=list,
        blank=True,
        help_text="Trait or core-field names the personalization endpoint may show to "
        'browsers of this source, e.g. ["plan", "first_name"]. Empty: none.',
    )
    personalization_origins = models.JSONField(
        default=list,
        blank=True,
        help_text="Origins (https://shop.example.com) whose pages may read the personalization "
        "endpoint. Empty: any origin, like the tracking API.",
    )
    require_signed_user_ids = models.BooleanField(
        default=False,
        help_text="A userId sent to the personalization endpoint must come with userHash = "
        "HMAC-SHA256(userId, identity secret), computed by the site's server.",
    )
    # shown once when set or rotated (sources.personalization.secrets)
    identity_secret = EncryptedTextField(blank=True, editable=False)

    history = audited_history(
        excluded_fields=["write_key_hash", "identity_secret"],
        table_name="sources_historicalsource",
    )

    class Meta:
        db_table = "sources_source"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class IdentifierType(models.Model):
    """A kind of identifier and the rules identity resolution applies to it.

    Lower ``priority`` numbers win: when a message would join two profiles
    that each hold a different value of a type whose ``max_per_profile``
    would be exceeded, the conflicting identifier with the *highest* number
    (the least trusted) is dropped from that message, as Segment does.
    """

    name = models.SlugField(max_length=64, unique=True)
    priority = models.PositiveSmallIntegerField(default=5)
    max_per_profile = models.PositiveIntegerField(
        default=10, help_text="How many values of this type one profile may hold."
    )
    merges = models.BooleanField(
        default=True,
        help_text="A match on this identifier may merge two existing profiles.",
    )
    blocked_values = models.JSONField(
        default=list,
        blank=True,
        help_text="Normalized values never used as identifiers (junk placeholders).",
    )
    description = models.CharField(max_length=200, blank=True)
    shared_after = models.PositiveSmallIntegerField(
        default=2,
        help_text="A value seen with this many distinct values of a higher-priority type "
        "(one office line, several people's emails) is flagged shared and stops linking.",
    )

    history = audited_history()

    class Meta:
        ordering = ["priority", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_per_profile__gte=1), name="identifiertype_limit_positive"
            ),
            models.CheckConstraint(
                condition=Q(shared_after__gte=2), name="identifiertype_shared_after_two"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CustomerQuerySet(models.QuerySet):
    def active(self) -> CustomerQuerySet:
        """Profiles that have not been absorbed by a merge."""
        return self.filter(merged_into__isnull=True)


class Customer(models.Model):
    """One real person: typed core fields, free-form traits with provenance."""

    email = models.EmailField(max_length=254, blank=True)
    phone = models.CharField(max_length=32, blank=True, db_index=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    birthday = models.DateField(null=True, blank=True)
    address_line1 = models.CharField(max_length=255, blank=True)
    address_line2 = models.CharField(max_length=255, blank=True)
    city = models.CharField(max_length=120, blank=True)
    region = models.CharField(max_length=120, blank=True)
    postal_code = models.CharField(max_length=32, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")
    company = models.CharField(max_length=200, blank=True)

    traits = models.JSONField(default=dict, blank=True)
    # {"<field or trait>": {"source": <source id>, "at": "<iso time>"}}
    trait_provenance = models.JSONField(default=dict, blank=True)

    is_identified = models.BooleanField(
        default=False, help_text="Has at least one identifier besides anonymous ids."
    )
    first_seen = models.DateTimeField(default=timezone.now, db_index=True)
    last_seen = models.DateTimeField(default=timezone.now)
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="absorbed",
        db_index=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Bumped in the transaction of every change a profile document shows
    # (customers.services.versions): cached documents are keyed by it.
    version = models.PositiveBigIntegerField(default=1, editable=False)

    # history is read by profile id; its copies of the search indexes only
    # slow every write down
    history = audited_history(
        excluded_fields=["last_seen", "updated_at", "version"],
        no_db_index=["email", "phone", "last_name", "country", "first_seen", "merged_into"],
    )
    objects = CustomerQuerySet.as_manager()

    class Meta:
        ordering = ["-last_seen"]
        # Every event of a known person rewrites the row (last_seen) and so
        # every index: keep only those queries use. The active profiles'
        # (last_seen, id) also serves last_seen alone, (last_name,
        # first_name) serves last_name; email and country are compared
        # whole, so they get no varchar_pattern_ops copy (phone keeps its
        # one, for "starts with +49" segments).
        indexes = [
            # Active profiles by latest activity, then id (a total order): the
            # customer list's and the search's order, and last_seen ranges.
            # Partial, because PostgreSQL does not take "merged_into IS NULL"
            # as an equality that would let a (merged_into, last_seen) index
            # give that order: the list sorted every active profile per page.
            models.Index(
                fields=["-last_seen", "-id"],
                condition=Q(merged_into__isnull=True),
                name="customer_active_seen_id",
            ),
            # who was merged into a profile (few rows: only absorbed profiles)
            models.Index(
                fields=["merged_into"],
                condition=Q(merged_into__isnull=False),
                name="customer_merged_into",
            ),
            models.Index(fields=["last_name", "first_name"], name="customer_name"),
            models.Index(fields=["postal_code"], name="customer_postal_code"),
            models.Index(fields=["email"], name="customer_email"),
            models.Index(fields=["country"], name="customer_country"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(merged_into=models.F("id")), name="customer_not_merged_into_self"
            ),
        ]

    def __str__(self) -> str:
        """The name; without one, the email or phone *masked*: this label
        reaches every role (autocomplete, history titles, related-object
        links), so it never holds a full contact detail."""
        name = " ".join(part for part in (self.first_name, self.last_name) if part)
        if name:
            return redact_text(name)
        if self.email:
            return mask_email(self.email)
        return mask_phone(self.phone) if self.phone else f"Customer #{self.pk}"

    def save(self, *args, **kwargs) -> None:
        """Every save of a stored profile moves its ``version`` (in SQL, so a
        stale instance can never roll it back); the new value is read back
        only if someone asks for it."""
        if self._state.adding:
            super().save(*args, **kwargs)
            return
        self.version = models.F("version") + 1
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "version"}
        super().save(*args, **kwargs)
        del self.__dict__["version"]  # deferred: loaded from the database on access

    def get_absolute_url(self) -> str:
        return reverse("admin:customers_customer_change", args=[self.pk])

    @property
    def display_name(self) -> str:
        return str(self)


class ProfileStamp(models.Model):
    """A second per-profile counter, for what other parts derive from a profile
    and its document shows: segment membership, stored traits.

    A profile document's version is ``Customer.version + stamp``
    (``customers.pointers``); both only grow, so the sum moves whenever
    either does. Moving this one rewrites a narrow row instead of the wide
    profile row and its ten index entries: a segment entering 400,000
    profiles writes 400,000 of these (``customers.services.versions``).
    No row until the first derived change. No foreign-key check per row
    written (400,000 at commit). Profiles are deleted by erasure only, and a
    stamp for a profile deleted meanwhile cannot outlive it: a segment
    recompute (whose memberships and chunked outbox entries have no check
    either) is serialised with erasure by the segments eraser, which locks
    every segment first; live re-evaluation writes a one-profile outbox
    entry and stored traits a value row in the same transaction, and those
    keep their checks. A profile's deletion removes its stamp (Django's
    cascade), and a stamp is only read joined to its profile.
    """

    customer = models.OneToOneField(
        Customer,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="stamp",
        db_constraint=False,
    )
    stamp = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.stamp}"


class Identity(models.Model):
    """(identifier type, normalized value) belongs to exactly one customer.

    A superseded identity (``superseded_at``) was renamed by an alias: it
    still resolves to its profile, and per-profile limits ignore it.
    """

    # no single-column indexes: (type, value) and (customer, type) lead with them
    type = models.ForeignKey(
        IdentifierType, on_delete=models.PROTECT, related_name="identities", db_index=False
    )
    value = models.CharField(max_length=255)
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="identities", db_index=False
    )
    source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    first_seen = models.DateTimeField(default=timezone.now)
    # set when an alias renamed this identifier away (a former user id): it
    # still leads to its profile but no longer counts toward max_per_profile
    superseded_at = models.DateTimeField(null=True, blank=True)

    history = audited_history(no_db_index=["type", "source"])

    class Meta:
        verbose_name_plural = "identities"
        ordering = ["type__priority", "first_seen"]
        constraints = [
            models.UniqueConstraint(fields=["type", "value"], name="identity_type_value_unique"),
        ]
        indexes = [models.Index(fields=["customer", "type"], name="identity_customer_type")]

    def __str__(self) -> str:
        return f"{self.type.name}:{self.value}"


class Event(models.Model):
    """Something a customer did (track/page/screen) or a record of a call."""

    class Type(models.TextChoices):
        TRACK = "track"
        PAGE = "page"
        SCREEN = "screen"
        IDENTIFY = "identify"
        GROUP = "group"
        ALIAS = "alias"

    # no single-column indexes: (customer, timestamp) and (source, message_id)
    # below lead with these columns
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="+", db_index=False)
    type = models.CharField(max_length=16, choices=Type.choices)
    name = models.CharField(max_length=200, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    context = models.JSONField(default=dict, blank=True)
    timestamp = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    # the client's own clock, kept as sent (``timestamp`` is skew-corrected)
    sent_at = models.DateTimeField(null=True, blank=True)
    original_timestamp = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=200)

    class Meta:
        ordering = ["-timestamp"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "message_id"], name="event_source_message_unique"
            ),
        ]
        indexes = [
            # the 360° timeline
            models.Index(fields=["customer", "-timestamp"], name="event_customer_timeline"),
            # segment conditions: "performed <name> within N days"
            models.Index(fields=["name", "timestamp", "customer"], name="event_name_time"),
            models.Index(fields=["customer", "name", "timestamp"], name="event_customer_name_time"),
            models.Index(fields=["timestamp"], name="event_timestamp"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.name}".strip()


class Group(models.Model):
    """An account or company people belong to (Segment's ``group`` call)."""

    group_id = models.CharField(max_length=255, unique=True)
    name = models.CharField(max_length=200, blank=True)
    traits = models.JSONField(default=dict, blank=True)
    # {"<trait>": {"source": <source id>, "at": "<iso time>"}}
    trait_provenance = models.JSONField(default=dict, blank=True)
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)

    history = audited_history(excluded_fields=["last_seen"])

    class Meta:
        ordering = ["name", "group_id"]

    def __str__(self) -> str:
        return self.name or self.group_id


class GroupMembership(models.Model):
    """A person belongs to a group; one row per (group, customer)."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="memberships")
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="group_memberships"
    )
    source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "customer"], name="group_membership_unique"),
        ]
        indexes = [models.Index(fields=["customer"], name="group_membership_customer")]

    def __str__(self) -> str:
        return f"{self.customer_id} in {self.group_id}"


class DataQualityIssue(models.Model):
    """A value that arrived but could not be used (bad email, impossible date…).

    Invalid values never enter the profile or the identity graph; they are
    kept here so stewards can see them per profile and per source.
    """

    customer = models.ForeignKey(
        Customer,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="data_quality_issues",
    )
    source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    field = models.CharField(max_length=64)
    value = models.TextField(blank=True)
    code = models.CharField(max_length=64)
    message = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="dq_customer_time"),
            models.Index(fields=["source", "-created_at"], name="dq_source_time"),
            models.Index(fields=["code", "-created_at"], name="dq_code_time"),
        ]

    def __str__(self) -> str:
        return f"{self.field}: {self.code}"


class Merge(models.Model):
    """One profile absorbed into another: what, why, who, and exactly what moved.

    ``moved`` maps ``"app_label.Model.field"`` to the primary keys of the rows
    that were re-pointed from ``absorbed`` to ``survivor``; ``kept`` lists the
    rows left on ``absorbed`` because ``survivor`` already had an equivalent
    one (a unique constraint). ``changes`` holds, per core field or
    ``traits.NAME`` the merge changed on the survivor, the value and
    provenance before and after, so ``unmerge`` can restore them.
    """

    class Reason(models.TextChoices):
        IDENTIFIER = "identifier", "Shared identifier on a message"
        MANUAL = "manual", "Merged by a person"
        DUPLICATE = "duplicate", "Duplicate detection"

    survivor = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="merges")
    absorbed = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=16, choices=Reason.choices)
    detail = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    moved = models.JSONField(default=dict, blank=True)
    kept = models.JSONField(default=dict, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["survivor", "-created_at"], name="merge_survivor_time"),
            models.Index(fields=["absorbed"], name="merge_absorbed"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(survivor=models.F("absorbed")), name="merge_not_into_self"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.absorbed_id} into #{self.survivor_id}"

    @property
    def moved_count(self) -> int:
        return sum(len(pks) for pks in self.moved.values())


class TraitSourcePriority(models.Model):
    """Which source to trust for profile values, when sources disagree.

    Lower numbers win. A value from a ranked source beats one from an
    unranked source; otherwise (no rank, or equal ranks) the newest wins.
    """

    source = models.OneToOneField(Source, on_delete=models.CASCADE, related_name="trait_priority")
    priority = models.PositiveSmallIntegerField(default=5)

    class Meta:
        ordering = ["priority"]
        verbose_name_plural = "trait source priorities"

    def __str__(self) -> str:
        return f"{self.source_id}: {self.priority}"


class DuplicateSuggestion(models.Model):
    """Two profiles that share no identifier but probably are one person.

    ``customer_a`` has the lower id. A pair is scored once: a steward's
    decision ("merged" or "not the same person") is remembered and the pair
    is never suggested again.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending review"
        MERGED = "merged", "Merged"
        DISTINCT = "distinct", "Not the same person"
        STALE = "stale", "Outdated (not found by the last run)"

    customer_a = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    customer_b = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    score = models.FloatField(help_text="Match probability, 0-1.")
    comparison = models.JSONField(
        default=dict, blank=True, help_text="Per field: comparison level and weight (bits)."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    merge = models.ForeignKey(
        Merge, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-score", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer_a", "customer_b"], name="duplicate_pair_unique"
            ),
            models.CheckConstraint(
                condition=Q(customer_a__lt=models.F("customer_b")), name="duplicate_pair_ordered"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-score"], name="duplicate_queue"),
            models.Index(fields=["customer_b"], name="duplicate_customer_b"),
        ]

    def __str__(self) -> str:
        return f"#{self.customer_a_id} ~ #{self.customer_b_id} ({self.score:.2f})"


class SharedValue(models.Model):
    """An identifier value that arrived with more than one person's values.

    A row is written the first time a call carries the value together with a
    higher-priority value that the value's profile does not hold (a new
    email with a known phone). ``companions`` keeps, per higher-priority
    type, digests of the distinct values seen with it (the profile's own and
    the callers'); once one type reaches the value type's ``shared_after``
    the value is *shared*: it stops linking calls to profiles and is kept on
    each profile as data only (``customers.services.shared_values``).
    Stewards unflag a value (it links again and is not flagged again) or
    block it (added to the type's blocked values).
    """

    class Status(models.TextChoices):
        WATCHED = "watched", "Seen with another person (still links)"
        SHARED = "shared", "Shared (does not link)"
        UNFLAGGED = "unflagged", "Unflagged by a steward (links)"
        BLOCKED = "blocked", "Blocked (never used as an identifier)"

    type = models.ForeignKey(IdentifierType, on_delete=models.CASCADE, related_name="+")
    value = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.WATCHED)
    seen_with = models.PositiveIntegerField(
        default=0, help_text="Distinct values of one higher-priority type seen with it."
    )
    # {"<type name>": ["<digest>", ...]}: digests, so no other person's value is kept here
    companions = models.JSONField(default=dict, blank=True, editable=False)
    first_seen = models.DateTimeField(default=timezone.now)
    flagged_at = models.DateTimeField(null=True, blank=True)

    history = audited_history(excluded_fields=["companions"])

    class Meta:
        ordering = ["-flagged_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["type", "value"], name="shared_value_type_value"),
        ]
        indexes = [models.Index(fields=["status", "-flagged_at"], name="shared_value_status")]

    def __str__(self) -> str:
        return f"{self.type.name} value #{self.pk}"
