"""Durable intake: store what arrived, de-duplicated, then hand it on.

Kept cheap on purpose (the tracking API's hot path): one source look-up
(cached for a few seconds), validation in memory, one INSERT … ON CONFLICT
DO NOTHING for the accepted calls, one for the rejected ones, one task
published per request after commit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction

from consent.services.suppression import suppressed_indexes
from customers.models import Source
from sources import tasks
from sources.models import IntakeMessage, RejectedMessage
from sources.privacy import payload_identifiers
from sources.services.keys import authenticate_write_key
from sources.services.parsing import (
    InvalidMessage,
    RequestRejected,
    prepare_call,
    storable,
    without_write_key,
)

_source_cache: dict[str, tuple[float, Source | None]] = {}


@dataclass
class IntakeReport:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict] = field(default_factory=list)
    intake_ids: list[int] = field(default_factory=list)


def source_for_key(key: str) -> Source:
    """The enabled source of a write key; raises RequestRejected (401) otherwise.

    Answers are cached in the process for ``TRIBUTARY_WRITE_KEY_CACHE_SECONDS``
    so a rotated or disabled key stops working within that time.
    """
    ttl = settings.TRIBUTARY_WRITE_KEY_CACHE_SECONDS
    now = time.monotonic()
    cached = _source_cache.get(key)
    if cached is not None and cached[0] > now:
        source = cached[1]
    else:
        source = authenticate_write_key(key)
        if ttl > 0:
            if len(_source_cache) > 1000:
                _source_cache.clear()
            _source_cache[key] = (now + ttl, source)
    if source is None:
        raise RequestRejected("invalid_write_key", "unknown or disabled write key", 401)
    return source


def remembered_source(key: str) -> Source | None:
    """The enabled source of a key this process checked less than
    ``TRIBUTARY_WRITE_KEY_CACHE_SECONDS`` ago, else None (ask ``source_for_key``)."""
    cached = _source_cache.get(key)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    return None


def accept_calls(
    *,
    source: Source,
    calls: list[object],
    call_type: str | None,
    ip: str,
    received_at: datetime,
) -> IntakeReport:
    """Store the valid calls (once per messageId) and record the invalid ones."""
    report = IntakeReport()
    rows: list[tuple[str, str, dict]] = []
    rejections: list[RejectedMessage] = []
    for index, call in enumerate(calls):
        try:
            payload = prepare_call(call, call_type=call_type, ip=ip)
        except InvalidMessage as error:
            report.rejected.append(
                {"index": index, "code": error.code, "message": error.message, "field": error.field}
            )
            rejections.append(
                RejectedMessage(
                    source=source,
                    code=error.code,
                    reason=error.message,
                    field=error.field,
                    # mended so that any database keeps it; never the write key
                    payload=storable(call if isinstance(call, dict) else {"raw": call}),
                    received_at=received_at,
                )
            )
            continue
        rows.append((payload["messageId"], payload["type"], payload))
    report.accepted = len(rows)
    rows, rejections = _without_erased_people(source=source, rows=rows, rejections=rejections)
    with transaction.atomic():
        report.intake_ids = _insert_new(source=source, rows=rows, received_at=received_at)
        if rejections:
            RejectedMessage.objects.bulk_create(rejections)
        if report.intake_ids:
            ids = report.intake_ids
            transaction.on_commit(lambda: tasks.process_intake.delay(ids))
    report.duplicates = len(rows) - len(report.intake_ids)
    return report


def _without_erased_people(
    *, source: Source, rows: list[tuple[str, str, dict]], rejections: list[RejectedMessage]
) -> tuple[list[tuple[str, str, dict]], list[RejectedMessage]]:
    """Calls naming an erased person are dropped before anything is stored.

    They are counted per source (``consent.SuppressedMessageCount``); the
    client is answered as for any accepted call. One query per request.
    """
    payloads = [payload for _, _, payload in rows] + [r.payload for r in rejections]
    sets = {i: payload_identifiers(payload) for i, payload in enumerate(payloads)}
    dropped = suppressed_indexes(identifier_sets=sets, source_ids=dict.fromkeys(sets, source.pk))
    if not dropped:
        return rows, rejections
    kept_rows = [row for i, row in enumerate(rows) if i not in dropped]
    kept_rejections = [r for i, r in enumerate(rejections, len(rows)) if i not in dropped]
    return kept_rows, kept_rejections


def record_rejected_body(
    *, source: Source, error: RequestRejected, body: bytes, received_at: datetime
) -> RejectedMessage:
    """Keep a trace of a whole request refused for its body (first bytes only,
    any ``writeKey`` value blanked)."""
    text = body[:2048].decode("utf-8", errors="replace")
    return RejectedMessage.objects.create(
        source=source,
        code=error.code,
        reason=error.message,
        payload={"raw": storable(without_write_key(text))},
        received_at=received_at,
    )


def _insert_new(*, source: Source, rows: list[tuple[str, str, dict]], received_at: datetime):
    """INSERT … ON CONFLICT DO NOTHING RETURNING id: the ids of the new rows."""
    if not rows:
        return []
    meta = IntakeMessage._meta
    payload_field = meta.get_field("payload")
    stamp = meta.get_field("received_at").get_db_prep_value(received_at, connection)
    quote = connection.ops.quote_name
    columns = (
        "source_id",
        "message_id",
        "type",
        "payload",
        "received_at",
        "status",
        "attempts",
        "error",
    )
    # identifiers from the model's own metadata; every value is a parameter
    sql_head = f"INSERT INTO {quote(meta.db_table)} ({', '.join(map(quote, columns))}) VALUES "  # noqa: S608
    sql_tail = " ON CONFLICT (source_id, message_id) DO NOTHING RETURNING id"
    ids: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 1000):
            chunk = rows[start : start + 1000]
            params: list[object] = []
            for message_id, kind, payload in chunk:
                params += [
                    source.pk,
                    message_id,
                    kind,
                    payload_field.get_db_prep_value(payload, connection),
                    stamp,
                    IntakeMessage.Status.PENDING,
                    0,
                    "",
                ]
            values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
            cursor.execute(sql_head + values + sql_tail, params)
            ids += [row[0] for row in cursor.fetchall()]
    return ids
