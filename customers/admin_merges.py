"""Admin for the merge log (with undo), the duplicate review queue, trait source priorities.

Imported by ``customers.admin``; the actions call ``customers.services.merging``.
"""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from accounts.admin_roles import RoleAwareAdmin
from customers.models import CORE_FIELDS, Customer, DuplicateSuggestion, Merge, TraitSourcePriority
from customers.services.duplicates import merge_suggestion, reject_suggestion
from customers.services.merging import (
    MergeError,
    MergePreview,
    merge_manually,
    preview_manual_merge,
    unmerge,
)


@admin.action(description="Merge selected customers into one…", permissions=["merge"])
def merge_selected(modeladmin, request, queryset):
    """First a confirmation page (the resulting profile, the survivor to keep),
    then the merge; both through the merge service, which checks the permission."""
    ids = list(queryset.values_list("pk", flat=True))
    survivor_id = _number(request.POST.get("survivor"))
    try:
        if "_confirm_merge" not in request.POST:
            preview = preview_manual_merge(
                customer_ids=ids, actor=request.user, survivor_id=survivor_id
            )
            return _confirmation(modeladmin, request, preview)
        merges = merge_manually(customer_ids=ids, actor=request.user, survivor_id=survivor_id)
    except MergeError as error:
        modeladmin.message_user(request, error.message, messages.ERROR)
        return None
    survivor = merges[0].survivor
    modeladmin.message_user(
        request,
        format_html(
            'Merged {} profiles into <a href="{}">{}</a>. Undo from its page or the merge log.',
            len(merges),
            survivor.get_absolute_url(),
            survivor,
        ),
        messages.SUCCESS,
    )
    return None


def _number(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def _confirmation(modeladmin, request, preview: MergePreview) -> TemplateResponse:
    profiles = [preview.survivor, *preview.absorbed]
    rows = [
        (
            Customer._meta.get_field(name).verbose_name.capitalize(),
            [getattr(c, name) for c in profiles],
            getattr(preview.result, name),
        )
        for name in (*CORE_FIELDS, "first_seen", "last_seen")
    ]
    traits = sorted({key for c in profiles for key in c.traits})
    rows.extend(
        (key, [c.traits.get(key) for c in profiles], preview.result.traits.get(key))
        for key in traits
    )
    identities = {
        c.pk: [str(i) for i in c.identities.select_related("type").order_by("type__name")]
        for c in profiles
    }
    return TemplateResponse(
        request,
        "admin/customers/customer/merge_confirm.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": f"Merge {len(profiles)} profiles into one?",
            "opts": modeladmin.model._meta,
            "preview": preview,
            "profiles": profiles,
            "rows": rows,
            "identities": [identities[c.pk] for c in profiles],
            "changed": len(preview.changes),
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "action_name": request.POST.get("action", ""),
        },
    )


@admin.action(description="Undo selected merges (unmerge)", permissions=["change"])
def undo_merges(modeladmin, request, queryset):
    done = 0
    for merge in queryset.order_by("-created_at", "-id"):
        try:
            unmerge(merge=merge, actor=request.user)
        except MergeError as error:
            modeladmin.message_user(request, f"Merge #{merge.pk}: {error.message}", messages.ERROR)
        else:
            done += 1
    if done:
        modeladmin.message_user(request, f"Undid {done} merge(s).", messages.SUCCESS)


@admin.register(Merge)
class MergeAdmin(RoleAwareAdmin):
    list_display = (
        "created_at",
        "absorbed",
        "survivor",
        "reason",
        "why",
        "actor",
        "rows_moved",
        "undone_at",
    )
    list_filter = ("reason", "created_at", "undone_at")
    list_select_related = ("survivor", "absorbed", "actor")
    raw_id_fields = ("survivor", "absorbed")
    search_fields = ("=survivor__id", "=absorbed__id")
    date_hierarchy = "created_at"
    show_full_result_count = False
    actions = [undo_merges]
    readonly_fields = (
        "survivor",
        "absorbed",
        "reason",
        "detail",
        "actor",
        "moved_summary",
        "kept",
        "changes",
        "created_at",
        "undone_at",
        "undone_by",
    )
    exclude = ("moved",)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="why")
    def why(self, obj: Merge) -> str:
        if obj.reason == Merge.Reason.IDENTIFIER:
            return ", ".join(obj.detail.get("identifiers", []))
        if obj.reason == Merge.Reason.DUPLICATE:
            why = why_summary(obj.detail.get("comparison") or {})
            return f"score {obj.detail.get('score', '?')}" + (f" ({why})" if why else "")
        return obj.detail.get("by", "")

    @admin.display(description="rows moved")
    def rows_moved(self, obj: Merge) -> int:
        return obj.moved_count

    @admin.display(description="moved")
    def moved_summary(self, obj: Merge) -> str:
        return ", ".join(f"{label}: {len(pks)}" for label, pks in obj.moved.items()) or "nothing"


@admin.register(TraitSourcePriority)
class TraitSourcePriorityAdmin(RoleAwareAdmin):
    list_display = ("source", "priority")
    list_editable = ("priority",)
    list_select_related = ("source",)


_COMPARED = (
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("email", "Email"),
    ("phone", "Phone"),
    ("birthday", "Birthday"),
    ("address_line1", "Address"),
    ("postal_code", "Postcode"),
    ("city", "City"),
    ("country", "Country"),
    ("first_seen", "First seen"),
)
_OUTCOME_FIELD = {"address_line1": "address", "postal_code": "address", "city": "address"}


def _outcome(comparison: dict, name: str) -> str:
    """A field's comparison level and weight in bits ("close, +4.2")."""
    fields = comparison.get("fields")
    if fields is None:  # a suggestion from before issue 22 (marked stale)
        return comparison.get(name) or ""
    item = fields.get(name)
    if not item:
        return ""
    return f"{item['level']}, {item['weight']:+.1f}"


def why_summary(comparison: dict) -> str:
    """One line for the queue: which fields spoke for and against the match."""
    fields = comparison.get("fields") or {}
    label = {name: name.replace("_", " ") for name in fields}
    agreed = [label[n] for n, item in fields.items() if item["weight"] > 0]
    against = [label[n] for n, item in fields.items() if item["weight"] < 0]
    missing = [label[n] for n, item in fields.items() if item["level"] == "missing"]
    parts = []
    if agreed:
        parts.append("agree: " + ", ".join(agreed))
    if against:
        parts.append("differ: " + ", ".join(against))
    if missing:
        parts.append("missing: " + ", ".join(missing))
    return "; ".join(parts)


@admin.action(description="Merge selected pairs", permissions=["change"])
def merge_suggestions(modeladmin, request, queryset):
    done = 0
    for suggestion in queryset.filter(status=DuplicateSuggestion.Status.PENDING):
        try:
            merge_suggestion(suggestion=suggestion, actor=request.user)
        except MergeError as error:
            modeladmin.message_user(request, f"{suggestion}: {error.message}", messages.ERROR)
        else:
            done += 1
    modeladmin.message_user(request, f"Merged {done} pair(s).", messages.SUCCESS)


@admin.action(description="Not the same person (never suggest again)", permissions=["change"])
def reject_suggestions(modeladmin, request, queryset):
    pending = queryset.filter(status=DuplicateSuggestion.Status.PENDING)
    for suggestion in pending:
        reject_suggestion(suggestion=suggestion, actor=request.user)
    modeladmin.message_user(request, "Marked as different people.", messages.SUCCESS)


@admin.register(DuplicateSuggestion)
class DuplicateSuggestionAdmin(RoleAwareAdmin):
    """The review queue: side-by-side comparison, merge or "not the same person"."""

    list_display = ("score_percent", "customer_a", "customer_b", "why", "status", "created_at")
    list_filter = ("status",)
    list_select_related = ("customer_a", "customer_b")
    raw_id_fields = ("customer_a", "customer_b")
    search_fields = ("=customer_a__id", "=customer_b__id", "customer_a__last_name")
    show_full_result_count = False
    actions = [merge_suggestions, reject_suggestions]
    change_form_template = "admin/customers/duplicatesuggestion/change_form.html"
    fields = ("side_by_side", "score", "status", "decided_at", "decided_by", "merge")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("customer_a", "customer_b")

    @admin.display(description="score", ordering="score")
    def score_percent(self, obj: DuplicateSuggestion) -> str:
        return f"{obj.score:.0%}"

    @admin.display(description="why")
    def why(self, obj: DuplicateSuggestion) -> str:
        return why_summary(obj.comparison)

    @admin.display(description="Comparison")
    def side_by_side(self, obj: DuplicateSuggestion):
        a, b = obj.customer_a, obj.customer_b
        rows = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    label,
                    getattr(a, name) or "—",
                    getattr(b, name) or "—",
                    _outcome(obj.comparison, _OUTCOME_FIELD.get(name, name)),
                )
                for name, label in _COMPARED
            ),
        )
        prior = obj.comparison.get("prior")
        together = obj.comparison.get("together")
        footer = format_html_join(
            "",
            "<tr><th>{}</th><td colspan='2'>{}</td><td>{}</td></tr>",
            (
                (label, text, f"{bits:+.1f}")
                for label, text, bits in (
                    ("Prior", "share of true pairs among the compared pairs", prior),
                    (
                        "Fields together",
                        "what these agreements mean together (relatives and namesakes "
                        "agree like this too)",
                        together,
                    ),
                )
                if isinstance(bits, int | float)
            ),
        )
        return format_html(
            "<table><thead><tr><th></th><th><a href='{}'>#{} {}</a></th>"
            "<th><a href='{}'>#{} {}</a></th><th>level, weight (bits)</th></tr></thead>"
            "<tbody>{}{}</tbody></table>",
            a.get_absolute_url(),
            a.pk,
            a,
            b.get_absolute_url(),
            b.pk,
            b,
            rows,
            footer,
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "POST" and ("_merge" in request.POST or "_distinct" in request.POST):
            suggestion = self.get_object(request, object_id)
            if suggestion is None or not self.has_change_permission(request, suggestion):
                raise PermissionDenied
            if "_merge" in request.POST:
                try:
                    merge_suggestion(suggestion=suggestion, actor=request.user)
                except MergeError as error:
                    self.message_user(request, error.message, messages.ERROR)
                    return redirect(request.path)
                self.message_user(request, "Merged. Undo from the merge log.", messages.SUCCESS)
            else:
                reject_suggestion(suggestion=suggestion, actor=request.user)
                self.message_user(request, "Remembered as two different people.", messages.SUCCESS)
            return redirect(
                reverse("admin:customers_duplicatesuggestion_changelist") + "?status__exact=pending"
            )
        return super().change_view(request, object_id, form_url, extra_context)
