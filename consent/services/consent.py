"""Recording consent: the one write path for consent records and current state."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from consent.models import ConsentRecord, ConsentState, ConsentStateChoices, Purpose
from customers.models import Customer


class UnknownPurpose(Exception):
    code = "unknown_purpose"

    def __init__(self, code: str):
        super().__init__(f"no active purpose with code {code!r}")
        self.purpose_code = code


def get_purpose(purpose: Purpose | str) -> Purpose:
    if isinstance(purpose, Purpose):
        return purpose
    try:
        return Purpose.objects.get(code=purpose, is_active=True)
    except Purpose.DoesNotExist:
        raise UnknownPurpose(purpose) from None


@transaction.atomic
def record_consent(
    *,
    customer: Customer,
    purpose: Purpose | str,
    state: str,
    method: str,
    occurred_at: datetime | None = None,
    source_id: int | None = None,
    ip_address: str | None = None,
    user_agent: str = "",
    wording: str = "",
    wording_version: str = "",
) -> ConsentRecord:
    """Store one consent statement and move the current state if it is the latest.

    A statement older than the one the current state rests on is kept in the
    history but does not change the state, so late messages cannot roll
    consent back.
    """
    if state not in ConsentStateChoices.values:
        raise ValueError(f"{state!r} is not a consent state")
    if method not in ConsentRecord.Method.values:
        raise ValueError(f"{method!r} is not a consent method")
    purpose = get_purpose(purpose)
    record = ConsentRecord.objects.create(
        customer=customer,
        purpose=purpose,
        state=state,
        method=method,
        source_id=source_id,
        occurred_at=occurred_at or timezone.now(),
        ip_address=_valid_ip(ip_address),
        user_agent=(user_agent or "")[:500],
        wording=wording or "",
        wording_version=(wording_version or "")[:64],
    )
    current = (
        ConsentState.objects.select_for_update().filter(customer=customer, purpose=purpose).first()
    )
    if current is None:
        ConsentState.objects.create(
            customer=customer,
            purpose=purpose,
            state=state,
            record=record,
            occurred_at=record.occurred_at,
        )
    elif record.occurred_at >= current.occurred_at:
        current.state = state
        current.record = record
        current.occurred_at = record.occurred_at
        current.save(update_fields=["state", "record", "occurred_at"])
    return record


def _valid_ip(text: str | None) -> str | None:
    """The address if it is one; proof with a garbled address keeps the rest."""
    try:
        return str(ipaddress.ip_address(str(text).strip())) if text else None
    except ValueError:
        return None


def _next_state(granted: bool, current: str | None) -> str | None:
    """The state a yes/no preference leads to, or None when nothing changes."""
    if granted:
        return None if current == ConsentStateChoices.GRANTED else ConsentStateChoices.GRANTED
    if current == ConsentStateChoices.GRANTED:
        return ConsentStateChoices.WITHDRAWN
    return None if current else ConsentStateChoices.DENIED


def purposes_for_categories(categories: Mapping[str, object]) -> dict[Purpose, bool]:
    """Map tracking-API category names (``categoryPreferences``) to purposes."""
    wanted = {str(name).strip().lower(): bool(value) for name, value in categories.items()}
    found: dict[Purpose, bool] = {}
    for purpose in Purpose.objects.filter(is_active=True):
        for name in purpose.tracking_categories:
            key = str(name).strip().lower()
            if key in wanted:
                found[purpose] = wanted[key]
    return found


@transaction.atomic
def apply_preferences(
    *,
    customer: Customer,
    preferences: Mapping[Purpose, bool],
    method: str,
    occurred_at: datetime,
    source_id: int | None = None,
    ip_address: str | None = None,
    user_agent: str = "",
    wording_version: str = "",
) -> list[ConsentRecord]:
    """Record yes/no preferences, only where they change the current state.

    Banners resend every preference with every event; recording each would
    bury the real changes. A "no" to a purpose the person had granted is a
    withdrawal, a first "no" is a denial.
    """
    if not preferences:
        return []
    current = dict(
        ConsentState.objects.filter(customer=customer, purpose__in=list(preferences)).values_list(
            "purpose_id", "state"
        )
    )
    records = []
    for purpose, granted in preferences.items():
        state = _next_state(granted, current.get(purpose.pk))
        if state is None:
            continue
        records.append(
            record_consent(
                customer=customer,
                purpose=purpose,
                state=state,
                method=method,
                occurred_at=occurred_at,
                source_id=source_id,
                ip_address=ip_address,
                user_agent=user_agent,
                wording_version=wording_version,
            )
        )
    return records


@transaction.atomic
def carry_over_consent(*, survivor: Customer, absorbed_ids: list[int]) -> int:
    """After a merge, the survivor's current state comes from the joined history.

    ``merge_customers`` already re-points the absorbed profiles' consent
    records (and the state rows the survivor had no equivalent of); this
    moves any record left behind and recomputes the survivor's state per
    purpose from the latest record, so a newer "withdrawn" on the absorbed
    profile wins over an older "granted" on the survivor. Returns how many
    records it moved.
    """
    moved = ConsentRecord.objects.filter(customer_id__in=absorbed_ids).update(customer=survivor)
    latest: dict[int, ConsentRecord] = {}
    for record in ConsentRecord.objects.filter(customer=survivor).order_by("occurred_at", "id"):
        latest[record.purpose_id] = record
    for purpose_id, record in latest.items():
        ConsentState.objects.update_or_create(
            customer=survivor,
            purpose_id=purpose_id,
            defaults={"state": record.state, "record": record, "occurred_at": record.occurred_at},
        )
    return moved
