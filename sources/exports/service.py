"""Export customer lists and events to CSV or XLSX, escaped against formula injection.

``export_customers(customers=…, purpose=…)`` takes the customers to export (a
queryset from the admin's filters, a segment's members …) and the purpose
the file is for, keeps only the customers that purpose may use
(``consent.selectors.allowed_q``), records the export with its purpose
(``ExportRecord``, the audit trail), and returns an ``ExportFile`` whose
content is produced while it is streamed: rows are read in chunks, never all
at once. Every way out (admin actions, the segment page, the REST API)
calls these two functions.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from accounts.masking import can_see_contact_details, redact_text
from accounts.permissions import require_permissions
from consent.models import Purpose
from consent.selectors import allowed_q
from consent.services.consent import get_purpose
from core.errors import DomainError
from customers.models import Customer, Event, Identity
from segments.models import Segment, SegmentMembership
from sources.exports.escaping import escape_formula
from sources.models import ExportRecord
from sources.resources import CustomerResource, EventResource

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
CHUNK = 2000


class UnknownFormat(DomainError, ValueError):
    def __init__(self, message: str) -> None:
        super().__init__("unknown_format", message, "format")


@dataclass(frozen=True)
class ExportFile:
    filename: str
    content_type: str
    chunks: Iterator[bytes]


def export_customers(
    *,
    customers: QuerySet[Customer],
    file_format: str,
    purpose: Purpose | str,
    mask_contact_details: bool = False,
    actor=None,
    what: str = ExportRecord.What.CUSTOMERS,
    detail: str = "",
) -> ExportFile:
    """The customers ``purpose`` may use, as a file: core fields, traits, identifiers.

    ``mask_contact_details`` masks every email and phone number in the file;
    a person as ``actor`` needs ``customers.view_customer``, and gets masked
    files without ``accounts.view_contact_details``. ``what`` and ``detail``
    describe the list in the audit trail. Raises ``UnknownPurpose``."""
    require_permissions(actor, "customers.view_customer", what="export customers")
    purpose = get_purpose(purpose)
    identities = Prefetch("identities", queryset=Identity.objects.select_related("type"))
    allowed = customers.filter(allowed_q(purpose))
    mask = mask_contact_details or not _sees_contact_details(actor)
    _check_format(file_format)
    _record(purpose, what, detail, file_format, rows=allowed.count(), masked=mask)
    rows = allowed.prefetch_related(identities).order_by("pk").iterator(chunk_size=CHUNK)
    return _export(CustomerResource(), rows, file_format=file_format, name="customers", mask=mask)


def segment_members(segments: Iterable[Segment]) -> QuerySet[Customer]:
    """The customers currently in any of ``segments``."""
    current = SegmentMembership.objects.filter(segment__in=segments, exited_at__isnull=True)
    return Customer.objects.filter(pk__in=current.values("customer_id"))


def export_segment_members(
    *, segments: Iterable[Segment], file_format: str, purpose: Purpose | str, actor=None
) -> ExportFile:
    """The current members of ``segments`` that ``purpose`` may use (the segment
    page, the segment list's action, the REST API); a person as ``actor`` also
    needs ``segments.view_segment``."""
    require_permissions(actor, "segments.view_segment", what="export segment members")
    segments = list(segments)
    return export_customers(
        customers=segment_members(segments),
        file_format=file_format,
        purpose=purpose,
        actor=actor,
        what=ExportRecord.What.SEGMENT_MEMBERS,
        detail=", ".join(f"#{s.pk} {s.name}" for s in segments),
    )


def export_events(
    *,
    events: QuerySet[Event],
    file_format: str,
    purpose: Purpose | str,
    mask_contact_details: bool = False,
    actor=None,
    detail: str = "",
) -> ExportFile:
    """The events of customers ``purpose`` may use, as a file (``actor``,
    masking and the audit trail as for ``export_customers``)."""
    require_permissions(actor, "customers.view_event", what="export events")
    purpose = get_purpose(purpose)
    allowed = events.filter(allowed_q(purpose, prefix="customer__"))
    mask = mask_contact_details or not _sees_contact_details(actor)
    _check_format(file_format)
    what = ExportRecord.What.EVENTS
    _record(purpose, what, detail, file_format, rows=allowed.count(), masked=mask)
    rows = allowed.select_related("source").order_by("pk").iterator(chunk_size=CHUNK)
    return _export(EventResource(), rows, file_format=file_format, name="events", mask=mask)


def _sees_contact_details(actor) -> bool:
    return actor is None or can_see_contact_details(actor)


def _check_format(file_format: str) -> None:
    if file_format not in FORMATS:
        raise UnknownFormat(f"{file_format!r}: use csv or xlsx")


def _record(purpose: Purpose, what: str, detail: str, file_format: str, *, rows: int, masked: bool):
    """The audit trail: who (the current actor) exported what, for which purpose."""
    ExportRecord.objects.create(
        purpose=purpose,
        what=what,
        detail=detail[:300],
        file_format=file_format,
        rows=rows,
        masked=masked,
    )


def _export(
    resource, objects: Iterable, *, file_format: str, name: str, mask: bool = False
) -> ExportFile:
    _check_format(file_format)
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    rows = _rows(resource, objects)
    if mask:
        rows = _masked(rows)
    chunks = _csv_chunks(rows) if file_format == "csv" else _xlsx_chunks(rows)
    return ExportFile(f"{name}-{stamp}.{file_format}", FORMATS[file_format], chunks)


def _rows(resource, objects: Iterable) -> Iterator[list]:
    yield resource.get_export_headers()
    for obj in objects:
        yield [escape_formula(_cell(v)) for v in resource.export_resource(obj)]


def _masked(rows: Iterator[list]) -> Iterator[list]:
    yield next(rows)  # headers
    for row in rows:
        yield [redact_text(v) if isinstance(v, str) else v for v in row]


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _csv_chunks(rows: Iterator[list]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    yield "\ufeff".encode()  # so Excel reads the file as UTF-8
    for row in rows:
        writer.writerow(row)
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def _xlsx_chunks(rows: Iterator[list]) -> Iterator[bytes]:
    # imported here: openpyxl takes ~0.3-1 s to import and only Excel exports need it
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    for row in rows:
        sheet.append(row)
    with tempfile.TemporaryFile() as handle:
        workbook.save(handle)
        handle.seek(0)
        while chunk := handle.read(64 * 1024):
            yield chunk
