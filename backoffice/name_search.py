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
term, in at most three steps, each reading a bounded number of rows:

1. a glance at the latest ``limit`` x ``GLANCE_PER_RESULT`` active profiles,
   walking the activity index: a common term's results are all there, and
   exact (those profiles are the head of the order results are shown in);
2. a rare term (at most ``CANDIDATE_CAP`` matches): every match, from the
   trigram index (a bitmap scan), sorted in Python;
3. otherwise the latest ``RECENT_WINDOW`` active profiles, walked the same
   way, then older matches from the step-2 candidates if the window holds
   too few. Terms without a trigram (only two-letter words, "a-b") skip
   step 2: the index cannot serve them.

Steps 1 and 3 test words with ``strpos`` so that the planner walks the
activity index instead of reading every match from the trigram index.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from django.core.cache import cache
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
# First, a glance at the latest ``limit`` times this many profiles: a common
# term's results are all there (exact: they are the head of the results' order).
GLANCE_PER_RESULT = 20
MIN_COMMON_EVIDENCE = 3  # glance matches needed to call a term common
# A term with at most this many matches is rare: all of them are read from
# the trigram index and sorted here. Above it, the term is common.
CANDIDATE_CAP = 500
# A common term is looked for among this many latest active profiles.
RECENT_WINDOW = 20_000
# How long a window's edge is reused (a busy site moves it by new activity)
EDGE_SECONDS = 10
_NO_EDGE = "all"  # fewer active profiles than the window (cached: None is a miss)
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
    return _matching(queryset, _plain_words(term), indexed=True)


def _matching(queryset: models.QuerySet, found: list[str], *, indexed: bool) -> models.QuerySet:
    """Longest word first: a scan tests the words in this order and stops at
    the first one missing, and a longer word is missing more often (each
    test folds the row's text again)."""
    if not found:
        return queryset.none()
    for word in sorted(found, key=len, reverse=True):
        queryset = queryset.filter(_holds(word, indexed=indexed))
    return queryset


def _holds(word: str, *, indexed: bool) -> RawSQL:
    """The name text holds ``word``: ``LIKE``, which the trigram index serves,
    or ``strpos``, which it does not (PostgreSQL).

    ``strpos`` is for words without a trigram (two letters, "a-b"), for which
    a ``LIKE`` would read the whole index, and for scans of the recent
    window, which must walk the activity index rather than the trigram one."""
    if connection.vendor == "postgresql" and not (indexed and _has_trigram(word)):
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
    queryset = queryset.order_by("-last_seen", "-pk")
    if connection.vendor != "postgresql":
        return list(_matching(queryset, found, indexed=True).values_list("pk", flat=True)[:limit])
    scanned = _matching(queryset, found, indexed=False)
    # 1. a glance at the latest few profiles: enough matches there for a common term
    glance = limit * GLANCE_PER_RESULT
    ids = _among_latest(scanned, window=glance, limit=limit)
    if len(ids) == limit:
        return ids
    # 2. a rare term: every match, from the trigram index, sorted here (skipped
    # when the glance already shows that the recent window holds enough: twice
    # the results expected there, from at least a few matches, as one or two
    # recent matches of a rare name prove nothing)
    indexed = any(_has_trigram(word) for word in found)
    expected = len(ids) * RECENT_WINDOW / glance
    common = len(ids) >= MIN_COMMON_EVIDENCE and expected >= 2 * limit
    candidates: list[tuple[int, datetime]] = []
    if indexed and not common:
        candidates = _candidates(queryset, found)
        if len(candidates) <= CANDIDATE_CAP:
            return _latest_first(candidates)[:limit]
    # 3. a common term, or one without trigrams: the recent window, then older candidates
    ids = _among_latest(scanned, window=RECENT_WINDOW, limit=limit)
    if len(ids) < limit:
        if indexed and common:
            candidates = _candidates(queryset, found)
        shown = set(ids)
        ids += [pk for pk in _latest_first(candidates) if pk not in shown][: limit - len(ids)]
    return ids


def _candidates(queryset: models.QuerySet, found: list[str]) -> list[tuple[int, datetime]]:
    """Up to ``CANDIDATE_CAP`` + 1 matches, in no order: a bitmap scan of the trigram index."""
    matches = _matching(queryset.order_by(), found, indexed=True)
    return list(matches.values_list("pk", "last_seen")[: CANDIDATE_CAP + 1])


def _among_latest(scanned: models.QuerySet, *, window: int, limit: int) -> list[int]:
    """The first ``limit`` of ``scanned`` (latest first) among the ``window``
    most recently active profiles: the activity index is walked from its
    start, and no further than the window's edge (``_window_edge``)."""
    edge = _window_edge(window)
    if isinstance(edge, datetime):  # else fewer profiles than the window: all of them
        scanned = scanned.filter(last_seen__gte=edge)
    return list(scanned.values_list("pk", flat=True)[:limit])


def _window_edge(window: int) -> datetime | object:
    """The last activity of the ``window``-th latest active profile (an
    index-only walk), ``_NO_EDGE`` when there are fewer; kept for
    ``EDGE_SECONDS``.

    Any edge keeps the results exact, as the window it cuts is still the head
    of the results' order; a stale one only makes the window a little longer
    (or shorter). It is passed as a value, rather than a subquery: the planner
    then sees a short range and walks it alone (a subquery's unknown edge got
    a parallel plan, whose workers take longer to start than the walk)."""
    key = f"name-search:edge:{window}"
    edge = cache.get(key)
    if edge is None:
        latest = Customer.objects.active().order_by("-last_seen", "-pk")
        found = latest.values_list("last_seen", flat=True)[window - 1 : window]
        edge = next(iter(found), _NO_EDGE)
        cache.set(key, edge, EDGE_SECONDS)
    return edge


def _latest_first(rows: list[tuple[int, datetime]]) -> list[int]:
    return [pk for pk, _ in sorted(rows, key=lambda row: (row[1], row[0]), reverse=True)]


def register_sqlite_fold(sender, connection, **kwargs) -> None:
    """``connection_created`` receiver: the fold function on SQLite connections."""
    if connection.vendor == "sqlite":
        connection.connection.create_function("tributary_fold", 1, fold, deterministic=True)
