from functools import lru_cache

import pycountry
from django.contrib import admin
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from accounts.admin_roles import HistoryAdmin, RoleAwareAdmin, RoleAwareInline
from accounts.roles import MERGE_PROFILES
from core.db.estimate import EstimatedCountPaginator
from core.models import OutboxEntry
from customers import admin_shared_values  # noqa: F401  (registers the shared-values list)
from customers.admin_merges import merge_selected
from customers.models import (
    Customer,
    DataQualityIssue,
    Event,
    IdentifierType,
    Identity,
    Merge,
    Source,
)
from customers.selectors import (
    countries_in_use,
    customer_ids_matching_identifier,
    customer_timeline,
)
from customers.services.versions import bump_versions


class IdentityInline(RoleAwareInline, admin.TabularInline):
    model = Identity
    extra = 0
    fields = ("type", "value", "source", "first_seen")
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("type", "source")


class SourceFilter(admin.SimpleListFilter):
    title = "source"
    parameter_name = "source"

    def lookups(self, request, model_admin):
        return [(s.pk, s.name) for s in Source.objects.only("pk", "name")]

    def queryset(self, request, queryset):
        """Profiles holding an identifier from the source: ``EXISTS``, so a
        profile with several is listed once without a ``DISTINCT`` over the
        list (each probe reads the profile's identities by their index)."""
        if self.value():
            from_source = Identity.objects.filter(customer=OuterRef("pk"), source_id=self.value())
            return queryset.filter(Exists(from_source))
        return queryset


class CountryFilter(admin.SimpleListFilter):
    """Countries by name, those profiles hold (read from the country index,
    not by a DISTINCT over every profile)."""

    title = "country"
    parameter_name = "country"

    def lookups(self, request, model_admin):
        return [(code, _country_name(code)) for code in countries_in_use()]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(country=self.value())
        return queryset


@lru_cache(maxsize=512)
def _country_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    return getattr(country, "common_name", None) or (country.name if country else code)


class CustomerAdminMixin:
    """The profile list and form; ``backoffice.admin`` composes the one
    Customer admin from it (on ``HistoryAdmin``), with the other apps' mixins."""

    history_list_display = ("history_actor",)  # who: user, API key or source
    list_display = (
        "__str__",
        "email",
        "phone",
        "country_name",
        "is_identified",
        "first_seen",
        "last_seen",
    )
    # No date hierarchy: it reads every profile's last_seen (MIN/MAX, then a
    # DISTINCT by month) on each load; the date filters below need no query.
    list_filter = ("is_identified", SourceFilter, CountryFilter, "first_seen", "last_seen")
    search_fields = ("email", "phone", "first_name", "last_name", "company")
    search_help_text = "Search by any identifier (email, phone, user id, external id) or name."
    list_per_page = 50
    show_full_result_count = False
    paginator = EstimatedCountPaginator  # "about 1,000,000 customers": no COUNT(*) over them all
    inlines = [IdentityInline]
    actions = [merge_selected]
    readonly_fields = (
        "traits",
        "trait_provenance",
        "first_seen",
        "last_seen",
        "merged_into",
        "is_identified",
        "created_at",
        "updated_at",
        "latest_events",
        "data_quality",
        "merge_history",
    )
    fieldsets = (
        (None, {"fields": ("first_name", "last_name", "email", "phone", "birthday", "company")}),
        (
            "Address",
            {
                "fields": (
                    "address_line1",
                    "address_line2",
                    "postal_code",
                    "city",
                    "region",
                    "country",
                )
            },
        ),
        ("Traits", {"fields": ("traits", "trait_provenance")}),
        (
            "Activity",
            {
                "fields": (
                    "is_identified",
                    "first_seen",
                    "last_seen",
                    "merged_into",
                    "created_at",
                    "updated_at",
                    "latest_events",
                )
            },
        ),
        ("Data quality", {"fields": ("data_quality",)}),
        ("Merges", {"fields": ("merge_history",)}),
    )

    def get_queryset(self, request) -> QuerySet:
        return super().get_queryset(request).filter(merged_into__isnull=True)

    @admin.display(description="country", ordering="country")
    def country_name(self, obj: Customer) -> str:
        """The country by name ("Germany"), the code when it is no known one."""
        return _country_name(obj.country) if obj.country else ""

    def has_merge_permission(self, request) -> bool:
        return request.user.has_perms(MERGE_PROFILES)

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        ids = customer_ids_matching_identifier(search_term)
        if ids:
            results = results | queryset.filter(pk__in=ids)
        return results, may_have_duplicates

    @admin.display(description="Latest events")
    def latest_events(self, obj: Customer) -> str:

        rows = customer_timeline(obj, limit=20)
        if not rows:
            return "No events yet."
        return format_html_join(
            "\n",
            "<div>{} · <b>{}</b> {} <span style='color:#888'>({})</span></div>",
            ((e.timestamp.strftime("%Y-%m-%d %H:%M"), e.type, e.name, e.source.name) for e in rows),
        )

    @admin.display(description="Merge history")
    def merge_history(self, obj: Customer) -> str:

        rows = list(
            Merge.objects.filter(Q(survivor=obj) | Q(absorbed=obj)).order_by("-created_at")[:20]
        )
        if not rows:
            return "Never merged."
        return format_html_join(
            "\n",
            "<div>{} · <a href='{}'>#{} into #{}</a> ({}){}</div>",
            (
                (
                    m.created_at.strftime("%Y-%m-%d %H:%M"),
                    reverse("admin:customers_merge_change", args=[m.pk]),
                    m.absorbed_id,
                    m.survivor_id,
                    m.get_reason_display(),
                    " — undone" if m.undone_at else "",
                )
                for m in rows
            ),
        )

    @admin.display(description="Data-quality issues")
    def data_quality(self, obj: Customer) -> str:

        rows = list(obj.data_quality_issues.select_related("source")[:20])
        if not rows:
            return "No issues."
        listing = format_html_join(
            "\n",
            "<div>{} · <b>{}</b> {}: {} <span style='color:#888'>({})</span></div>",
            (
                (
                    i.created_at.strftime("%Y-%m-%d %H:%M"),
                    i.field,
                    i.code,
                    i.value,
                    i.source.name if i.source else "no source",
                )
                for i in rows
            ),
        )
        url = (
            reverse("admin:customers_dataqualityissue_changelist")
            + f"?customer__id__exact={obj.pk}"
        )
        return format_html('{}<div><a href="{}">All issues of this profile</a></div>', listing, url)


@admin.register(DataQualityIssue)
class DataQualityIssueAdmin(RoleAwareAdmin):
    list_display = ("created_at", "field", "code", "value", "customer", "source")
    list_filter = ("code", "field", "source", "created_at")
    list_select_related = ("customer", "source")
    search_fields = ("value", "message")
    raw_id_fields = ("customer",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    readonly_fields = ("customer", "source", "field", "value", "code", "message", "created_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(IdentifierType)
class IdentifierTypeAdmin(HistoryAdmin):
    history_list_display = ("history_actor",)  # who: user, API key or source
    list_display = ("name", "priority", "max_per_profile", "merges", "description")
    list_editable = ("priority", "max_per_profile", "merges")


class IdentityAdminMixin:
    """The identity list; composed in ``backoffice.admin`` (on ``HistoryAdmin``)."""

    history_list_display = ("history_actor",)  # who: user, API key or source
    list_display = ("value", "type", "customer", "source", "first_seen")
    list_filter = ("type",)
    list_select_related = ("type", "customer", "source")
    search_fields = ("value",)
    autocomplete_fields = ("customer",)  # move an identity: pick the person by name
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    ordering = ("-id",)  # newest first, on the primary key (the model's order sorts every row)

    # an identity moved or deleted here changes both profiles' documents
    def save_model(self, request, obj, form, change):
        before = Identity.objects.filter(pk=obj.pk).values_list("customer_id", flat=True).first()
        super().save_model(request, obj, form, change)
        bump_versions([before, obj.customer_id])

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        bump_versions([obj.customer_id])

    def delete_queryset(self, request, queryset):
        owners = list(queryset.values_list("customer_id", flat=True))
        super().delete_queryset(request, queryset)
        bump_versions(owners)


class EventAdminMixin:
    """The event list; composed in ``backoffice.admin`` (on ``RoleAwareAdmin``)."""

    list_display = ("timestamp", "type", "name", "customer", "source")
    list_filter = ("type", "source", "timestamp")
    list_select_related = ("customer", "source")
    search_fields = ("name", "message_id")
    raw_id_fields = ("customer",)
    # no date hierarchy (a DISTINCT by month over every event on each load):
    # the timestamp filter offers today, 7 days, this month and this year
    show_full_result_count = False
    paginator = EstimatedCountPaginator  # "about 10,000,000 events": no COUNT(*) over them
    readonly_fields = [f.name for f in Event._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(OutboxEntry)
class OutboxEntryAdmin(RoleAwareAdmin):
    list_display = ("id", "topic", "customer", "created_at", "dispatched_at")
    list_filter = ("topic",)
    raw_id_fields = ("customer",)
    show_full_result_count = False

    def has_add_permission(self, request):
        return False
