"""``Authorization: Bearer <key>`` with an API key (see accounts.ApiKey), and
``Authorization: Token <key>`` with a person's sign-in token (accounts.AuthToken)."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions, serializers
from rest_framework.authentication import (
    BaseAuthentication,
    TokenAuthentication,
    get_authorization_header,
)

from accounts.services.api_keys import authenticate_api_key
from accounts.services.auth_tokens import IssuedToken, authenticate_token, issue_token
from core.audit import api_key_label, set_request_actor


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


class AuthTokenAuthentication(TokenAuthentication):
    """DRF's token scheme over ``accounts.AuthToken``: the key is looked up by its digest."""

    def authenticate_credentials(self, key):
        token = authenticate_token(key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return (token.user, token)


def issue_login_token(token_model, user, serializer) -> IssuedToken:
    """dj-rest-auth's ``TOKEN_CREATOR``: every sign-in gets a token of its own."""
    return issue_token(user=user)


class LoginTokenSerializer(serializers.Serializer):
    """dj-rest-auth's ``TOKEN_SERIALIZER``: the login response carries the key, once."""

    key = serializers.CharField(read_only=True)
