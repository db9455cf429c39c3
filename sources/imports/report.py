"""The row-level error report of a job, as CSV lines (streamed, never built in memory)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from accounts.masking import redact_text
from sources.exports.escaping import escape_formula
from sources.imports.layouts import detect_layout
from sources.imports.plan import sample_values
from sources.imports.reading import ImportFileError, open_table
from sources.models import ImportJob

REPORT_HEADER = ("row", "column", "value", "severity", "code", "reason")


def report_lines(job: ImportJob, *, mask_contact_details: bool = False) -> Iterator[str]:
    """``mask_contact_details``: emails and phone numbers in values and reasons
    masked (for people without ``accounts.view_contact_details``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(REPORT_HEADER)
    rows = job.issues.order_by("row", "id").values_list(*REPORT_HEADER).iterator(chunk_size=2000)
    for row in rows:
        if mask_contact_details:
            row = [redact_text(cell) if isinstance(cell, str) else cell for cell in row]
        writer.writerow([escape_formula(cell) for cell in row])
        if buffer.tell() > 32 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def summary_lines(job: ImportJob) -> list[str]:
    """The human summary printed by the command and shown in the admin."""
    label = "Preview (nothing written)" if job.dry_run else "Import"
    lines = [
        f"{label} of {job.original_name} into source {job.source.name!r}: {job.status}",
        f"  rows:      {job.rows_done} of {job.rows_total}",
        f"  new:       {job.rows_new}",
        f"  updated:   {job.rows_updated}",
        f"  merged:    {job.rows_merged}",
        f"  unchanged: {job.rows_unchanged}",
        f"  invalid:   {job.rows_invalid}",
        f"  with warnings (a value left out): {job.rows_with_warnings}",
        f"  joined through a less trusted identifier only: {job.rows_joined_weakly}"
        + (" (listed in the row report: check them)" if job.rows_joined_weakly else ""),
    ]
    if job.error:
        lines.append(f"  error: {job.error}")
    return lines


def mapping_lines(job: ImportJob, *, with_values: bool = True) -> list[str]:
    """The mapping a job uses, one column a line: target (with how its values
    are read, when the latest run decided it) and, ``with_values``, the
    column's first two values (personal data: not for people who may not
    see contact details)."""
    layout = detect_layout(job.headers, kind=job.kind)
    lines = [f"Columns (recognised layout: {layout.name}):" if layout else "Columns:"]
    if job.event_name:
        lines.append(f"  every row's event: {job.event_name}")
    samples = column_samples(job) if with_values else {}
    for column in job.headers:  # the file's order (a JSON column may not keep the mapping's)
        target = job.mapping.get(column, "")
        note = job.column_types.get(column, "")
        shown = f"{target} ({note})" if note and target != "ignore" else target
        if not with_values:
            lines.append(f"  {column} → {shown}")
            continue
        values = " | ".join(s.replace("\n", " ⏎ ") for s in samples.get(column, []))
        lines.append(f"  {column} → {shown}: {values or '(empty)'}")
    return lines


def column_samples(job: ImportJob) -> dict[str, list[str]]:
    """The first two values of each column of the job's file ({} when the
    file is not on local storage)."""
    try:
        path = job.file.path
    except NotImplementedError:
        return {}
    try:
        table = open_table(path, job.format)
    except ImportFileError:
        return {}
    return sample_values(table.rows())
