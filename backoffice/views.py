"""Back-office pages of our own, served inside the admin."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods

from accounts.admin_roles import SEARCH_REFUSED
from accounts.masking import can_see_contact_details, is_contact_lookup
from backoffice.search import MAX_RESULTS, MAX_SUGGESTIONS, search_customers


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
        "limit": MAX_RESULTS,
    }
    return TemplateResponse(request, "backoffice/search.html", context)


@require_http_methods(["POST"])
def search_suggestions(request):
    """Typeahead under the search boxes: a few matches as the person types
    (POST, like the search itself, so terms stay out of URLs and logs). For
    people who may not see contact details, an email or phone number is not
    looked up: the answer says so instead (a 403 would flash on every key)."""
    if not request.user.has_perm("customers.view_customer"):
        raise PermissionDenied
    term = request.POST.get("q", "").strip()[:200]
    refused = ""
    results = []
    if term and not can_see_contact_details(request.user) and is_contact_lookup(term):
        refused = SEARCH_REFUSED
    elif term:
        results = search_customers(term=term, user=request.user, limit=MAX_SUGGESTIONS)
    context = {"term": term, "results": results, "refused": refused}
    return TemplateResponse(request, "backoffice/search_suggestions.html", context)
