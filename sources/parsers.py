"""JSON bodies with a size limit and the tracking API's input rules.

DRF's own parser reads any size, and lets through what no database stores:
numbers beyond the double range, unpaired surrogates, NUL characters (and a
deeply nested body ends in a RecursionError). Each is a 400 ``parse_error``
here, with the offending path in ``details``.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from core.api.exceptions import ApiError, PayloadTooLarge
from sources.services.parsing import InvalidMessage, storable_json, strict_json_loads


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body = stream.read(limit + 1) if limit is not None else stream.read()
        if limit is not None and len(body) > limit:
            raise PayloadTooLarge()
        try:
            data = strict_json_loads(body.decode("utf-8"))
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply") from None
        except ValueError as exc:  # UnicodeDecodeError included
            raise ParseError(f"JSON parse error - {exc}") from None
        try:
            storable_json(data)
        except InvalidMessage as exc:
            raise ApiError(
                status_code=400, code=exc.code, message=exc.message, details={"field": exc.field}
            ) from None
        return data
