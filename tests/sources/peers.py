"""A second database connection, to play another worker in concurrency tests."""

import psycopg
from django.db import connection


def other_connection(*, autocommit: bool = False) -> psycopg.Connection:
    """A connection of its own to the test database (PostgreSQL)."""
    settings = connection.settings_dict
    return psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        autocommit=autocommit,
    )
