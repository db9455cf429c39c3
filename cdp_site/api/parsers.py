"""JSON bodies with a size limit (DRF's own parser reads any size)."""

from __future__ import annotations

import io

from django.conf import settings
from rest_framework import parsers

from cdp_site.api.exceptions import PayloadTooLarge


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None:
            body = stream.read(limit + 1)
            if len(body) > limit:
                raise PayloadTooLarge()
            stream = io.BytesIO(body)
        return super().parse(stream, media_type, parser_context)
