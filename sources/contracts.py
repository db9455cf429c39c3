"""The normalized message: what every way in hands to the pipeline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class ConsentAnswer:
    """A yes or no to one purpose with what the source says about it.

    ``at`` is when it was given or refused (an export's opt-in or
    unsubscribe time; default: the message's timestamp), ``ip`` the address
    it was given from (proof; default: ``context.ip``). ``withdrawal``: a
    "no" that takes back consent given earlier (an unsubscribe list).
    """

    granted: bool
    at: datetime | None = None
    ip: str = ""
    withdrawal: bool = False


@dataclass(frozen=True)
class NormalizedMessage:
    """One Segment-spec call, validated, with times already reconciled.

    ``timestamp`` is the corrected event time; ``external_ids`` are
    ``(identifier type, raw value)`` pairs from ``context.externalIds`` or
    from mapped import columns. ``sent_at`` and ``original_timestamp`` are
    the client's own times, kept as sent.
    """

    source_id: int
    message_id: str
    type: str
    timestamp: datetime
    received_at: datetime
    user_id: str | None = None
    anonymous_id: str | None = None
    event: str = ""
    traits: Mapping[str, object] = field(default_factory=dict)
    properties: Mapping[str, object] = field(default_factory=dict)
    context: Mapping[str, object] = field(default_factory=dict)
    integrations: Mapping[str, object] = field(default_factory=dict)
    previous_id: str | None = None
    group_id: str | None = None
    external_ids: tuple[tuple[str, str], ...] = ()
    # the client's clock as sent, before skew correction
    sent_at: datetime | None = None
    original_timestamp: datetime | None = None
    # purpose code -> granted (or a ConsentAnswer saying when and where), from
    # import consent columns or REST writes; the tracking API's
    # context.consent.categoryPreferences is read from context
    consent: Mapping[str, bool | ConsentAnswer] = field(default_factory=dict)
    consent_method: str = ""
    # address fields (address_line1 … country) guessed from a one-cell address:
    # set only when the profile holds no address field at all, so a guess
    # never overwrites structured values
    address_if_unset: Mapping[str, str] = field(default_factory=dict)
