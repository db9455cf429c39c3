"""The Customer and Identity admins: customers' lists and forms, sources'
export actions and the 360° page (contact details masked for viewers, see
``accounts.admin_roles``).

The 360° page is backoffice's own, because it reads every app (consent,
segments, sources) and ``customers`` imports none.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Case, IntegerField, Value, When
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from accounts.admin_roles import MASKED, SEARCH_REFUSED, HistoryAdmin
from accounts.masking import can_see_contact_details, is_contact_lookup
from backoffice import customer_actions
from backoffice.customer360 import customer_360
from backoffice.name_search import ranked_matches
from backoffice.search import search_customers
from customers.admin import CustomerAdminMixin, IdentityAdminMixin, IdentityInline
from customers.models import Customer, Identity, Merge
from customers.services.merging import MergeError, unmerge
from sources.admin_exports import CustomerExportMixin


class MaskedIdentityInline(IdentityInline):
    # Django's tabular inline, labelling rows by type rather than "type:value".
    template = "backoffice/identity_inline.html"


# The list's name matches (most recently active first), bounded like every
# name search (``backoffice.name_search``): ten pages of the list.
LIST_NAME_MATCHES = 500

# Sections the 360° page shows itself, better than the plain fields did.
_SHOWN_BY_360 = {"traits", "trait_provenance", "latest_events", "data_quality"}


class Customer360Mixin:
    """The customer page reads first (``backoffice/customer_360.html``): the
    summary, timeline, consent, segments and history, with the actions the
    person's role allows; the edit form is behind "Edit" (``?edit=1``)."""

    change_form_template = "admin/customers/customer/customer_edit.html"
    inlines = [
        MaskedIdentityInline if i is IdentityInline else i for i in CustomerAdminMixin.inlines
    ]

    def get_fieldsets(self, request, obj=None):
        fieldsets = []
        for title, opts in super().get_fieldsets(request, obj):
            fields = [f for f in opts["fields"] if str(f).removeprefix(MASKED) not in _SHOWN_BY_360]
            if fields:
                fieldsets.append((title, {**opts, "fields": fields}))
        return fieldsets

    def get_search_results(self, request, queryset, search_term):
        """The list's own search, with names matched as the global search
        does (accents ignored: "francois" finds François).

        The customer pickers (``autocomplete_fields`` wherever a customer is
        chosen) ask the global search itself: identifiers exactly, then
        names, best first, on its indexes; a Viewer's email or phone term is
        refused as everywhere (403)."""
        match = getattr(request, "resolver_match", None)
        if search_term and match is not None and match.url_name == "autocomplete":
            if not can_see_contact_details(request.user) and is_contact_lookup(search_term):
                raise PermissionDenied(SEARCH_REFUSED)
            found = [r.pk for r in search_customers(term=search_term[:200], user=request.user)]
            best_first = Case(
                *(When(pk=pk, then=Value(rank)) for rank, pk in enumerate(found)),
                output_field=IntegerField(),
            )
            return queryset.filter(pk__in=found).order_by(best_first), False
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if search_term:
            named = ranked_matches(queryset, search_term, limit=LIST_NAME_MATCHES)
            results = results | queryset.filter(pk__in=named)
        return results, may_have_duplicates

    def get_urls(self):
        undo = path(
            "<int:customer_id>/undo-merge/<int:merge_id>/",
            self.admin_site.admin_view(self.undo_merge_view),
            name="customers_customer_undo_merge",
        )
        wrap = self.admin_site.admin_view
        actions = [
            path(
                f"<path:object_id>/{slug}/",
                wrap(view),
                name=f"customers_customer_{slug.replace('-', '_')}",
            )
            for slug, view in (
                ("record-consent", customer_actions.record_consent_view),
                ("privacy-request", customer_actions.privacy_request_view),
                ("add-to-segment", customer_actions.add_to_segment_view),
            )
        ]
        return [undo, *actions, *super().get_urls()]

    def undo_merge_view(self, request, customer_id: int, merge_id: int):
        """The 360 page's "Undo merge" button: split the absorbed profile back out."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm("customers.change_merge"):
            raise PermissionDenied
        merge = get_object_or_404(Merge, pk=merge_id, survivor_id=customer_id)
        try:
            unmerge(merge=merge, actor=request.user)
        except MergeError as error:
            self.message_user(request, f"Could not undo the merge: {error.message}", messages.ERROR)
        else:
            self.message_user(
                request, f"Merge undone: profile #{merge.absorbed_id} is separate again."
            )
        return redirect("admin:customers_customer_change", customer_id)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        customer = self.get_object(request, unquote(object_id))
        reading = request.method in ("GET", "HEAD") and "edit" not in request.GET
        if (
            reading
            and customer is not None
            and self.has_view_or_change_permission(request, customer)
        ):
            return self.read_view(request, customer)
        return super().change_view(request, object_id, form_url, extra_context)

    def read_view(self, request, customer):
        view = customer_360(
            customer,
            user=request.user,
            event_type=request.GET.get("event_type", ""),
            event_name=request.GET.get("event_name", "")[:200],
            page=request.GET.get("events_page"),
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": customer,
            "title": view["name"],
            "subtitle": view["name"],
            "bo": view,
            "can_edit": self.has_change_permission(request, customer),
            "has_view_permission": True,
            "history_url": reverse("admin:customers_customer_history", args=[customer.pk]),
            **customer_actions.action_forms(customer, user=request.user),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "backoffice/customer_360.html", context)

    def response_post_save_change(self, request, obj):
        """After a save, back to the read page (not the list)."""
        return redirect("admin:customers_customer_change", obj.pk)


@admin.register(Customer)
class CustomerAdmin(Customer360Mixin, CustomerExportMixin, CustomerAdminMixin, HistoryAdmin):
    actions = [*CustomerAdminMixin.actions, *CustomerExportMixin.export_actions]


@admin.register(Identity)
class IdentityAdmin(IdentityAdminMixin, HistoryAdmin):
    def has_view_permission(self, request, obj=None):
        # An identity's own page is titled with its value: viewers read
        # identities (masked) on the customer's 360 page and the list instead.
        if obj is not None and not can_see_contact_details(request.user):
            return False
        return super().has_view_permission(request, obj)
