"""Finding and removing mentions of a person's identifiers in data that is not theirs.

Erasure deletes a person's own rows. Their identifiers can also be written
inside rows that belong to someone else — another customer's event
(``"referred_email": "ann@example.com"``), trait, outbox entry or webhook
payload, a raw call, an uploaded file. ``Mentions`` is the one rule for
recognising them, used by every app's eraser:

* case-insensitive, as a whole token: ``ann@example.com`` is found in
  ``"mailto:Ann@Example.com"`` but not inside ``joann@example.com`` or
  ``ann@example.com.au``, and ``+14155550123`` not inside a longer number;
* only values of at least ``MIN_LENGTH`` characters: a short value such as
  user id ``42`` cannot be told apart from other text, so it is not searched
  for in others' data (the person's own rows are still found by their keys).

A mention is replaced by ``ERASED``; the rest of the row stays.
"""

from __future__ import annotations

import codecs
import json
import re
import zipfile
from collections.abc import Iterable, Iterator
from functools import reduce
from operator import or_
from typing import IO, Any

from django.db import models, transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast

ERASED = "[erased]"
MIN_LENGTH = 6
READ_CHUNK = 1 << 20
UPDATE_BATCH = 500

_BEFORE = r"(?<![\w.%+\-])"  # not inside a longer email, id or number
_AFTER = r"(?![\w\-]|\.\w)"


class Mentions:
    """The identifiers of one person, as they may appear in others' text."""

    def __init__(self, values: Iterable[str]):
        values = {str(v) for v in values if v}
        self.values = tuple(sorted((v for v in values if len(v) >= MIN_LENGTH), key=len))[::-1]
        self.short_values = tuple(sorted(v for v in values if len(v) < MIN_LENGTH))
        self._pattern = (
            re.compile(
                _BEFORE + "(?:" + "|".join(re.escape(v) for v in self.values) + ")" + _AFTER,
                re.IGNORECASE,
            )
            if self.values
            else None
        )
        self.longest = max((len(v) for v in self.values), default=0)

    def __bool__(self) -> bool:
        return bool(self.values)

    # --- text and JSON ----------------------------------------------------

    def found_in(self, text: str, *, complete: bool = True) -> bool:
        """Whether ``text`` mentions a value; with ``complete=False`` a match that
        ends exactly at the end of ``text`` is not trusted (more may follow)."""
        if self._pattern is None or not text:
            return False
        return any(complete or match.end() < len(text) for match in self._pattern.finditer(text))

    def redact_text(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(ERASED, text)

    def redact(self, value: Any) -> Any:
        """A copy of a JSON value (or text) with every mention replaced, keys included."""
        if isinstance(value, str):
            return self.redact_text(value)
        if isinstance(value, list):
            return [self.redact(item) for item in value]
        if isinstance(value, dict):
            return {self.redact_text(key): self.redact(item) for key, item in value.items()}
        return value

    # --- database rows ----------------------------------------------------

    def fragments(self) -> list[str]:
        """Substrings a row's text must contain to possibly mention a value.

        The value as written and as JSON writes it (SQLite keeps JSON
        ASCII-escaped). A superset: ``found_in`` decides.
        """
        found = []
        for value in self.values:
            found.append(value)
            escaped = json.dumps(value)[1:-1]
            if escaped != value:
                found.append(escaped)
        return found

    def candidates(self, queryset: models.QuerySet, fields: Iterable[str]) -> models.QuerySet:
        """Rows whose ``fields`` (text or JSON) may mention a value; none if no value."""
        fields = list(fields)
        fragments = self.fragments()
        if not fragments or not fields:
            return queryset.none()
        annotations = {f"_mention_{name}": Cast(name, TextField()) for name in fields}
        matches = reduce(
            or_,
            (Q(**{f"{alias}__icontains": text}) for alias in annotations for text in fragments),
        )
        return queryset.annotate(**annotations).filter(matches)

    def redact_rows(self, queryset: models.QuerySet, fields: Iterable[str]) -> int:
        """Replace mentions in ``fields`` of the rows of ``queryset``; returns rows changed.

        Written with ``update()``: no history row, no ``auto_now``, no signal
        (the change is the erasure itself). One transaction per batch.
        """
        fields = list(fields)
        model = queryset.model
        limits = {name: model._meta.get_field(name).max_length for name in fields}
        changed = 0
        pks = list(self.candidates(queryset, fields).values_list("pk", flat=True))
        for start in range(0, len(pks), UPDATE_BATCH):
            with transaction.atomic():
                rows = model._base_manager.filter(pk__in=pks[start : start + UPDATE_BATCH])
                for pk, *values in rows.values_list("pk", *fields):
                    updates = {
                        name: redacted[: limits[name]] if limits[name] else redacted
                        for name, value in zip(fields, values, strict=True)
                        if (redacted := self.redact(value)) != value
                    }
                    if updates:
                        model._base_manager.filter(pk=pk).update(**updates)
                        changed += 1
        return changed

    # --- files ------------------------------------------------------------

    def found_in_file(self, handle: IO[bytes]) -> bool:
        """Whether a stored file mentions a value: text in any encoding with a BOM
        (UTF-8 otherwise), or every member of a zip (``.xlsx``, access exports)."""
        if not self:
            return False
        start = handle.read(4)
        handle.seek(0)
        if start.startswith(b"PK\x03\x04"):
            try:
                with zipfile.ZipFile(handle) as archive:
                    return any(
                        self._found_in_stream(archive.open(member))
                        for member in archive.infolist()
                        if not member.is_dir()
                    )
            except zipfile.BadZipFile:
                handle.seek(0)
        return self._found_in_stream(handle)

    def _found_in_stream(self, stream: IO[bytes]) -> bool:
        chunks = _chunks(stream)
        first = next(chunks, b"")
        decoder = codecs.getincrementaldecoder(_encoding(first))(errors="replace")
        carry = ""
        for chunk in _prepend(first, chunks):
            text = carry + decoder.decode(chunk)
            if self.found_in(text, complete=False):
                return True
            # enough to hold an unfinished match and the character before it
            carry = text[-(self.longest + 1) :]
        return self.found_in(carry + decoder.decode(b"", final=True))


def _encoding(start: bytes) -> str:
    for bom, name in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if start.startswith(bom):
            return name
    return "utf-8-sig"


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    while chunk := stream.read(READ_CHUNK):
        yield chunk


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest
