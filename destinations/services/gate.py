"""The consent gate: a customer is only sent to a destination with a legal basis.

A destination serves one consent purpose; a customer is sent only when
``consent.selectors`` allows that purpose for them (granted consent, or no
objection for purposes on another legal basis). No purpose, or an inactive
one, allows no one. Decided at dispatch and again before every try, so a
withdrawal stops retries too.
"""

from __future__ import annotations

from consent.selectors import allowed_q
from customers.models import Customer
from destinations.models import Destination


def allowed_customer_ids(*, destination: Destination, customer_ids: set[int]) -> set[int]:
    if not customer_ids or destination.purpose is None:
        return set()
    query = Customer.objects.filter(pk__in=customer_ids).filter(allowed_q(destination.purpose))
    return set(query.order_by().values_list("pk", flat=True))
