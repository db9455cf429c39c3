"""Reading and validating Segment-spec tracking calls.

Two layers of errors, each with a stable code:

- ``RequestRejected``: the body as a whole cannot be used (too big, broken
  gzip, not JSON, not an object…); the API answers with its HTTP status.
- ``InvalidMessage``: one call is invalid; in a batch the others still go
  through and this one is reported and recorded.

Input limits (see SECURITY.md): ``NaN``/``Infinity`` are not JSON and
refuse the body; a number outside the IEEE double range (``1e999``, a
400-digit integer), a lone surrogate or a NUL character refuses its call
only; times must fall in the years 1900 to 2200; identifiers are strings or
integers, checked in the text form the pipeline will read back from storage.

``prepare_call`` checks a raw call and returns the payload to store;
``normalize_call`` turns a stored payload into the ``NormalizedMessage`` the
pipeline runs on. Both are pure functions: the same payload and receive time
always give the same message, so intake, processing and replay agree.
"""

from __future__ import annotations

import json
import math
import re
import sys
import uuid
import zlib
from datetime import UTC, datetime

from core.errors import DomainError
from customers.services.normalize import is_junk_identifier
from sources.contracts import NormalizedMessage

MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_BATCH_MESSAGES = 2500
MAX_DEPTH = 32
CALL_TYPES = ("identify", "track", "page", "screen", "group", "alias")
_STRING_FIELDS = ("event", "name", "category")
_OBJECT_FIELDS = ("traits", "properties", "context", "integrations")
MAX_IDENTIFIER_LENGTH = 255
# Times outside these years are refused (no client has a reason to send them,
# and they overflow date arithmetic near years 1 and 9999).
MIN_YEAR, MAX_YEAR = 1900, 2200
_EARLIEST = datetime(MIN_YEAR, 1, 1, tzinfo=UTC)
_LATEST = datetime(MAX_YEAR + 1, 1, 1, tzinfo=UTC)
_LARGEST_NUMBER = int(sys.float_info.max)
# an escaped NUL in serialized JSON (an escaped backslash before "u0000" is not one)
_ESCAPED_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
_SURROGATES = re.compile("[\ud800-\udfff]")
_WRITE_KEY_IN_TEXT = re.compile(r'("writeKey"\s*:\s*)"(?:[^"\\]|\\.)*"')


class RequestRejected(DomainError):
    """The whole request is refused, with the HTTP ``status`` the tracking API answers."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(code, message)
        self.status = status


class InvalidMessage(DomainError):
    """One message is refused (``field`` names the offending part)."""


def decode_body(*, body: bytes, content_encoding: str, limit: int) -> bytes:
    """The body, inflated if gzipped, never more than ``limit`` bytes."""
    if len(body) > limit:
        raise RequestRejected("body_too_large", f"body is larger than {limit} bytes", 413)
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise RequestRejected(
            "unsupported_encoding", f"Content-Encoding {content_encoding!r} is not supported", 415
        )
    # wbits 47 accepts gzip and zlib headers; max_length stops a bomb early.
    inflater = zlib.decompressobj(wbits=47)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error:
        raise RequestRejected("invalid_gzip", "body is not valid gzip data") from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise RequestRejected(
            "body_too_large", f"body inflates to more than {limit} bytes", 413
        ) from None
    if not inflater.eof:
        raise RequestRejected("invalid_gzip", "gzip data is truncated")
    return data


def load_object(raw: bytes) -> dict:
    """Parse a JSON object from UTF-8 bytes, refusing absurd nesting.

    ``NaN`` and ``Infinity`` are not JSON: the body is refused. Numbers beyond
    the double range are read as infinity, which ``prepare_call`` refuses for
    the call that holds them (a batch's other calls still go through).
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestRejected("invalid_encoding", "body is not UTF-8") from None
    try:
        data = strict_json_loads(text)
    except RecursionError:
        raise RequestRejected("too_deep", f"JSON is nested deeper than {MAX_DEPTH}") from None
    except ValueError as error:
        raise RequestRejected("invalid_json", f"body is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise RequestRejected("not_an_object", "body must be a JSON object")
    if _too_deep(data):
        raise RequestRejected("too_deep", f"JSON is nested deeper than {MAX_DEPTH}")
    return data


def strict_json_loads(text: str) -> object:
    """``json.loads`` for untrusted text: ``NaN``/``Infinity`` raise ValueError;
    integers beyond the double range come back as infinity, for
    ``storable_json`` to refuse where they are. Deep nesting raises
    RecursionError."""
    return json.loads(text, parse_constant=_refuse_constant, parse_int=_bounded_int)


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _bounded_int(text: str) -> int | float:
    """An integer literal; infinity when it is beyond the double range.

    (Also keeps Python's 4,300-digit conversion limit from refusing the
    whole body.)
    """
    if len(text) > 310:
        return math.inf
    value = int(text)
    return value if abs(value) <= _LARGEST_NUMBER else math.inf


def _too_deep(data: object) -> bool:
    level = [data]
    for _ in range(MAX_DEPTH):
        nested = []
        for node in level:
            if isinstance(node, dict):
                nested.extend(v for v in node.values() if isinstance(v, (dict, list)))
            elif isinstance(node, list):
                nested.extend(v for v in node if isinstance(v, (dict, list)))
        if not nested:
            return False
        level = nested
    return True


def batch_calls(body: dict) -> list[object]:
    """The calls of a ``/v1/batch`` body with the batch's own fields merged in.

    Libraries put fields that hold for every call on the batch: Segment's
    Node library its ``sentAt``, others a shared ``context`` or
    ``integrations``. Each call gets them under its own (the call wins; the
    two objects are merged key by key). A batch-level field of the wrong type
    refuses the body; a bad ``sentAt`` string refuses each call it reaches.
    """
    calls = body.get("batch")
    if not isinstance(calls, list):
        raise RequestRejected("invalid_batch", "batch must be a list of calls")
    if len(calls) > MAX_BATCH_MESSAGES:
        raise RequestRejected(
            "too_many_messages", f"a batch holds at most {MAX_BATCH_MESSAGES} calls", 413
        )
    shared: dict[str, object] = {}
    for key in ("context", "integrations"):
        if body.get(key) is not None:
            if not isinstance(body[key], dict):
                raise RequestRejected("invalid_batch", f"the batch's {key} must be an object")
            shared[key] = body[key]
    if body.get("sentAt") is not None:
        shared["sentAt"] = body["sentAt"]
    if not shared:
        return calls
    try:
        shared_size = len(storable_json(shared))
    except InvalidMessage as error:
        raise RequestRejected(error.code, f"the batch's fields: {error.message}") from None
    if shared_size > MAX_MESSAGE_BYTES:
        # every call would inherit it and be refused; checked once, not per call
        raise RequestRejected(
            "message_too_large",
            f"the batch's shared fields are larger than a call may be ({MAX_MESSAGE_BYTES} bytes)",
            413,
        )
    merged: list[object] = []
    for call in calls:
        if isinstance(call, dict):
            call = dict(call)
            for key, value in shared.items():
                own = call.get(key)
                if isinstance(value, dict):
                    call[key] = {**value, **own} if isinstance(own, dict) else own or dict(value)
                elif own is None:
                    call[key] = value
        merged.append(call)
    return merged


def prepare_call(call: object, *, call_type: str | None, ip: str) -> dict:
    """Validate one call; the payload to store (type, messageId and ip filled)."""
    if not isinstance(call, dict):
        raise InvalidMessage("invalid_message", "each call must be a JSON object")
    call = dict(call)
    call.pop("writeKey", None)  # a credential, never stored
    kind = call_type or call.get("type")
    if kind not in CALL_TYPES:
        raise InvalidMessage("invalid_type", f"type must be one of {', '.join(CALL_TYPES)}", "type")
    call["type"] = kind
    message_id = call.get("messageId")
    if message_id is None:
        call["messageId"] = str(uuid.uuid4())
    elif not isinstance(message_id, (str, int)) or isinstance(message_id, bool):
        raise InvalidMessage("invalid_message_id", "messageId must be a string", "messageId")
    elif not 0 < len(str(message_id)) <= 200:
        raise InvalidMessage(
            "invalid_message_id", "messageId must be 1 to 200 characters", "messageId"
        )
    else:
        call["messageId"] = str(message_id)
    context = call.get("context")
    if isinstance(context, dict) and ip and not context.get("ip"):
        call["context"] = {**context, "ip": ip}
    elif context is None and ip:
        call["context"] = {"ip": ip}
    if len(storable_json(call)) > MAX_MESSAGE_BYTES:
        raise InvalidMessage(
            "message_too_large", f"a call must be at most {MAX_MESSAGE_BYTES} bytes"
        )
    # Validates everything the pipeline will rely on, so it cannot fail later.
    normalize_call(call, source_id=0, received_at=datetime.now(UTC))
    return call


def storable_json(value: object) -> bytes:
    """``value`` as the UTF-8 JSON that will be stored; InvalidMessage (with the
    path of the offending item as its field) if no database could store it.

    One serialization finds all three: a non-finite number (``allow_nan``),
    a lone surrogate (UTF-8 encoding), a NUL character. The REST API's JSON
    parser applies the same rule to every body.
    """
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        data = text.encode("utf-8")
    except ValueError:  # UnicodeEncodeError is a ValueError too
        raise _unstorable_value(value) from None
    if _ESCAPED_NUL.search(text):
        raise _unstorable_value(value)
    return data


def _unstorable_value(value: object) -> InvalidMessage:
    path, problem = _unstorable(value, "")
    code, message = problem or _NOT_FINITE
    return InvalidMessage(code, message, path.lstrip(".")[:200])


_NOT_FINITE = ("number_out_of_range", "numbers must be finite and within the double range")
_SURROGATE = ("invalid_string", "strings must be valid Unicode (no lone surrogates)")
_NUL = ("invalid_character", "strings must not contain \\u0000")


def _string_problem(text: str) -> tuple[str, str] | None:
    if "\x00" in text:
        return _NUL
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE
    return None


def _unstorable(value: object, path: str) -> tuple[str, tuple[str, str] | None]:
    """Where in ``value`` the first unstorable item is, and why (only called
    once serialization failed; nesting is bounded by ``MAX_DEPTH``)."""
    if isinstance(value, float) and not math.isfinite(value):
        return path, _NOT_FINITE
    if isinstance(value, str):
        return path, _string_problem(value)
    if isinstance(value, dict):
        for key, item in value.items():
            if problem := _string_problem(key):
                return f"{path}.{storable(key)}", problem
            found = _unstorable(item, f"{path}.{storable(key)}")
            if found[1]:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _unstorable(item, f"{path}[{index}]")
            if found[1]:
                return found
    return path, None


def storable(value: object) -> object:
    """A copy of a refused call that any database can keep for the record:
    bad strings mended (U+FFFD), non-finite numbers as text, no write key."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        if _string_problem(value) is None:
            return value
        return _SURROGATES.sub("\ufffd", value).replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [storable(item) for item in value]
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items() if k != "writeKey"}
    return value


def without_write_key(text: str) -> str:
    """Raw body text with any ``"writeKey": "…"`` value blanked."""
    return _WRITE_KEY_IN_TEXT.sub(r'\1"[removed]"', text)


def normalize_call(payload: dict, *, source_id: int, received_at: datetime) -> NormalizedMessage:
    """The pipeline's view of a stored call (clock skew corrected)."""
    kind = payload["type"]
    for name in _OBJECT_FIELDS:
        if payload.get(name) is not None and not isinstance(payload[name], dict):
            raise InvalidMessage("invalid_field", f"{name} must be an object", name)
    for name in _STRING_FIELDS:
        if payload.get(name) is not None and not isinstance(payload[name], str):
            raise InvalidMessage("invalid_field", f"{name} must be a string", name)
    user_id = _identifier(payload, "userId")
    anonymous_id = _identifier(payload, "anonymousId")
    previous_id = _identifier(payload, "previousId")
    group_id = _identifier(payload, "groupId")
    if kind == "alias":
        if not (_usable(previous_id) and _usable(user_id)):
            raise InvalidMessage(
                "missing_identifier", "alias needs a usable previousId and userId", "previousId"
            )
    elif not (_usable(user_id) or _usable(anonymous_id)):
        raise InvalidMessage(
            "missing_identifier", "a usable userId or anonymousId is required", "userId"
        )
    if kind == "track" and not payload.get("event"):
        raise InvalidMessage("missing_event", "track needs an event name", "event")
    if kind == "group" and not _usable(group_id):
        raise InvalidMessage("missing_group_id", "group needs a usable groupId", "groupId")
    context = payload.get("context") or {}
    for name in ("traits", "externalIds"):
        if context.get(name) is not None and not isinstance(
            context[name], dict if name == "traits" else list
        ):
            raise InvalidMessage("invalid_field", f"context.{name} has the wrong type", name)
    original, timestamp, sent_at = event_times(payload, received_at=received_at)
    name = payload.get("event") or payload.get("name") or ""
    return NormalizedMessage(
        source_id=source_id,
        message_id=payload["messageId"],
        type=kind,
        timestamp=timestamp,
        received_at=received_at,
        user_id=user_id,
        anonymous_id=anonymous_id,
        event=name[:200],
        traits=_traits(kind, payload.get("traits") or {}, context),
        properties=payload.get("properties") or {},
        context=context,
        integrations=payload.get("integrations") or {},
        previous_id=previous_id,
        group_id=group_id,
        external_ids=_external_ids(context),
        sent_at=sent_at,
        original_timestamp=original,
    )


def event_times(
    payload: dict, *, received_at: datetime
) -> tuple[datetime | None, datetime, datetime | None]:
    """(the client's own time, the event time, ``sentAt``) of a call.

    Two library families say "when" differently:

    - RudderStack's libraries always send ``originalTimestamp`` (their clock
      at the call); a ``timestamp`` next to it is one the caller set, and is
      kept exactly as sent.
    - Segment's libraries send only ``timestamp``, which they fill with their
      clock when the caller set none: it is the client's time.

    The client's time is corrected for clock skew with ``sentAt`` (the call's,
    or the batch's merged in by ``batch_calls``): ``receivedAt - (sentAt -
    client time)``. With no client time the event happened when received.
    """
    stated = _time(payload, "timestamp")
    original = _time(payload, "originalTimestamp")
    sent_at = _time(payload, "sentAt")
    if original is not None and stated is not None:
        return original, stated, sent_at
    client_time = original or stated
    corrected = corrected_timestamp(original=client_time, sent_at=sent_at, received_at=received_at)
    return client_time, corrected, sent_at


def _traits(kind: str, traits: dict, context: dict) -> dict:
    """An identify call's traits: RudderStack's libraries put them in
    ``context.traits`` (rudder-sdk-python only there), Segment's in ``traits``;
    both are read, ``traits`` winning key by key. Other calls keep their own
    (``context.traits`` on a track call is the client's cached copy)."""
    shared = context.get("traits")
    if kind != "identify" or not shared:
        return traits
    return {**shared, **traits}


def corrected_timestamp(
    *, original: datetime | None, sent_at: datetime | None, received_at: datetime
) -> datetime:
    """Segment's clock-skew rule: ``receivedAt - (sentAt - originalTimestamp)``.

    Both client times lie within the years 1900 to 2200 (``_time``); a correction
    that would leave that range keeps the client's own timestamp.
    """
    if original is None:
        return received_at
    if sent_at is None:
        return original
    corrected = received_at - (sent_at - original)
    return corrected if _EARLIEST <= corrected < _LATEST else original


def _usable(value: str | None) -> bool:
    return value is not None and not is_junk_identifier(value)


def _identifier(payload: dict, key: str) -> str | None:
    """The identifier as text, None when absent.

    Junk placeholders are kept (the pipeline refuses them as identifiers and
    records a data-quality issue); a call needs at least one usable one.
    """
    value = payload.get(key)
    if value is None:
        return None
    return _identifier_text(value, key)


def _identifier_text(value: object, field: str) -> str:
    """An identifier as the pipeline will read it back from storage.

    Strings and integers only: a float has no stable text (PostgreSQL's jsonb
    gives ``1e308`` back as 309 digits), so it is refused rather than accepted
    and failed later.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidMessage(
            "invalid_field", f"{field} must be a string (or a whole number)", field
        )
    text = str(value).strip()
    if len(text) > MAX_IDENTIFIER_LENGTH:
        raise InvalidMessage(
            "identifier_too_long",
            f"{field} is longer than {MAX_IDENTIFIER_LENGTH} characters",
            field,
        )
    return text


def _time(payload: dict, key: str) -> datetime | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidMessage("invalid_timestamp", f"{key} must be an ISO 8601 string", key)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidMessage("invalid_timestamp", f"{key} is not an ISO 8601 time", key) from None
    # the year first: comparing a year-1 time with an offset could overflow
    if MIN_YEAR <= parsed.year <= MAX_YEAR:
        parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        if _EARLIEST <= parsed < _LATEST:
            return parsed
    raise InvalidMessage(
        "invalid_timestamp", f"{key} must fall in the years {MIN_YEAR} to {MAX_YEAR} (UTC)", key
    )


def _external_ids(context: dict) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in context.get("externalIds") or ():
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("type"), str)
            or len(item["type"]) > 100
        ):
            raise InvalidMessage("invalid_field", "context.externalIds holds bad entries")
        value = item.get("id")
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            pairs.append((item["type"], _identifier_text(value, "context.externalIds.id")))
    return tuple(pairs)
