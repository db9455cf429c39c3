"""Exceptions views raise; ``core.api.errors`` renders them as JSON errors."""

from __future__ import annotations

from rest_framework import exceptions, status


class ApiError(exceptions.APIException):
    """An error with an explicit status, stable code, message and details."""

    def __init__(
        self, *, status_code: int, code: str, message: str, details: dict | None = None
    ) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.code = code
        self.details = details or {}


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"
