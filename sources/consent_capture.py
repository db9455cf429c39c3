"""Consent carried by a message, recorded for the profile it resolved to.

Two shapes arrive:

* tracking API — ``context.consent.categoryPreferences`` (``{"Advertising":
  true, "Analytics": false}``), as Segment's consent tooling sends it; the
  category names map to purposes through ``Purpose.tracking_categories``;
* file imports and REST writes — ``NormalizedMessage.consent``, purpose code
  to yes/no, with ``consent_method`` saying how it was collected.

Only changes are recorded (see ``consent.services.consent.apply_preferences``).
When the message merged profiles, the absorbed profiles' consent history
moves to the survivor first.
"""

from __future__ import annotations

from collections.abc import Sequence

from consent.models import ConsentRecord, Purpose
from consent.services.consent import apply_preferences, carry_over_consent, purposes_for_categories
from customers.models import Customer
from sources.contracts import NormalizedMessage


def message_preferences(message: NormalizedMessage) -> tuple[dict[Purpose, bool], str]:
    """The purposes a message says yes or no to, and how that was collected."""
    preferences: dict[Purpose, bool] = {}
    consent = message.context.get("consent")
    categories = consent.get("categoryPreferences") if isinstance(consent, dict) else None
    if isinstance(categories, dict) and categories:
        preferences.update(purposes_for_categories(categories))
    method = ConsentRecord.Method.TRACKING
    if message.consent:
        by_code = {p.code: p for p in Purpose.objects.filter(code__in=list(message.consent))}
        preferences.update(
            {
                by_code[code]: bool(granted)
                for code, granted in message.consent.items()
                if code in by_code
            }
        )
        method = message.consent_method or ConsentRecord.Method.API
    return preferences, method


def record_message_consent(
    *, message: NormalizedMessage, customer: Customer, absorbed_ids: Sequence[int]
) -> None:
    if absorbed_ids:
        carry_over_consent(survivor=customer, absorbed_ids=list(absorbed_ids))
    preferences, method = message_preferences(message)
    if not preferences:
        return
    context = message.context
    consent = context.get("consent") if isinstance(context.get("consent"), dict) else {}
    apply_preferences(
        customer=customer,
        preferences=preferences,
        method=method,
        occurred_at=message.timestamp,
        source_id=message.source_id,
        ip_address=_text(context.get("ip")),
        user_agent=_text(context.get("userAgent")),
        wording_version=_text(consent.get("version")),
    )


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
