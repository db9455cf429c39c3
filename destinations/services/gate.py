"""The consent gate: a customer is only sent to a destination with a legal basis.

Until destinations carry a consent purpose every customer passes; this is
the one place the gate is decided, at dispatch and again before each try.
"""

from __future__ import annotations

from destinations.models import Destination


def allowed_customer_ids(*, destination: Destination, customer_ids: set[int]) -> set[int]:
    return set(customer_ids)
