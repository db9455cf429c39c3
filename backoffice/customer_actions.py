"""What the customer 360° page lets a person do, each through its service:
record consent (``consent.add_consentrecord``), start an access or erasure
request (``consent.add_datasubjectrequest``) and add the person to a static
segment (``segments.change_segment``), and pick another profile to merge
with (the customer list's merge action, with its confirmation page; undoing
is the merge log's), editing is the change form's.

Each view takes a POST only, checks its permission (403 otherwise), and
answers with a message and a redirect back to the page; an invalid form is
a message too, never a 500.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from accounts.roles import MERGE_PROFILES
from consent.models import ConsentRecord, ConsentStateChoices, DataSubjectRequest, Purpose
from consent.services.consent import record_consent
from consent.services.privacy import PrivacyRequestError, create_request
from customers.models import Customer, Merge
from segments.models import Segment
from segments.services import add_to_static_segment

RECORD_CONSENT = "consent.add_consentrecord"
START_REQUEST = "consent.add_datasubjectrequest"
ADD_TO_SEGMENT = "segments.change_segment"


class RecordConsentForm(forms.Form):
    purpose = forms.ModelChoiceField(queryset=Purpose.objects.filter(is_active=True))
    state = forms.ChoiceField(choices=ConsentStateChoices.choices)
    wording = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What the person agreed to, as they read it (optional).",
    )


class PrivacyRequestForm(forms.Form):
    type = forms.ChoiceField(choices=DataSubjectRequest.Type.choices)
    identifier = forms.ChoiceField(help_text="The identifier the request is filed under.")

    def __init__(self, *args, customer: Customer, **kwargs):
        super().__init__(*args, **kwargs)
        identities = customer.identities.select_related("type").order_by("type__priority")
        self.fields["identifier"].choices = [
            (f"{i.type.name}:{i.value}", f"{i.type.name}: {i.value}") for i in identities[:50]
        ]


class MergeWithForm(forms.Form):
    """Merge by hand from the page: pick the other profile by name; the
    customer list's "Merge selected customers" action takes it from there
    (its confirmation page shows the result before anything is merged)."""

    _selected_action = forms.ModelChoiceField(
        queryset=Customer.objects.active(),
        label="The other profile",
        widget=AutocompleteSelect(Merge._meta.get_field("absorbed"), admin.site),
        help_text="Find them by name, company, city or an identifier.",
    )


class AddToSegmentForm(forms.Form):
    segment = forms.ModelChoiceField(
        queryset=Segment.objects.filter(kind=Segment.Kind.STATIC).order_by("name")
    )


def action_forms(customer: Customer, *, user) -> dict:
    """The forms the page shows to ``user`` (none for a permission they lack)."""
    shown = {}
    if user.has_perm(RECORD_CONSENT):
        shown["consent_form"] = RecordConsentForm(auto_id="id_consent_%s")
    if user.has_perm(START_REQUEST):
        shown["privacy_form"] = PrivacyRequestForm(customer=customer, auto_id="id_privacy_%s")
    if user.has_perm(ADD_TO_SEGMENT):
        shown["segment_form"] = AddToSegmentForm(auto_id="id_segment_%s")
    if user.has_perms(MERGE_PROFILES):
        shown["merge_form"] = MergeWithForm(auto_id="id_merge_%s")
    return shown


def _back(customer_id, anchor: str):
    response = redirect("admin:customers_customer_change", customer_id)
    response["Location"] += f"#{anchor}"
    return response


def _errors(form: forms.Form) -> str:
    return "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())


def _customer(request, object_id, permission: str) -> Customer:
    if not request.user.has_perm(permission):
        raise PermissionDenied
    return get_object_or_404(Customer.objects.active(), pk=object_id)


@require_POST
def record_consent_view(request, object_id):
    customer = _customer(request, object_id, RECORD_CONSENT)
    form = RecordConsentForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Consent not recorded: {_errors(form)}")
        return _back(customer.pk, "bo-consent")
    data = form.cleaned_data
    with transaction.atomic():
        record_consent(
            customer=customer,
            purpose=data["purpose"],
            state=data["state"],
            method=ConsentRecord.Method.ADMIN,
            wording=data["wording"],
        )
    messages.success(request, f"Recorded: {data['purpose'].name} {data['state']}.")
    return _back(customer.pk, "bo-consent")


@require_POST
def privacy_request_view(request, object_id):
    customer = _customer(request, object_id, START_REQUEST)
    form = PrivacyRequestForm(request.POST, customer=customer)
    if not form.is_valid():
        messages.error(request, f"No request filed: {_errors(form)}")
        return _back(customer.pk, "bo-actions")
    try:
        filed = create_request(
            type=form.cleaned_data["type"],
            identifier=form.cleaned_data["identifier"],
            handled_by=request.user,
        )
    except PrivacyRequestError as error:
        messages.error(request, f"No request filed: {error.message}")
        return _back(customer.pk, "bo-actions")
    messages.success(
        request, f"{filed.get_type_display()} request #{filed.pk} filed; it runs in the background."
    )
    return _back(customer.pk, "bo-actions")


@require_POST
def add_to_segment_view(request, object_id):
    customer = _customer(request, object_id, ADD_TO_SEGMENT)
    form = AddToSegmentForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Not added: {_errors(form)}")
        return _back(customer.pk, "bo-segments")
    segment = form.cleaned_data["segment"]
    with transaction.atomic():
        entered = add_to_static_segment(segment=segment, customer_ids=[customer.pk])
    text = "Added to" if entered else "Already in"
    messages.success(request, f"{text} {segment.name}.")
    return _back(customer.pk, "bo-segments")
