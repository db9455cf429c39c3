"""Who may be used for what: the consent reads every other part calls.

The rule, per purpose and customer, from the *current* state (the latest
consent record):

* legal basis **consent** — allowed only if the current state is ``granted``;
  no record means no.
* any other legal basis (legitimate interest, contract, legal obligation,
  vital interests, public task) — allowed unless the current state is
  ``denied`` or ``withdrawn`` (the person objected); no record means yes.

An inactive purpose allows no one.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from consent.models import ConsentRecord, ConsentState, ConsentStateChoices, Purpose
from consent.services.consent import get_purpose
from customers.models import Customer

_OBJECTIONS = (ConsentStateChoices.DENIED, ConsentStateChoices.WITHDRAWN)


def allowed_q(purpose: Purpose | str, *, prefix: str = "", scope=None) -> Q:
    """A ``Q`` over customers allowed for ``purpose``, usable inside any query.

    ``prefix`` is the path from the queried model to the customer, e.g.
    ``allowed_q("email_marketing", prefix="customer__")`` on memberships.
    With ``scope`` (customer ids, or a subquery of them) only those
    customers' consent is read: the answer is right for them only.
    Raises ``UnknownPurpose`` for a code that names no active purpose.
    """
    purpose = get_purpose(purpose)
    if not purpose.is_active:
        return Q(pk__in=[])
    key = f"{prefix}pk__in"
    states = ConsentState.objects.filter(purpose_id=purpose.pk)
    if scope is not None:
        states = states.filter(customer_id__in=scope)
    if purpose.requires_consent:
        granted = states.filter(state=ConsentStateChoices.GRANTED).values("customer_id")
        return Q(**{key: granted})
    objected = states.filter(state__in=_OBJECTIONS).values("customer_id")
    return ~Q(**{key: objected})


def active_purpose_codes() -> set[str]:
    return set(Purpose.objects.filter(is_active=True).values_list("code", flat=True))


def customers_allowed_for(purpose: Purpose | str) -> QuerySet[Customer]:
    """Active (not merged-away) profiles that ``purpose`` may use."""
    return Customer.objects.active().filter(allowed_q(purpose))


def is_allowed(customer: Customer | int, purpose: Purpose | str) -> bool:
    purpose = get_purpose(purpose)
    if not purpose.is_active:
        return False
    customer_id = customer if isinstance(customer, int) else customer.pk
    state = (
        ConsentState.objects.filter(customer_id=customer_id, purpose_id=purpose.pk)
        .values_list("state", flat=True)
        .first()
    )
    if purpose.requires_consent:
        return state == ConsentStateChoices.GRANTED
    return state not in _OBJECTIONS


@dataclass(frozen=True)
class PurposeStatus:
    """One line of a profile's consent overview."""

    code: str
    name: str
    legal_basis: str
    state: str | None  # None: no record yet
    allowed: bool
    since: object  # datetime of the record the state rests on, or None


def consent_overview(customer: Customer) -> list[PurposeStatus]:
    """Every active purpose with this customer's current state and the verdict."""
    states = {
        s.purpose_id: s
        for s in ConsentState.objects.filter(customer=customer).only(
            "purpose_id", "state", "occurred_at"
        )
    }
    rows = []
    for purpose in Purpose.objects.filter(is_active=True).order_by("name"):
        held = states.get(purpose.pk)
        state = held.state if held else None
        if purpose.requires_consent:
            allowed = state == ConsentStateChoices.GRANTED
        else:
            allowed = state not in _OBJECTIONS
        rows.append(
            PurposeStatus(
                code=purpose.code,
                name=purpose.name,
                legal_basis=purpose.legal_basis,
                state=state,
                allowed=allowed,
                since=held.occurred_at if held else None,
            )
        )
    return rows


def consent_history(customer: Customer, *, limit: int | None = None) -> QuerySet[ConsentRecord]:
    """Every consent statement of the customer, newest first (for the 360° view)."""
    records = (
        ConsentRecord.objects.filter(customer=customer)
        .select_related("purpose", "source")
        .order_by("-occurred_at", "-id")
    )
    return records[:limit] if limit else records
