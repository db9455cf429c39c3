"""Namespaced transaction-level advisory locks (PostgreSQL).

A lock is named by a namespace (``"identity"``) and a string within it
(``"email:ann@example.com"``); each pair maps to one 64-bit key. Locks are
taken in sorted key order, so two transactions locking overlapping sets
serialise and never deadlock on each other. They last until the transaction
ends, which is why the helpers refuse to run outside one: a lock taken in
autocommit mode would be released before the caller's next statement.

SQLite serialises writers already (transactions start IMMEDIATE): there the
helpers check the transaction and lock nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.db import connection


class LockOutsideTransaction(RuntimeError):
    """An advisory lock was asked for with no transaction to hold it."""


def lock_key(namespace: str, name: str) -> int:
    digest = hashlib.blake2b(f"{namespace}:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _require_transaction() -> None:
    if not connection.in_atomic_block:
        raise LockOutsideTransaction("advisory locks are held until commit: open a transaction")


def lock(namespace: str, names: Iterable[str]) -> None:
    """Wait for and take the locks on ``names`` until the transaction ends."""
    _require_transaction()
    if connection.vendor != "postgresql":
        return
    keys = sorted({lock_key(namespace, name) for name in names})
    if keys:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k ORDER BY k",
                [keys],
            )


def try_lock(namespace: str, names: Iterable[str]) -> set[str]:
    """Take the locks on ``names`` that are free, without waiting; return the
    names another transaction holds (which this one does not get). Never
    deadlocks, whatever the order."""
    _require_transaction()
    if connection.vendor != "postgresql":
        return set()
    by_key: dict[int, list[str]] = {}
    for name in set(names):
        by_key.setdefault(lock_key(namespace, name), []).append(name)
    if not by_key:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT k FROM unnest(%s::bigint[]) AS k WHERE NOT pg_try_advisory_xact_lock(k)",
            [sorted(by_key)],
        )
        return {name for (key,) in cursor.fetchall() for name in by_key[key]}
