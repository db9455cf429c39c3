"""Data-quality issues: record what cleansing could not use."""

from __future__ import annotations

from collections.abc import Iterable

from customers.models import Customer, DataQualityIssue
from customers.services.normalize import Issue

MAX_VALUE_LENGTH = 500


def record_issues(
    *,
    issues: Iterable[Issue],
    customer: Customer | None = None,
    source_id: int | None = None,
) -> list[DataQualityIssue]:
    """Store cleansing issues for a profile and/or a source (one INSERT)."""
    rows = issue_rows(issues=issues, customer=customer, source_id=source_id)
    if rows:
        DataQualityIssue.objects.bulk_create(rows)
    return rows


def issue_rows(
    *,
    issues: Iterable[Issue],
    customer: Customer | None = None,
    source_id: int | None = None,
) -> list[DataQualityIssue]:
    """Unsaved issue rows, for callers that store a batch's issues at once."""
    return [
        DataQualityIssue(
            customer_id=customer.pk if customer is not None else None,
            source_id=source_id,
            field=issue.field[:64],
            value=issue.value[:MAX_VALUE_LENGTH],
            code=issue.code[:64],
            message=issue.message[:300],
        )
        for issue in issues
    ]
