"""Bulk inserts for the hot write paths: ``COPY`` on PostgreSQL.

``bulk_create`` on PostgreSQL sends each column as an ``UNNEST`` array that
psycopg quotes element by element in Python, after Django has prepared every
value through the model field: together a third of the pipeline's time.
psycopg writes ``COPY`` rows in C, and the plain values (strings, integers,
booleans, aware datetimes) need no preparing. Other databases get
``bulk_create``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import cache
from operator import itemgetter

from django.conf import settings
from django.db import connections, models, transaction
from django.utils import timezone
from simple_history.utils import get_change_reason_from_object

# Field classes whose database value is the Python value itself, for these types.
_PLAIN_TYPES: dict[type[models.Field], tuple[type, ...]] = {
    models.CharField: (str,),
    models.TextField: (str,),
    models.EmailField: (str,),
    models.SlugField: (str,),
    models.IntegerField: (int,),
    models.BigIntegerField: (int,),
    models.SmallIntegerField: (int,),
    models.PositiveIntegerField: (int,),
    models.PositiveSmallIntegerField: (int,),
    models.AutoField: (int,),
    models.BigAutoField: (int,),
    models.BooleanField: (bool,),
    models.ForeignKey: (int,),
}


def insert_rows(
    model: type[models.Model],
    objs: Sequence[models.Model],
    *,
    set_pks: bool = False,
    history: bool = False,
    date=None,
) -> None:
    """Insert new instances of ``model`` in bulk.

    With ``set_pks`` the primary keys are drawn from the table's sequence
    first and set on the instances, as ``bulk_create`` does. Without it,
    instances numbered already (``number_rows``) keep their keys, and others
    are numbered by the database (on PostgreSQL they keep ``pk=None``).
    With ``history`` their "+" history rows follow, as ``insert_history``
    writes them (``date`` for those that name none), built from the values
    just inserted; it implies ``set_pks`` for instances not numbered yet.
    """
    if not objs:
        return
    connection = connections[model.objects.db]
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objs)
        if history:
            insert_history(model, objs, date=date)
        return
    if set_pks or (history and objs[0].pk is None):
        number_rows(model, objs)
    numbered = objs[0].pk is not None
    fields = [f for f in model._meta.concrete_fields if not f.primary_key or numbered]
    stamped = [
        f for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    ]
    for obj in objs:
        for field in stamped:
            field.pre_save(obj, add=True)
        obj._state.adding = False
        obj._state.db = connection.alias
    attnames = [f.attname for f in fields]
    # each row encoded once: its history row reuses the encoded values
    rows = _encoded(connection, fields, ([getattr(obj, a) for a in attnames] for obj in objs))
    _copy(connection, model, fields, rows, encoded=True)
    if not history or not getattr(settings, "SIMPLE_HISTORY_ENABLED", True):
        return
    layout = _HistoryLayout(model, update=False, date=date)
    if any(hasattr(obj, a) for obj in objs for a in _HISTORY_OVERRIDES):
        layout.write([layout.row_of(obj) for obj in objs])
    else:
        layout.write(layout.rows_from_values(attnames, rows, encoded=True), encoded=True)


def insert_values(
    model: type[models.Model], attnames: Sequence[str], rows: Iterable[Sequence[object]]
) -> None:
    """Insert rows given as plain values, in ``attnames`` order, without
    building model instances (for the hottest paths: events and their outbox
    entries). Every column without a database default must be listed."""
    connection = connections[model.objects.db]
    if connection.vendor != "postgresql":
        model.objects.bulk_create(model(**dict(zip(attnames, row, strict=True))) for row in rows)
        return
    _copy(connection, model, [model._meta.get_field(name) for name in attnames], rows)


def update_values(
    model: type[models.Model],
    attnames: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    increment: Sequence[str] = (),
) -> None:
    """Set the columns ``attnames[1:]`` of many rows, each found by its value of
    ``attnames[0]`` (the primary key, usually), from plain Python values; the
    integer columns ``increment`` go up by one in the same statement.

    PostgreSQL: the rows go into a temporary table by ``COPY`` and one
    ``UPDATE … FROM`` joins it (a statement per row, or one with a ``CASE``
    or ``VALUES`` list, is quoted in Python value by value). Elsewhere: an
    ``executemany`` of one ``UPDATE`` per row.
    """
    rows = list(rows)
    if not rows:
        return
    connection = connections[model.objects.db]
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in attnames]
    key, *changed = (quote(f.column) for f in fields)
    table = quote(model._meta.db_table)
    increments = [
        f"{quote(column)} = {table}.{quote(column)} + 1"
        for column in (model._meta.get_field(name).column for name in increment)
    ]
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            assignments = ", ".join([*(f"{column} = %s" for column in changed), *increments])
            prepared = (
                [f.get_db_prep_save(v, connection) for f, v in zip(fields, row, strict=True)]
                for row in rows
            )
            cursor.executemany(
                f"UPDATE {table} SET {assignments} WHERE {key} = %s",  # noqa: S608 - names from model meta
                [[*values[1:], values[0]] for values in prepared],
            )
            return
        temporary = quote(f"update_{model._meta.db_table}")
        columns = ", ".join((key, *changed))
        cursor.execute(f"DROP TABLE IF EXISTS {temporary}")
        # the columns' own types, taken from the table
        cursor.execute(
            f"CREATE TEMPORARY TABLE {temporary} AS SELECT {columns} FROM {table} WITH NO DATA"  # noqa: S608
        )
        encoders = [_encoder(connection, field) for field in fields]
        with (
            connection.wrap_database_errors,
            cursor.cursor.copy(f"COPY {temporary} ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row([encode(v) for encode, v in zip(encoders, row, strict=True)])
        cursor.execute(f"ANALYZE {temporary}")
        assignments = ", ".join([*(f"{column} = v.{column}" for column in changed), *increments])
        cursor.execute(
            f"UPDATE {table} SET {assignments} FROM {temporary} AS v "  # noqa: S608
            f"WHERE {table}.{key} = v.{key}"
        )
        cursor.execute(f"DROP TABLE {temporary}")


def reserve_ids(model: type[models.Model], count: int) -> list[int] | None:
    """``count`` primary keys from the table's sequence (PostgreSQL), or None
    where ids are only known once rows are inserted."""
    connection = connections[model.objects.db]
    if connection.vendor != "postgresql" or not count:
        return None
    return _next_ids(connection, model, count)


def number_rows(model: type[models.Model], objs: Sequence[models.Model]) -> bool:
    """Give unsaved instances their primary keys before they are inserted,
    where the database allows it (PostgreSQL: from the table's sequence).

    Rows that refer to them can then be written first (foreign keys are
    checked at commit) and the instances inserted once, with their final
    values, by ``insert_rows``. Returns False, doing nothing, elsewhere.
    """
    ids = reserve_ids(model, len(objs))
    if ids is None:
        return False
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
    return True


def insert_history(
    model: type[models.Model], objs: Sequence[models.Model], *, update: bool = False, date=None
) -> None:
    """Historical rows for ``objs`` ("+", or "~" with ``update``), with the
    values django-simple-history's ``bulk_history_create`` gives them;
    columns it does not set (``history_actor``) take their default once."""
    if not objs or not getattr(settings, "SIMPLE_HISTORY_ENABLED", True):
        return
    layout = _HistoryLayout(model, update=update, date=date)
    rows = [layout.row_of(obj) for obj in objs]
    layout.write(rows)


def insert_values_with_history(
    model: type[models.Model], attnames: Sequence[str], rows: Sequence[Sequence[object]]
) -> None:
    """Insert new rows given as plain values (``attnames`` order, no primary
    key), and their "+" history rows from the same values, as
    ``insert_history`` writes them for fresh instances: no model instances.

    PostgreSQL numbers the rows from the sequence first; elsewhere
    ``bulk_create`` returns their keys for the history rows.
    """
    if not rows:
        return
    connection = connections[model.objects.db]
    pk = model._meta.pk.attname
    if connection.vendor != "postgresql":
        objs = model.objects.bulk_create(
            [model(**dict(zip(attnames, row, strict=True))) for row in rows]
        )
        insert_history(model, objs)
        return
    ids = _next_ids(connection, model, len(rows))
    columns = (pk, *attnames)
    fields = [model._meta.get_field(name) for name in columns]
    # each row encoded once: its history row reuses the encoded values
    numbered = _encoded(
        connection, fields, ((pk_value, *row) for pk_value, row in zip(ids, rows, strict=True))
    )
    _copy(connection, model, fields, numbered, encoded=True)
    if getattr(settings, "SIMPLE_HISTORY_ENABLED", True):
        layout = _HistoryLayout(model, update=False, date=None)
        layout.write(layout.rows_from_values(columns, numbered, encoded=True), encoded=True)


# attributes through which an instance names its own history user, date or reason
_HISTORY_OVERRIDES = ("_history_user", "_history_date", "_change_reason")


class _HistoryLayout:
    """How a model's history rows are built: each column either taken from
    the model's own row or one value for the whole call (type, date, the
    request's user, ``history_actor`` and other defaults)."""

    def __init__(self, model: type[models.Model], *, update: bool, date) -> None:
        self.history = history = model.history.model
        self.tracked = tracked = {field.attname for field in history.tracked_fields}
        self.fields = fields = [f for f in history._meta.concrete_fields if not f.primary_key]
        self.attnames = [f.attname for f in fields]
        self.date = date or timezone.now()
        # the request's user when an object names none: the same for every object
        self._default_user = cache(lambda: history.get_default_history_user(None))
        self.constant = {
            **{f.attname: f.get_default() for f in fields if f.attname not in tracked},
            "history_type": "~" if update else "+",
        }

    def _shared(self) -> dict[str, object]:
        return {
            **self.constant,
            "history_date": self.date,
            "history_user_id": getattr(self._default_user(), "pk", None),
            "history_change_reason": "",
        }

    def row_of(self, obj: models.Model) -> list[object]:
        user = getattr(obj, "_history_user", None) or self._default_user()
        values = {
            "history_date": getattr(obj, "_history_date", self.date),
            "history_user_id": getattr(user, "pk", None),
            "history_change_reason": get_change_reason_from_object(obj) or "",
        }
        constant = self.constant
        return [
            values[n] if n in values else constant[n] if n in constant else getattr(obj, n)
            for n in self.attnames
        ]

    def rows_from_values(
        self, columns: Sequence[str], rows: Iterable[Sequence[object]], *, encoded: bool = False
    ) -> list[tuple]:
        """History rows for the model's rows ``rows`` (values in ``columns``
        order, every tracked column among them), for objects that name no
        history user, date or reason of their own. With ``encoded``, ``rows``
        are ``COPY`` values already (``_encoded``) and so are the history rows:
        a history column has its tracked column's type."""
        shared = self._shared()
        if encoded:
            connection = connections[self.history.objects.db]
            shared = {
                f.attname: _encoder(connection, f)(shared[f.attname])
                for f in self.fields
                if f.attname in shared
            }
        position = {name: i for i, name in enumerate(columns)}
        missing = self.tracked - position.keys()
        if missing:
            raise ValueError(f"history needs the columns {sorted(missing)}")
        # a history row is the model's row and the shared values, picked in
        # the history table's column order
        constants = tuple(shared[n] for n in self.attnames if n not in self.tracked)
        at = iter(range(len(columns), len(columns) + len(constants)))
        pick = itemgetter(*(position[n] if n in self.tracked else next(at) for n in self.attnames))
        return [pick((*row, *constants)) for row in rows]

    def write(self, rows: Sequence[Sequence[object]], *, encoded: bool = False) -> None:
        history = self.history
        connection = connections[history.objects.db]
        if connection.vendor == "postgresql":
            _copy(connection, history, self.fields, rows, encoded=encoded)
        else:
            history.objects.bulk_create(
                [history(**dict(zip(self.attnames, row, strict=True))) for row in rows]
            )


def _encoded(connection, fields, rows: Iterable[Sequence[object]]) -> list[list[object]]:
    """Rows of Python values as ``COPY`` writes them (``_copy(..., encoded=True)``)."""
    encoders = [_encoder(connection, field) for field in fields]
    return [[encode(v) for encode, v in zip(encoders, row, strict=True)] for row in rows]


def _copy(connection, model, fields, rows, *, encoded: bool = False) -> None:
    if not encoded:
        rows = _encoded(connection, fields, rows)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    sql = f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"
    # psycopg's own errors, as Django's (IntegrityError…), like any query's
    with (
        connection.wrap_database_errors,
        connection.cursor() as cursor,
        cursor.cursor.copy(sql) as copy,
    ):
        for row in rows:
            copy.write_row(row)


def _next_ids(connection, model: type[models.Model], count: int) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [connection.ops.quote_name(model._meta.db_table), model._meta.pk.column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def _encoder(connection, field: models.Field) -> Callable[[object], object]:
    """How one column's Python value is written in a text COPY row."""
    if isinstance(field, models.JSONField):
        # one encoder for the column (json.dumps would build one per value)
        to_json = (field.encoder or json.JSONEncoder)().encode

        def encode_json(value):
            return None if value is None else to_json(value)

        return encode_json
    plain = _PLAIN_TYPES.get(type(field), ())
    prepare = field.get_db_prep_save
    aware_datetimes = isinstance(field, models.DateTimeField)

    def encode(value):
        if value is None or type(value) in plain:
            return value
        if aware_datetimes and type(value) is datetime and value.tzinfo is not None:
            return value
        return prepare(value, connection)

    return encode
