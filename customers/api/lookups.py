"""Finding the profile a URL names as ``<type>:<value>``, for every app's API."""

from __future__ import annotations

from core.api.exceptions import ApiError
from customers.models import Customer
from customers.selectors import find_customer_by_identifier, identifier_type_exists
from customers.services.normalize import InvalidValue


def profile_or_404(identifier: str) -> Customer:
    """The active profile holding ``identifier`` (merges followed), or an API error.

    400 ``invalid_identifier`` without ``type:``, 400 ``unknown_identifier_type``,
    400 with the cleanser's code (e.g. ``invalid_email``) for an impossible
    value, 404 ``profile_not_found`` when no profile holds it.
    """
    type_name, sep, value = identifier.partition(":")
    if not sep or not type_name or not value:
        raise ApiError(
            status_code=400,
            code="invalid_identifier",
            message="Address a profile as <type>:<value>, e.g. email:ann@example.com.",
            details={"identifier": identifier},
        )
    if not identifier_type_exists(type_name):
        raise ApiError(
            status_code=400,
            code="unknown_identifier_type",
            message=f"{type_name!r} is not an identifier type.",
            details={"type": type_name},
        )
    try:
        customer = find_customer_by_identifier(type_name=type_name, value=value)
    except InvalidValue as exc:
        raise ApiError(
            status_code=400, code=exc.code, message=exc.message, details={"type": type_name}
        ) from None
    if customer is None:
        raise ApiError(
            status_code=404,
            code="profile_not_found",
            message=f"No profile has {type_name} {value!r}.",
            details={"type": type_name},
        )
    return customer
