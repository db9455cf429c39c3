"""Recording consent: the one write path for consent records and current state."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from consent.models import ConsentRecord, ConsentState, ConsentStateChoices, Purpose
from consent.registry import ConsentChange, consent_changed
from core.audit import current_actor
from core.db.bulk import update_rows
from core.db.copy import insert_values, reserve_ids
from core.errors import DomainError
from customers.models import Customer
from customers.services.versions import bump_versions


class UnknownPurpose(DomainError):
    def __init__(self, code: str):
        super().__init__("unknown_purpose", f"no active purpose with code {code!r}", "purpose")
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
    consent back. A change of state reaches the consent listeners (segment
    membership) in this transaction.
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
    moved = True
    if current is None:
        ConsentState.objects.create(
            customer=customer,
            purpose=purpose,
            state=state,
            record=record,
            occurred_at=record.occurred_at,
        )
    elif record.occurred_at >= current.occurred_at:
        moved = current.state != state
        current.state = state
        current.record = record
        current.occurred_at = record.occurred_at
        current.save(update_fields=["state", "record", "occurred_at"])
    else:
        moved = False
    bump_versions([customer.pk])
    if moved:
        consent_changed([ConsentChange(customer.pk, purpose.code)])
    return record


def _valid_ip(text: str | None) -> str | None:
    """The address if it is one; proof with a garbled address keeps the rest."""
    try:
        return str(ipaddress.ip_address(str(text).strip())) if text else None
    except ValueError:
        return None


def _next_state(granted: bool, current: str | None, *, withdrawal: bool = False) -> str | None:
    """The state a yes/no preference leads to, or None when nothing changes."""
    if granted:
        return None if current == ConsentStateChoices.GRANTED else ConsentStateChoices.GRANTED
    if withdrawal:
        return None if current == ConsentStateChoices.WITHDRAWN else ConsentStateChoices.WITHDRAWN
    if current == ConsentStateChoices.GRANTED:
        return ConsentStateChoices.WITHDRAWN
    return None if current else ConsentStateChoices.DENIED


@dataclass(frozen=True)
class Preference:
    """One person's yes or no to one purpose, as a message or a file row states it.

    ``withdrawal``: a "no" that takes back consent given earlier (an
    unsubscribe list), recorded as withdrawn even without a grant on record.
    """

    customer_id: int
    purpose: Purpose
    granted: bool
    method: str
    occurred_at: datetime
    source_id: int | None = None
    ip_address: str | None = None
    user_agent: str = ""
    wording_version: str = ""
    withdrawal: bool = False


_RECORD_COLUMNS = (
    "customer_id",
    "purpose_id",
    "state",
    "method",
    "source_id",
    "occurred_at",
    "recorded_at",
    "ip_address",
    "user_agent",
    "wording",
    "wording_version",
    "actor",
)


@transaction.atomic
def record_preferences(*, preferences: Sequence[Preference]) -> int:
    """Record yes/no preferences, in order, only where they change the current
    state; returns how many records were written.

    Banners resend every preference with every event; recording each would
    bury the real changes. A "no" to a purpose the person had granted is a
    withdrawal, a first "no" is a denial. A statement older than the one the
    current state rests on is kept in the history without moving the state
    (as in ``record_consent``). Many people at once, as plain rows: one read
    of their current states, one insert of the records, one insert and one
    update of the states, so a batch of messages or file rows costs a few
    statements whatever its size. The states that moved reach the consent
    listeners (segment membership) in this transaction.
    """
    if not preferences:
        return 0
    methods = set(ConsentRecord.Method.values)
    for preference in preferences:
        if preference.method not in methods:
            raise ValueError(f"{preference.method!r} is not a consent method")
    held = ConsentState.objects.select_for_update().filter(
        customer_id__in={p.customer_id for p in preferences},
        purpose_id__in={p.purpose.pk for p in preferences},
    )
    current = {
        (customer_id, purpose_id): _State(pk, state, occurred_at, before=state)
        for pk, customer_id, purpose_id, state, occurred_at in held.values_list(
            "pk", "customer_id", "purpose_id", "state", "occurred_at"
        )
    }
    now, actor = timezone.now(), current_actor()
    records: list[list] = []
    for preference in preferences:
        key = (preference.customer_id, preference.purpose.pk)
        before = current.get(key)
        state = _next_state(
            preference.granted, before and before.state, withdrawal=preference.withdrawal
        )
        if state is None:
            continue
        records.append(
            [
                preference.customer_id,
                preference.purpose.pk,
                state,
                preference.method,
                preference.source_id,
                preference.occurred_at,
                now,
                _valid_ip(preference.ip_address),
                (preference.user_agent or "")[:500],
                "",
                (preference.wording_version or "")[:64],
                actor,
            ]
        )
        if before is None or preference.occurred_at >= before.occurred_at:
            current[key] = _State(
                before and before.pk,
                state,
                preference.occurred_at,
                len(records) - 1,
                before.before if before else None,
            )
    record_ids = _insert_records(records)
    bump_versions(row[0] for row in records)
    moved = [(key, s) for key, s in current.items() if s.record is not None]
    codes = {p.purpose.pk: p.purpose.code for p in preferences}
    insert_values(
        ConsentState,
        ("customer_id", "purpose_id", "state", "record_id", "occurred_at"),
        ([*key, s.state, record_ids[s.record], s.occurred_at] for key, s in moved if not s.pk),
    )
    update_rows(
        ConsentState,
        [
            ConsentState(
                pk=s.pk, state=s.state, record_id=record_ids[s.record], occurred_at=s.occurred_at
            )
            for _, s in moved
            if s.pk
        ],
        ["state", "record", "occurred_at"],
    )
    consent_changed(
        ConsentChange(customer_id, codes[purpose_id])
        for (customer_id, purpose_id), s in moved
        if s.state != s.before
    )
    return len(records)


@dataclass
class _State:
    """A current state as ``record_preferences`` works on it: ``record`` is the
    index of the new record it moved to, None while unchanged; ``before`` the
    state held when the batch began."""

    pk: int | None
    state: str
    occurred_at: datetime
    record: int | None = None
    before: str | None = None


def _insert_records(rows: list[list]) -> list[int]:
    """Insert consent records given as ``_RECORD_COLUMNS`` values; returns their ids."""
    ids = reserve_ids(ConsentRecord, len(rows))
    if ids is None:  # ids are known once inserted (SQLite returns them)
        made = ConsentRecord.objects.bulk_create(
            ConsentRecord(**dict(zip(_RECORD_COLUMNS, row, strict=True))) for row in rows
        )
        return [record.pk for record in made]
    insert_values(
        ConsentRecord,
        ("id", *_RECORD_COLUMNS),
        ([pk, *row] for pk, row in zip(ids, rows, strict=True)),
    )
    return ids


@transaction.atomic
def carry_over_consent(*, survivor: Customer, absorbed_ids: list[int]) -> int:
    """After a merge, the survivor's current state comes from the joined history.

    ``merge_customers`` already re-points the absorbed profiles' consent
    records (and the state rows the survivor had no equivalent of); this
    moves any record left behind and recomputes the survivor's state per
    purpose from the latest record, so a newer "withdrawn" on the absorbed
    profile wins over an older "granted" on the survivor. States that moved
    reach the consent listeners. Returns how many records it moved.
    """
    moved = ConsentRecord.objects.filter(customer_id__in=absorbed_ids).update(customer=survivor)
    latest: dict[int, ConsentRecord] = {}
    records = ConsentRecord.objects.filter(customer=survivor).select_related("purpose")
    for record in records.order_by("occurred_at", "id"):
        latest[record.purpose_id] = record
    held = dict(ConsentState.objects.filter(customer=survivor).values_list("purpose_id", "state"))
    for purpose_id, record in latest.items():
        ConsentState.objects.update_or_create(
            customer=survivor,
            purpose_id=purpose_id,
            defaults={"state": record.state, "record": record, "occurred_at": record.occurred_at},
        )
    bump_versions([survivor.pk])
    consent_changed(
        ConsentChange(survivor.pk, record.purpose.code)
        for purpose_id, record in latest.items()
        if held.get(purpose_id) != record.state
    )
    return moved
