"""OpenAPI generation: every operation documents the error shape and its scopes."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema as BaseAutoSchema

from accounts.api.permissions import HasScope, required_scopes_for
from core.api.errors import ErrorSerializer

_COMMON_ERRORS = {
    "400": "Invalid input.",
    "401": "Missing, invalid or revoked credentials.",
    "403": "The key lacks a required scope (or the person a permission).",
    "404": "Not found.",
    "406": "Only application/json responses are available.",
    "429": "Rate limit exceeded; see Retry-After.",
}
_BODY_ERRORS = {
    "413": "Request body too large.",
    "415": "Unsupported media type.",
}


class AutoSchema(BaseAutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        errors = dict(_COMMON_ERRORS)
        if self.method in {"POST", "PUT", "PATCH"}:
            errors.update(_BODY_ERRORS)
        for code, description in errors.items():
            if code not in responses:
                response = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                response["description"] = description
                responses[code] = response
        return responses

    def get_description(self):
        description = super().get_description() or ""
        if not any(isinstance(p, HasScope) for p in self.view.get_permissions()):
            return description
        scopes = required_scopes_for(self.view, self.method)
        if not scopes:
            return description
        note = f"Required scope(s): `{'`, `'.join(scopes)}`."
        return f"{description}\n\n{note}" if description else note
