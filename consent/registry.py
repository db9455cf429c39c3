"""What each app holds about a person: erasers and exporters, registered by the apps.

``consent`` runs access and erasure requests but never imports the apps
above it (segments, sources, destinations). Instead each app that stores
personal data registers, in its ``AppConfig.ready()``::

    from consent import registry
    registry.register_eraser("segments", erase_memberships)
    registry.register_exporter("segment_memberships", export_memberships)

An **eraser** removes the subject from the app's own tables — history rows,
raw payloads and anything else a cascade from ``Customer`` does not reach —
replaces mentions of their identifiers in rows and files that belong to
others (``core.mentions.Mentions``: the one rule for what a mention is),
and returns how many rows it removed or rewrote. It runs inside the erasure transaction,
before the profiles themselves are deleted, so it can still follow foreign
keys to them. Erasers run newest-registered first, so the base app
(``customers``, registered first) goes last.

An **exporter** returns a JSON-serialisable value (usually a list of dicts)
that becomes ``<name>.json`` in the access-request zip.

A **consent listener** hears which (profile, purpose) pairs changed state,
inside the transaction that changed them: ``segments`` registers one so a
``{"consent": ...}`` segment gains or loses the person in that same
transaction, whichever way the consent came in (tracking API, import, REST,
admin). The consent services call ``consent_changed``; a caller that writes
the profiles themselves later in its transaction (the pipeline's batch)
holds the changes with ``holding_consent_changes`` and hands them on once
its profiles are written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Subject:
    """The person a privacy request is about.

    ``customer_ids``: the profile and every profile merged into it.
    ``identifiers``: every (type, normalized value) pair they are known by,
    including the one the request named.
    """

    customer_ids: tuple[int, ...]
    identifiers: tuple[tuple[str, str], ...]

    @property
    def identifier_values(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(value for _, value in self.identifiers))


Eraser = Callable[[Subject], int]
Exporter = Callable[[Subject], Any]

_erasers: dict[str, Eraser] = {}
_exporters: dict[str, Exporter] = {}


def register_eraser(name: str, eraser: Eraser) -> None:
    """Register (or replace, so ``ready()`` may run twice) the app's eraser."""
    _erasers[name] = eraser


def register_exporter(name: str, exporter: Exporter) -> None:
    _exporters[name] = exporter


def erasers() -> list[tuple[str, Eraser]]:
    """Newest first: apps above run before the base app deletes the profiles."""
    return list(reversed(_erasers.items()))


def exporters() -> list[tuple[str, Exporter]]:
    return list(_exporters.items())


# --- consent changes -----------------------------------------------------------


@dataclass(frozen=True)
class ConsentChange:
    """A profile's current state for a purpose moved (granted, denied, withdrawn)."""

    customer_id: int
    purpose_code: str


ConsentListener = Callable[[Sequence[ConsentChange]], None]

_consent_listeners: dict[str, ConsentListener] = {}
_held: ContextVar[list[ConsentChange] | None] = ContextVar("tributary_held_consent", default=None)


def register_consent_listener(name: str, listener: ConsentListener) -> None:
    """Register (or replace) a function told of every consent change."""
    _consent_listeners[name] = listener


def consent_changed(changes: Iterable[ConsentChange]) -> None:
    """Tell the listeners now, in the caller's transaction (or keep the changes
    for the caller holding them, see ``holding_consent_changes``)."""
    changes = list(dict.fromkeys(changes))
    if not changes:
        return
    held = _held.get()
    if held is not None:
        held.extend(changes)
        return
    for listener in _consent_listeners.values():
        listener(changes)


@contextmanager
def holding_consent_changes() -> Iterator[list[ConsentChange]]:
    """Collect the changes made inside the block instead of announcing them;
    the caller must pass them to ``consent_changed`` before its transaction ends."""
    held: list[ConsentChange] = []
    token = _held.set(held)
    try:
        yield held
    finally:
        _held.reset(token)
