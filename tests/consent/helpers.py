"""Build a person through the real pipeline, and scan the database for them."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from sources.contracts import NormalizedMessage
from sources.pipeline import process_message

ANN = {
    "email": "ann.quist@example.com",
    "phone": "+14155550123",
    "user_id": "user-ann-81723",
    "anonymous_id": "anon-ann-55217",
    "first_name": "Annabelle",
    "street": "Quixotic Street 12",
    "colour": "Zinnoberteal",
    "bad_birthday": "notadate-Zq17",  # kept as a data-quality issue
}


def message(source, *, type="identify", event="", traits=None, context=None, **ids):
    now = timezone.now()
    return NormalizedMessage(
        source_id=source.pk,
        message_id=str(uuid.uuid4()),
        type=type,
        timestamp=now - timedelta(seconds=1),
        received_at=now,
        event=event,
        traits=traits or {},
        context=context or {},
        **ids,
    )


def build_ann(source):
    """Ann as the pipeline sees her: an anonymous visit, then an identify, then events."""
    process_message(
        message(source, type="page", anonymous_id=ANN["anonymous_id"], context={"ip": "1.2.3.4"})
    )
    result = process_message(
        message(
            source,
            user_id=ANN["user_id"],
            anonymous_id=ANN["anonymous_id"],
            traits={
                "email": ANN["email"],
                "phone": ANN["phone"],
                "firstName": ANN["first_name"],
                "address": {"street": ANN["street"]},
                "favourite_colour": ANN["colour"],
                "birthday": ANN["bad_birthday"],
            },
        )
    )
    process_message(
        message(
            source,
            type="track",
            event="Order Completed",
            user_id=ANN["user_id"],
            context={"traits": {"email": ANN["email"]}},
        )
    )
    return result.customer


def tables_mentioning(needles: list[str]) -> dict[str, list[str]]:
    """Every table (history, intake, logs included) whose rows contain a needle."""
    lowered = [n.lower() for n in needles]
    found: dict[str, list[str]] = {}
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor, include_views=False):
            cursor.execute(f"SELECT * FROM {quote(table)}")  # noqa: S608 - table names from introspection
            text = "\n".join(repr(row) for row in cursor.fetchall()).lower()
            hits = [n for n in lowered if n in text]
            if hits:
                found[table] = hits
    return found


def media_files_mentioning(root, needles: list[str]) -> dict[str, list[str]]:
    """Every file under MEDIA_ROOT (zip members read, e.g. .xlsx) whose text has a needle."""
    import zipfile
    from pathlib import Path

    lowered = [n.lower() for n in needles]
    found: dict[str, list[str]] = {}
    for path in sorted(p for p in Path(root).rglob("*") if p.is_file()):
        data = path.read_bytes()
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                data = b"".join(archive.read(member) for member in archive.namelist())
        text = data.decode("utf-8", errors="replace").lower()
        hits = [n for n in lowered if n in text]
        if hits:
            found[str(path.relative_to(root))] = hits
    return found
