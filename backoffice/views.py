"""Back-office pages of our own, served inside the admin."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods

from accounts.admin_roles import SEARCH_REFUSED
from accounts.masking import can_see_contact_details, is_contact_lookup
from backoffice.search import search_customers


@require_http_methods(["GET", "POST"])
def global_search(request):
    """Find customers by any identifier, from the box in every admin page.

    The term comes in a POST body, never in the URL, so emails and phone
    numbers stay out of browser history, proxies and access logs. One match
    opens the customer's 360° page; several are listed. People who may not
    see contact details may not search by them (403): the answer would
    confirm an email or phone number the mask hides.
    """
    if not request.user.has_perm("customers.view_customer"):
        raise PermissionDenied
    term = request.POST.get("q", "").strip() if request.method == "POST" else ""
    if term and not can_see_contact_details(request.user) and is_contact_lookup(term):
        raise PermissionDenied(SEARCH_REFUSED)
    results = search_customers(term=term, user=request.user) if term else []
    if len(results) == 1:
        return redirect(results[0].url)
    context = {
        **admin.site.each_context(request),
        "title": "Search customers",
        "term": term,
        "searched": bool(term),
        "results": results,
    }
    return TemplateResponse(request, "backoffice/search.html", context)
