"""``Authorization: Bearer <key>`` with an API key (see accounts.ApiKey)."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from accounts.services.api_keys import authenticate_api_key
from customers.audit import api_key_label, set_request_actor


class ApiKeyAuthentication(BaseAuthentication):
    """Sets ``request.user`` to the key's own account and ``request.auth`` to the key."""

    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header; send 'Bearer <API key>'.", code="invalid_api_key"
            )
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            key = ""
        api_key = authenticate_api_key(key)
        if api_key is None:
            raise exceptions.AuthenticationFailed(
                "Invalid or revoked API key.", code="invalid_api_key"
            )
        set_request_actor(api_key_label(api_key.name))  # the audit trail names the key
        return (api_key.user, api_key)

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key created in the admin or with "
            "`manage.py create_api_key`, sent as `Authorization: Bearer <key>`.",
        }
