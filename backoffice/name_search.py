"""Finding people by a piece of their name, company or city, accents ignored.

"sofia ross" finds Sofía Rossi, "Schm" finds Schmidt and Schmitz, "münchen"
and "munchen" find people in München. Every word of the term must appear in
the profile's name text: first and last name, company and city, folded (lower
case, accents removed) by ``tributary_fold``.

- PostgreSQL: ``tributary_fold`` is an IMMUTABLE SQL function over the
  ``unaccent`` extension, and a trigram GIN index (``pg_trgm``) on the folded
  name text serves each ``LIKE '%word%'`` (migration
  ``backoffice.0002_customer_name_search``), so a search stays fast with
  millions of profiles.
- SQLite: ``tributary_fold`` is the Python function below, registered on each
  connection; the search scans the table (no timing target there).

The SQL expression is written once, here; the index is built on the very
same text, so the planner can use it.
"""

from __future__ import annotations

import unicodedata

from django.db import models
from django.db.models.expressions import RawSQL

NAME_TEXT_SQL = (
    "tributary_fold("
    '"customers_customer"."first_name" || \' \' || "customers_customer"."last_name"'
    ' || \' \' || "customers_customer"."company" || \' \' || "customers_customer"."city")'
)
MIN_WORD = 2  # shorter words match too much to help (and have no trigram)
MAX_WORDS = 5


def fold(text: str) -> str:
    """Lower case without accents or other marks: "Sofía Müller" → "sofia muller"."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def words(term: str) -> list[str]:
    """The words of a search term worth matching (folded, LIKE wildcards escaped)."""
    found = []
    for word in fold(term).split():
        if len(word) >= MIN_WORD:
            escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            found.append(escaped)
    return found[:MAX_WORDS]


def matching_names(queryset: models.QuerySet, term: str) -> models.QuerySet:
    """Customers in ``queryset`` whose name text holds every word of ``term``
    (none when the term has no word long enough)."""
    found = words(term)
    if not found:
        return queryset.none()
    for word in found:
        queryset = queryset.filter(
            RawSQL(  # noqa: S611 - constant SQL, the word is a parameter
                f"{NAME_TEXT_SQL} LIKE %s ESCAPE '\\'",
                (f"%{word}%",),
                output_field=models.BooleanField(),
            )
        )
    return queryset


def register_sqlite_fold(sender, connection, **kwargs) -> None:
    """``connection_created`` receiver: the fold function on SQLite connections."""
    if connection.vendor == "sqlite":
        connection.connection.create_function("tributary_fold", 1, fold, deterministic=True)
