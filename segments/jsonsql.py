"""Typed reads of one key of a JSON column, written once per database.

Django's own key transforms compare JSON values with each database's rules
(PostgreSQL orders jsonb types, SQLite compares its storage classes), so a
trait ``"500"`` (text) and ``500`` (number) behave differently on the two.
These expressions make the type explicit: a comparison only ever sees the
kind of value it asks for, and the answer is the same on both databases.

Keys are validated by ``segments.rules`` (no quotes or backslashes) and
passed as parameters.
"""

from __future__ import annotations

from django.db.models import BooleanField, CharField, F, FloatField, Func, TextField


class _JsonKey(Func):
    def __init__(self, column: str | F, key: str, **extra):
        super().__init__(F(column) if isinstance(column, str) else column, **extra)
        self.key = key

    @property
    def _path(self) -> str:
        return f'$."{self.key}"'

    def _column(self, compiler, connection) -> tuple[str, list]:
        sql, params = compiler.compile(self.source_expressions[0])
        return sql, list(params)

    def as_sql(self, compiler, connection, **extra):  # pragma: no cover - other backends
        raise NotImplementedError(f"{type(self).__name__} supports PostgreSQL and SQLite")


class JsonKind(_JsonKey):
    """'string', 'number', 'boolean', 'null', 'array', 'object' or 'missing'."""

    output_field = CharField()

    def as_postgresql(self, compiler, connection, **extra):
        col, params = self._column(compiler, connection)
        return f"COALESCE(jsonb_typeof({col} -> %s), 'missing')", [*params, self.key]

    def as_sqlite(self, compiler, connection, **extra):
        col, params = self._column(compiler, connection)
        sql = (
            f"COALESCE(CASE json_type({col}, %s) WHEN 'text' THEN 'string' "
            "WHEN 'integer' THEN 'number' WHEN 'real' THEN 'number' "
            "WHEN 'true' THEN 'boolean' WHEN 'false' THEN 'boolean' "
            f"ELSE json_type({col}, %s) END, 'missing')"
        )
        return sql, [*params, self._path, *params, self._path]


class JsonText(_JsonKey):
    """The value as text; meaningful when ``JsonKind`` is 'string'."""

    output_field = TextField()

    def as_postgresql(self, compiler, connection, **extra):
        col, params = self._column(compiler, connection)
        return f"({col} ->> %s)", [*params, self.key]

    def as_sqlite(self, compiler, connection, **extra):
        col, params = self._column(compiler, connection)
        return f"json_extract({col}, %s)", [*params, self._path]


class JsonNumber(_JsonKey):
    """The value as a double when it is a JSON number, else NULL.

    With ``text``, also when it is a string written as a plain decimal number
    (``"500"``, ``"500.00"``, ``"-2.5"``: no sign other than a leading ``-``,
    no leading zero, no spaces, up to 15 digits before and after the point),
    as custom traits imported or sent as text often are. Both databases read
    the same strings as numbers.
    """

    output_field = FloatField()
    NUMERIC_TEXT = r"^-?(0|[1-9][0-9]{0,14})(\.[0-9]{1,15})?"

    def __init__(self, column: str | F, key: str, *, text: bool = False, **extra):
        super().__init__(column, key, **extra)
        self.text = text

    def as_postgresql(self, compiler, connection, **extra):
        col, params = self._column(compiler, connection)
        sql = f"WHEN jsonb_typeof({col} -> %s) = 'number' THEN ({col} ->> %s)::double precision"
        sql_params = [*params, self.key, *params, self.key]
        if self.text:
            sql += (
                f" WHEN jsonb_typeof({col} -> %s) = 'string' AND ({col} ->> %s) ~ %s"
                f" THEN ({col} ->> %s)::double precision"
            )
            sql_params += [*params, self.key, *params, self.key, self.NUMERIC_TEXT + "$"]
            sql_params += [*params, self.key]
        return f"(CASE {sql} END)", sql_params

    def as_sqlite(self, compiler, connection, **extra):
        col, params = self._column(compiler, connection)
        sql = (
            f"WHEN json_type({col}, %s) IN ('integer', 'real') "
            f"THEN CAST(json_extract({col}, %s) AS REAL)"
        )
        sql_params = [*params, self._path, *params, self._path]
        if self.text:  # Django gives SQLite connections a Python REGEXP
            sql += (
                f" WHEN json_type({col}, %s) = 'text' AND json_extract({col}, %s) REGEXP %s"
                f" THEN CAST(json_extract({col}, %s) AS REAL)"
            )
            sql_params += [*params, self._path, *params, self._path, self.NUMERIC_TEXT + r"\Z"]
            sql_params += [*params, self._path]
        return f"(CASE {sql} END)", sql_params


class JsonIsBool(_JsonKey):
    """True when the value is the JSON boolean ``expected``; never NULL."""

    output_field = BooleanField()

    def __init__(self, column: str | F, key: str, expected: bool):
        super().__init__(column, key)
        self.expected = expected

    def as_postgresql(self, compiler, connection, **extra):
        col, params = self._column(compiler, connection)
        literal = "true" if self.expected else "false"
        return f"COALESCE(({col} -> %s) = '{literal}'::jsonb, false)", [*params, self.key]

    def as_sqlite(self, compiler, connection, **extra):
        col, params = self._column(compiler, connection)
        literal = "true" if self.expected else "false"
        return f"COALESCE(json_type({col}, %s) = '{literal}', 0)", [*params, self._path]
