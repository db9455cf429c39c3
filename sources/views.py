"""The Segment-compatible tracking API: ``POST /v1/<call>`` and ``/v1/batch``.

Thin: authenticate, read the body, hand the calls to intake, answer. Every
refusal is JSON ``{"code", "message"}`` with a 4xx status.
"""

from __future__ import annotations

import base64
import binascii

from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from customers.models import Source
from sources.services.intake import accept_calls, record_rejected_body, source_for_key
from sources.services.parsing import (
    MAX_BATCH_BYTES,
    MAX_MESSAGE_BYTES,
    RequestRejected,
    batch_calls,
    decode_body,
    load_object,
)


@csrf_exempt
def tracking_call(request: HttpRequest, call_type: str | None = None) -> JsonResponse:
    """One call of ``call_type``, or a batch when ``call_type`` is None."""
    if request.method != "POST":
        return _error(RequestRejected("method_not_allowed", "use POST", 405))
    received_at = timezone.now()
    limit = MAX_BATCH_BYTES if call_type is None else MAX_MESSAGE_BYTES
    source: Source | None = None
    body = b""
    try:
        # the header's key is checked before the body is read: a client without
        # a valid key cannot make the server wait for (or store) its body
        key = basic_auth_key(request.headers.get("Authorization", ""))
        source = source_for_key(key) if key is not None else None
        if _content_length(request) > limit:
            raise RequestRejected("body_too_large", f"body is larger than {limit} bytes", 413)
        body = request.body
        data = load_object(
            decode_body(
                body=body,
                content_encoding=request.headers.get("Content-Encoding", ""),
                limit=limit,
            )
        )
        if source is None:
            write_key = data.get("writeKey")
            source = source_for_key(write_key if isinstance(write_key, str) else "")
        calls = batch_calls(data) if call_type is None else [data]
        report = accept_calls(
            source=source,
            calls=calls,
            call_type=call_type,
            ip=request.META.get("REMOTE_ADDR", ""),
            received_at=received_at,
        )
    except RequestRejected as error:
        if source is not None:
            record_rejected_body(source=source, error=error, body=body, received_at=received_at)
        return _error(error)
    if call_type is not None and report.rejected:
        rejection = report.rejected[0]
        return JsonResponse(
            {k: rejection[k] for k in ("code", "message", "field") if rejection[k]}, status=400
        )
    if report.rejected and not report.accepted:
        return JsonResponse(
            {
                "code": "no_valid_calls",
                "message": "no call in the batch is valid",
                "rejected": report.rejected,
            },
            status=400,
        )
    answer: dict[str, object] = {"success": True}
    if call_type is None:
        answer.update(
            accepted=report.accepted, duplicates=report.duplicates, rejected=report.rejected
        )
    return JsonResponse(answer)


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise RequestRejected("invalid_content_length", "Content-Length is not a number") from None


def basic_auth_key(header: str) -> str | None:
    """The write key from an ``Authorization: Basic`` header (user name, empty password)."""
    if not header:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        raise RequestRejected("invalid_write_key", "use HTTP Basic with the write key", 401)
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise RequestRejected("invalid_write_key", "malformed Authorization header", 401) from None
    return decoded.partition(":")[0]


def _error(error: RequestRejected) -> JsonResponse:
    return JsonResponse({"code": error.code, "message": error.message}, status=error.status)
