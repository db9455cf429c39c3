"""Consent columns of a file row: yes/no answers, opt-in and opt-out times, the address.

A row may say yes or no to a purpose (``consent.PURPOSE``, or
``consent.PURPOSE:inverted`` when yes means no), when consent was given or
withdrawn (``:granted_at`` / ``:withdrawn_at``, Mailchimp's ``OPTIN_TIME``
and ``UNSUB_TIME``) and where it was given (``consent_ip``). ``RowConsent``
gathers a row's columns and answers, per purpose, with the ``ConsentAnswer``
the pipeline records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sources.contracts import ConsentAnswer
from sources.imports.cells import read_timestamp

# yes/no in consent columns, as the tools that export them write it
CONSENT_YES = frozenset(
    {"yes", "y", "true", "t", "1", "granted", "subscribed", "opted in", "opt-in", "optin"}
    | {"opted-in", "x", "marketing contact"}
)
CONSENT_NO = frozenset(
    {"no", "n", "false", "f", "0", "denied", "unsubscribed", "opted out", "opt-out", "optout"}
    | {"opted-out", "non-marketing contact"}
)


def consent_answer(text: str) -> bool | None:
    """Yes/no in a consent column (yes, y, true, 1, subscribed, opted in … / no, n,
    false, 0, unsubscribed, opted out …; HubSpot's marketing contact status)."""
    value = " ".join(text.strip().lower().split())
    return True if value in CONSENT_YES else False if value in CONSENT_NO else None


@dataclass
class RowConsent:
    answers: dict[str, bool] = field(default_factory=dict)
    times: dict[tuple[str, str], datetime] = field(default_factory=dict)
    ip: str = ""

    def read(
        self, purpose: str, reading: str, text: str, *, order: str, warn: Callable[[str, str], None]
    ) -> None:
        """One cell of a ``consent.PURPOSE[:reading]`` column; ``warn(code,
        reason)`` reports a value that says nothing readable."""
        if reading in ("granted_at", "withdrawn_at"):
            at = read_timestamp(text, order=order)
            if at is None:
                warn("invalid_consent_time", f"{text!r} is not a date/time")
            else:
                self.times[(purpose, reading)] = at
            return
        answer = consent_answer(text)
        if answer is None:
            warn("invalid_consent", f"{text!r} is not yes or no")
            return
        self.answers[purpose] = answer != (reading == "inverted")

    def __bool__(self) -> bool:
        return bool(self.answers or self.times)

    def by_purpose(self) -> dict[str, ConsentAnswer]:
        """Each purpose's answer: a yes/no column's (at the row's opt-in or
        opt-out time when it has one), else the time columns' (a withdrawal
        time wins over an opt-in time)."""
        consent: dict[str, ConsentAnswer] = {}
        for purpose in {p for p, _ in self.times} | set(self.answers):
            granted_at = self.times.get((purpose, "granted_at"))
            withdrawn_at = self.times.get((purpose, "withdrawn_at"))
            if purpose in self.answers:
                granted = self.answers[purpose]
                at = granted_at if granted else withdrawn_at
                consent[purpose] = ConsentAnswer(granted, at=at, ip=self.ip)
            elif withdrawn_at:
                consent[purpose] = ConsentAnswer(
                    False, at=withdrawn_at, ip=self.ip, withdrawal=True
                )
            elif granted_at:
                consent[purpose] = ConsentAnswer(True, at=granted_at, ip=self.ip)
        return consent
