"""Comparison pieces shared by the rule compiler and the computed/stored traits.

Every piece is two-valued (never NULL): see ``segments.compiler``.
"""

from __future__ import annotations

from django.db.models import Q, Value
from django.db.models.functions import Lower, StrIndex
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    In,
    LessThan,
    LessThanOrEqual,
)

TRUE = Q(pk__isnull=False)
FALSE = Q(pk__isnull=True)
NUMBER_LOOKUPS = {
    "gt": GreaterThan,
    "gte": GreaterThanOrEqual,
    "lt": LessThan,
    "lte": LessThanOrEqual,
}


class CompileError(Exception):
    """A rule that validation should have refused (or a reference that vanished)."""


def text_q(expr, op: str, value, case_sensitive: bool) -> Q:
    """Text comparison on an expression known to hold text (never NULL there)."""
    if op == "neq":
        return ~text_q(expr, "eq", value, case_sensitive)
    if op == "in":
        items = [str(item) for item in value]
        if case_sensitive:
            return Q(In(expr, items))
        return Q(In(Lower(expr), [Lower(Value(item)) for item in items]))
    lhs = expr if case_sensitive else Lower(expr)
    rhs = Value(str(value)) if case_sensitive else Lower(Value(str(value)))
    if op == "eq":
        return Q(Exact(lhs, rhs))
    if op == "contains":
        return Q(GreaterThan(StrIndex(lhs, rhs), 0))
    if op == "starts_with":
        return Q(Exact(StrIndex(lhs, rhs), 1))
    raise CompileError(f"{op} is not a text operator")
