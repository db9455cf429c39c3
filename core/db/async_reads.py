"""Single-row reads from PostgreSQL on the event loop, for the few hot paths
that answer without Django's request machinery (``sources.personalization.warm``).

Django's ORM is synchronous: under the uvicorn workers every view runs in a
thread, and a read that takes 0.3 ms in PostgreSQL costs several ms of
thread hand-offs and middleware. Here one ``psycopg_pool.AsyncConnectionPool``
per event loop (a worker has one) holds a few autocommit connections made
from ``DATABASES["default"]``; callers send plain SQL with parameters.
Nothing here writes.
"""

from __future__ import annotations

import asyncio

from django.conf import settings
from django.db import connections
from psycopg_pool import AsyncConnectionPool

POOL_SIZE = 4  # per worker; each read holds a connection for well under a millisecond
WAIT_SECONDS = 5.0  # for a free connection, before the caller gets psycopg_pool.PoolTimeout
_pools: dict[asyncio.AbstractEventLoop, AsyncConnectionPool] = {}


def available() -> bool:
    """Only on PostgreSQL (the reads are written in its SQL)."""
    return "postgresql" in settings.DATABASES["default"]["ENGINE"]


def _connection_kwargs() -> dict:
    params = connections["default"].get_connection_params()
    # Django's cursor class and adapters are for its synchronous connections;
    # these reads pass and return plain values
    for name in ("cursor_factory", "context"):
        params.pop(name, None)
    params["autocommit"] = True
    # Django turns server-side prepared statements off for poolers that lack
    # them; these few statements run on every page view, so they are prepared
    # on first use (PgBouncer >= 1.21 keeps them) unless OPTIONS says otherwise
    if "prepare_threshold" not in settings.DATABASES["default"].get("OPTIONS", {}):
        params["prepare_threshold"] = 0
    return params


async def _pool() -> AsyncConnectionPool:
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)
    if pool is None:
        pool = AsyncConnectionPool(
            kwargs=_connection_kwargs(),
            min_size=1,
            max_size=POOL_SIZE,
            open=False,
            timeout=WAIT_SECONDS,
            name="warm-reads",
        )
        _pools[loop] = pool
        await pool.open()
    return pool


async def fetch_one(sql: str, params: list) -> tuple | None:
    """The first row of ``sql`` (or None), on a pooled autocommit connection."""
    pool = await _pool()
    async with pool.connection() as connection, connection.cursor() as cursor:
        await cursor.execute(sql, params)
        return await cursor.fetchone()


async def close_pools() -> None:
    """Close this loop's pool (tests; a worker's pool lives as long as it does)."""
    pool = _pools.pop(asyncio.get_running_loop(), None)
    if pool is not None:
        await pool.close()
