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

``ranked_matches`` keeps every search bounded on PostgreSQL, whatever the
term: a rare term's matches come from the trigram index and are sorted in
Python; a common one (more than ``CANDIDATE_CAP`` matches) is looked for in
the latest ``RECENT_WINDOW`` active profiles only, walking the activity index,
which is exact whenever that window holds enough matches (it is the head of
the very order the results are shown in).
"""

from __future__ import annotations

import re
import unicodedata

from django.db import connection, models
from django.db.models.expressions import RawSQL

from customers.models import Customer

NAME_TEXT_SQL = (
    "tributary_fold("
    '"customers_customer"."first_name" || \' \' || "customers_customer"."last_name"'
    ' || \' \' || "customers_customer"."company" || \' \' || "customers_customer"."city")'
)
MIN_WORD = 2  # shorter words match too much to help (and have no trigram)
MAX_WORDS = 5
# A term with at most this many matches is rare: all of them are read from
# the trigram index and sorted here. Above it, the term is common.
CANDIDATE_CAP = 500
# A common term is looked for among this many latest active profiles.
RECENT_WINDOW = 20_000
# pg_trgm makes trigrams of runs of letters and digits only
_TRIGRAM_RUN = re.compile(r"[^\W_]{3}")


def fold(text: str) -> str:
    """Lower case without accents or other marks: "Sofía Müller" → "sofia muller"."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def words(term: str) -> list[str]:
    """The words of a search term worth matching (folded, LIKE wildcards escaped)."""
    return [_escape_like(word) for word in _plain_words(term)]


def _plain_words(term: str) -> list[str]:
    return [word for word in fold(term).split() if len(word) >= MIN_WORD][:MAX_WORDS]


def _escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _has_trigram(word: str) -> bool:
    return _TRIGRAM_RUN.search(word) is not None


def matching_names(queryset: models.QuerySet, term: str) -> models.QuerySet:
    """Customers in ``queryset`` whose name text holds every word of ``term``
    (none when the term has no word long enough). Unbounded and unordered:
    ``ranked_matches`` is the bounded search."""
    found = _plain_words(term)
    if not found:
        return queryset.none()
    for word in found:
        queryset = queryset.filter(_holds(word))
    return queryset


def _holds(word: str) -> RawSQL:
    """The name text holds ``word``.

    A word with no trigram (two letters, "a-b") is tested with ``strpos``,
    which the trigram index does not serve: a ``LIKE`` would make PostgreSQL
    read the whole index for it. The other words pick the rows."""
    if connection.vendor == "postgresql" and not _has_trigram(word):
        return RawSQL(  # noqa: S611 - constant SQL, the word is a parameter
            f"strpos({NAME_TEXT_SQL}, %s) > 0", (word,), output_field=models.BooleanField()
        )
    return RawSQL(  # noqa: S611 - constant SQL, the word is a parameter
        f"{NAME_TEXT_SQL} LIKE %s ESCAPE '\\'",
        (f"%{_escape_like(word)}%",),
        output_field=models.BooleanField(),
    )


def ranked_matches(queryset: models.QuerySet, term: str, *, limit: int) -> list[int]:
    """Ids of at most ``limit`` customers in ``queryset`` whose name text holds
    every word of ``term``, most recently active first.

    On PostgreSQL each step reads a bounded number of rows (see the module's
    docstring); past the recent window, a common term's older matches come
    from the capped candidates: real matches, not always the most recent.
    Elsewhere one ``LIKE`` query."""
    found = _plain_words(term)
    if not found or limit <= 0:
        return []
    matches = matching_names(queryset, term).order_by()
    if connection.vendor != "postgresql":
        return list(matches.order_by("-last_seen", "-pk").values_list("pk", flat=True)[:limit])
    candidates: list[tuple[int, object]] = []
    if any(_has_trigram(word) for word in found):
        candidates = list(matches.values_list("pk", "last_seen")[: CANDIDATE_CAP + 1])
        if len(candidates) <= CANDIDATE_CAP:  # a rare term: every match is here
            return _latest_first(candidates)[:limit]
    recent = matches
    start = _recent_window_start()
    if start is not None:
        recent = recent.filter(last_seen__gte=start)
    ids = list(recent.order_by("-last_seen", "-pk").values_list("pk", flat=True)[:limit])
    if len(ids) < limit:  # the window held too few: older ones from the candidates
        shown = set(ids)
        ids += [pk for pk in _latest_first(candidates) if pk not in shown][: limit - len(ids)]
    return ids


def _latest_first(rows: list[tuple[int, object]]) -> list[int]:
    return [pk for pk, _ in sorted(rows, key=lambda row: (row[1], row[0]), reverse=True)]


def _recent_window_start():
    """The last activity of the ``RECENT_WINDOW``-th latest active profile
    (an index-only walk of the activity index); None when there are fewer."""
    latest = Customer.objects.active().order_by("-last_seen", "-pk")
    window_end = latest.values_list("last_seen", flat=True)[RECENT_WINDOW - 1 : RECENT_WINDOW]
    return next(iter(window_end), None)


def register_sqlite_fold(sender, connection, **kwargs) -> None:
    """``connection_created`` receiver: the fold function on SQLite connections."""
    if connection.vendor == "sqlite":
        connection.connection.create_function("tributary_fold", 1, fold, deterministic=True)
