"""One family of domain errors: a stable ``code``, a ``message`` for people and
the ``field`` (input name) it is about, if any.

Services raise these and never import ``rest_framework``; one API handler
(``core.api.errors.exception_handler``) renders any that reaches it in the
error shape, with the HTTP status its ``kind`` stands for. A view may still
catch one to add details of its own.
"""

from __future__ import annotations


class DomainError(Exception):
    """Refused input or a state that does not allow the operation."""

    kind = "invalid"  # invalid | forbidden | not_found | conflict

    def __init__(self, code: str, message: str, field: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message


class NotFound(DomainError):
    kind = "not_found"


class Conflict(DomainError):
    kind = "conflict"


class Forbidden(DomainError):
    kind = "forbidden"
