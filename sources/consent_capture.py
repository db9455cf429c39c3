"""Consent carried by messages, recorded for the profiles they resolved to.

Two shapes arrive:

* tracking API — ``context.consent.categoryPreferences`` (``{"Advertising":
  true, "Analytics": false}``), as Segment's consent tooling sends it; the
  category names map to purposes through ``Purpose.tracking_categories``;
* file imports and REST writes — ``NormalizedMessage.consent``, purpose code
  to yes/no (or a ``ConsentAnswer`` with its own time and address), with
  ``consent_method`` saying how it was collected.

Only changes are recorded (see ``consent.services.consent.record_preferences``).
A batch gathers its messages' preferences and records them at once; when a
message merged profiles, what was gathered so far is recorded first and the
absorbed profiles' consent history moves to the survivor. The states that
moved are held until ``publish``, which the pipeline calls once the batch's
profiles are written (new ones included), so segments see them complete.
"""

from __future__ import annotations

from collections.abc import Sequence

from consent import registry
from consent.models import ConsentRecord, Purpose
from consent.services.consent import (
    Preference,
    carry_over_consent,
    purposes_for_categories,
    record_preferences,
)
from customers.models import Customer
from sources.contracts import ConsentAnswer, NormalizedMessage


class ConsentCapture:
    """The consent of a batch of messages, recorded in a few statements by ``flush``."""

    def __init__(self) -> None:
        self._pending: list[Preference] = []
        self._purposes: list[Purpose] | None = None
        self._changes: list[registry.ConsentChange] = []

    def add(
        self, *, message: NormalizedMessage, customer: Customer, absorbed_ids: Sequence[int] = ()
    ) -> None:
        if absorbed_ids:
            self.flush()  # the absorbed profiles' records move with what they hold now
            with registry.holding_consent_changes() as changes:
                carry_over_consent(survivor=customer, absorbed_ids=list(absorbed_ids))
            self._changes.extend(changes)
        self._pending.extend(self.preferences(message, customer_id=customer.pk))

    def flush(self) -> None:
        with registry.holding_consent_changes() as changes:
            record_preferences(preferences=self._pending)
        self._changes.extend(changes)
        self._pending = []

    def publish(self) -> None:
        """Hand the consent changes recorded so far to the listeners (segments)."""
        registry.consent_changed(self._changes)
        self._changes = []

    def preferences(self, message: NormalizedMessage, *, customer_id: int) -> list[Preference]:
        """The purposes a message says yes or no to, in the order it says them."""
        context = message.context
        consent = context.get("consent") if isinstance(context.get("consent"), dict) else {}
        categories = consent.get("categoryPreferences")
        answers: dict[Purpose, ConsentAnswer] = {}
        method = ConsentRecord.Method.TRACKING
        if isinstance(categories, dict) and categories:
            found = purposes_for_categories(categories, purposes=self._active_purposes())
            answers.update({p: ConsentAnswer(granted) for p, granted in found.items()})
        if message.consent:
            by_code = {p.code: p for p in self._active_purposes()}
            for code, answer in message.consent.items():
                if code in by_code:
                    answers[by_code[code]] = (
                        answer if isinstance(answer, ConsentAnswer) else ConsentAnswer(bool(answer))
                    )
            method = message.consent_method or ConsentRecord.Method.API
        return [
            Preference(
                customer_id=customer_id,
                purpose=purpose,
                granted=answer.granted,
                withdrawal=answer.withdrawal,
                method=method,
                occurred_at=answer.at or message.timestamp,
                source_id=message.source_id,
                ip_address=answer.ip or _text(context.get("ip")),
                user_agent=_text(context.get("userAgent")),
                wording_version=_text(consent.get("version")),
            )
            for purpose, answer in answers.items()
        ]

    def _active_purposes(self) -> list[Purpose]:
        if self._purposes is None:
            self._purposes = list(Purpose.objects.filter(is_active=True))
        return self._purposes


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
