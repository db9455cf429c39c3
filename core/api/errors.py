"""One error shape for the whole API: ``{"code", "message", "details"}``.

Views raise DRF exceptions or those in ``core.api.exceptions``, and services
raise ``core.errors.DomainError``; ``exception_handler`` (set in
REST_FRAMEWORK) turns each into that shape. ``not_found`` and
``server_error`` give the same shape to requests under ``/api/`` that never
reach a DRF view.
"""

from __future__ import annotations

import math

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, serializers
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from core.api.exceptions import ApiError, PayloadTooLarge
from core.errors import DomainError

# The HTTP status of each kind of domain error.
DOMAIN_STATUS = {"invalid": 400, "forbidden": 403, "not_found": 404, "conflict": 409}


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable error code.")
    message = serializers.CharField(help_text="What went wrong, for people.")
    details = serializers.DictField(help_text="Per-field errors or extra context.")

    class Meta:
        ref_name = "Error"


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    return {"code": code, "message": message, "details": details or {}}


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        for key, value in detail.items():
            inner = _first_message(value)
            return inner if key == "non_field_errors" else f"{key}: {inner}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def _describe(exc: exceptions.APIException) -> dict:
    if isinstance(exc, ApiError):
        return error_body(exc.code, str(exc.detail), exc.details)
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return error_body("invalid", _first_message(detail), detail)
    if isinstance(exc, exceptions.Throttled):
        wait = math.ceil(exc.wait or 0)
        return error_body(
            "throttled", f"Too many requests; retry in {wait} s.", {"retry_after": wait}
        )
    codes = exc.get_codes()
    if isinstance(codes, str):
        return error_body(codes, str(exc.detail))
    return error_body(exc.default_code, str(exc.default_detail), exc.detail)


def from_domain_error(exc: DomainError) -> ApiError:
    return ApiError(
        status_code=DOMAIN_STATUS.get(exc.kind, 400),
        code=exc.code,
        message=exc.message,
        details={"field": exc.field} if exc.field else {},
    )


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        exc = from_domain_error(exc)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=as_serializer_error(exc))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a bug, not bad input: Django logs it and answers 500
    response.data = _describe(exc)
    if isinstance(exc, exceptions.Throttled):
        response.headers["Retry-After"] = str(response.data["details"]["retry_after"])
    return response


@csrf_exempt
def not_found(request, *args, **kwargs):
    """Any path under /api/ that no endpoint matched."""
    return JsonResponse(error_body("not_found", f"No API endpoint at {request.path}."), status=404)


def page_not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return not_found(request)
    return defaults.page_not_found(request, exception)


def bad_request(request, exception=None):
    """A request Django refuses before any view (too many parameters, a
    suspicious header): JSON on the APIs, as every other refusal there."""
    message = "The request is malformed (too many parameters, or a value that cannot be read)."
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("bad_request", message), status=400)
    if request.path.startswith("/v1/"):  # the tracking API's shape
        return JsonResponse({"code": "bad_request", "message": message}, status=400)
    return defaults.bad_request(request, exception)


def server_error(request):
    if request.path.startswith("/api/"):
        return JsonResponse(
            error_body("server_error", "Internal server error; it has been logged."), status=500
        )
    return defaults.server_error(request)
