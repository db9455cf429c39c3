"""Contact details in API answers and lookups, for people who may not see them.

A person signed in by session or token without
``accounts.view_contact_details`` (the Viewer role) gets every text field of
every answer masked (``MaskedSerializer``), and may not look profiles up or
filter them by an email or phone number (``NoContactLookups``, in
``REST_FRAMEWORK``'s permission classes). API keys are governed by their
scopes alone. The rules themselves are ``accounts.masking``.
"""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.permissions import BasePermission

from accounts.masking import (
    can_see_contact_details,
    is_contact_key,
    is_contact_lookup,
    looks_like_contact,
    mask_field,
    redact_data,
)
from accounts.models import ApiKey
from core.api.exceptions import ApiError

# Query parameters that search or filter by a value a viewer could guess.
LOOKUP_PARAMETERS = ("q", "identifier", "email", "phone")


def masks_contact_details(request) -> bool:
    if request is None or isinstance(request.auth, ApiKey):
        return False
    return not can_see_contact_details(request.user)


class MaskedSerializer(serializers.Serializer):
    """Mixed into every serializer that answers with people's data."""

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not masks_contact_details(self.context.get("request")):
            return data
        for name, field in self.fields.items():
            if name not in data or data[name] in (None, ""):
                continue
            if isinstance(field, serializers.CharField | serializers.EmailField):
                data[name] = mask_field(name, data[name])
            elif isinstance(
                field, serializers.JSONField | serializers.DictField | serializers.ListField
            ):
                data[name] = redact_data(data[name])
        return data


class NoContactLookups(BasePermission):
    """403 ``contact_lookup_forbidden`` for a person who may not see contact
    details and addresses a profile by email or phone
    (``profiles/email:…/``), searches by one (``?q=``), or filters on a
    trait named like one or holding one (``?trait=mobile:…``)."""

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return True  # HasScope answers 401
        if not masks_contact_details(request):
            return True
        for key, value in _lookups(request, view):
            if key == "trait":
                name, _, wanted = value.partition(":")
                refused = is_contact_key(name) or looks_like_contact(wanted)
            else:
                refused = is_contact_lookup(value)
            if refused:
                raise ApiError(
                    status_code=403,
                    code="contact_lookup_forbidden",
                    message="Your role may not look profiles up by email address or phone "
                    "number (the answer would reveal what is masked).",
                    details={"parameter": key},
                )
        return True


def _lookups(request, view):
    if isinstance(view.kwargs.get("identifier"), str):  # profiles/<type>:<value>/
        yield "identifier", view.kwargs["identifier"]
    for key in (*LOOKUP_PARAMETERS, "trait"):
        for value in request.query_params.getlist(key):
            yield key, value
    if request.method == "POST":  # profiles/lookup/ takes it in the body
        data = request.data
        if isinstance(data, dict) and isinstance(data.get("identifier"), str):
            yield "identifier", data["identifier"]
