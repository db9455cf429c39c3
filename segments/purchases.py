"""The one purchase definition (DESIGN.md, shared names): which track event is a
purchase, and what it is worth. Lifetime value, RFM, predictions and order-file
imports all read it from here.

``settings.TRIBUTARY_PURCHASE_EVENT`` (default ``Order Completed``, validated
at start-up) names the event; its revenue is the JSON number in the ``revenue`` property, else in
``total``, else 0 (texts such as ``"12.50"`` are not numbers and count 0).
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import FloatField, Value
from django.db.models.functions import Coalesce

from segments.jsonsql import JsonNumber

REVENUE_PROPERTIES = ("revenue", "total")


def purchase_event() -> str:
    return settings.TRIBUTARY_PURCHASE_EVENT


def revenue_of(properties: object) -> float:
    """An event's revenue, in Python (the same rule as ``revenue_expression``)."""
    if isinstance(properties, dict):
        for key in REVENUE_PROPERTIES:
            value = properties.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
    return 0.0


def revenue_expression():
    """An event's revenue as a SQL expression over ``Event.properties``."""
    return Coalesce(
        *(JsonNumber("properties", key) for key in REVENUE_PROPERTIES),
        Value(0.0),
        output_field=FloatField(),
    )
