"""Consent carried by messages, recorded for the profiles they resolved to.

Two shapes arrive:

* tracking API — ``context.consent.categoryPreferences`` (``{"Advertising":
  true, "DataSharing": false}``), as Segment's and RudderStack's consent
  tooling send it; the category names map to purposes through
  ``consent.services.categories`` (a name no purpose answers to, or a value
  that is not a boolean, becomes a data-quality issue of the profile and the
  source: counted on the source's admin page, never silently dropped);
* file imports and REST writes — ``NormalizedMessage.consent``, purpose code
  to yes/no (or a ``ConsentAnswer`` with its own time and address), with
  ``consent_method`` saying how it was collected.

Only changes are recorded (see ``consent.services.consent.record_preferences``).
A batch gathers its messages' preferences and records them at once; when a
message merged profiles, what was gathered so far is recorded first and the
absorbed profiles' consent history moves to the survivor.
"""

from __future__ import annotations

from collections.abc import Sequence

from consent.models import ConsentRecord, Purpose
from consent.services.categories import UNKNOWN_CONSENT_CATEGORY, read_categories
from consent.services.consent import Preference, carry_over_consent, record_preferences
from customers.models import Customer, DataQualityIssue
from customers.services.normalize import Issue
from customers.services.quality import issue_rows
from sources.contracts import ConsentAnswer, NormalizedMessage


class ConsentCapture:
    """The consent of a batch of messages, recorded in a few statements by ``flush``."""

    def __init__(self) -> None:
        self._pending: list[Preference] = []
        self._issues: list[DataQualityIssue] = []
        self._purposes: list[Purpose] | None = None

    def add(
        self, *, message: NormalizedMessage, customer: Customer, absorbed_ids: Sequence[int] = ()
    ) -> None:
        if absorbed_ids:
            self.flush()  # the absorbed profiles' records move with what they hold now
            carry_over_consent(survivor=customer, absorbed_ids=list(absorbed_ids))
        self._pending.extend(self.preferences(message, customer=customer))

    def flush(self) -> None:
        record_preferences(preferences=self._pending)
        DataQualityIssue.objects.bulk_create(self._issues)
        self._pending, self._issues = [], []

    def preferences(self, message: NormalizedMessage, *, customer: Customer) -> list[Preference]:
        """The purposes a message says yes or no to, in the order it says them
        (what cannot be read is kept as data-quality issues, stored by ``flush``)."""
        context = message.context
        consent = context.get("consent") if isinstance(context.get("consent"), dict) else {}
        categories = consent.get("categoryPreferences")
        answers: dict[Purpose, ConsentAnswer] = {}
        method = ConsentRecord.Method.TRACKING
        if isinstance(categories, dict) and categories:
            reading = read_categories(categories, purposes=self._active_purposes())
            answers.update({p: ConsentAnswer(granted) for p, granted in reading.answers.items()})
            self._issues += issue_rows(
                issues=_category_issues(reading.unknown, reading.invalid),
                customer=customer,
                source_id=message.source_id,
            )
        elif categories is not None and not isinstance(categories, dict):
            self._issues += issue_rows(
                issues=[Issue(_FIELD, str(categories), _INVALID, "must be an object")],
                customer=customer,
                source_id=message.source_id,
            )
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
                customer_id=customer.pk,
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


_FIELD = "context.consent.categoryPreferences"
_INVALID = "invalid_consent_preference"


def _category_issues(unknown: Sequence[str], invalid: Sequence[str]) -> list[Issue]:
    return [
        Issue(_FIELD, name, UNKNOWN_CONSENT_CATEGORY, "no purpose answers to this category")
        for name in unknown
    ] + [Issue(_FIELD, name, _INVALID, "a category's value must be a boolean") for name in invalid]


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
