"""Who made a change: the actor recorded on every historical row.

django-simple-history records the admin user itself (its middleware is on);
API keys and sources are not users, so every audited history table also
carries ``history_actor``, a short label:

* ``user:<username>`` — a person in the admin (or a session-authenticated API call)
* ``api_key:<name>`` — a REST API call made with an API key
* ``source:<id>`` — ingestion (tracking API, file import) from that source
* ``system`` — anything else (migrations, shell, management commands)

The label is the field's default, so it is filled for ``save()`` and for
``bulk_create_with_history`` alike, without signals. Code that acts for
someone wraps the work in ``acting_as(...)``; the request middleware resets
the actor around each request so a label never leaks into the next one.

Use ``audited_history()`` instead of ``HistoricalRecords()`` on every model
people edit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import models
from simple_history.models import HistoricalRecords

SYSTEM = "system"
_actor: ContextVar[str | None] = ContextVar("tributary_audit_actor", default=None)


def user_label(user) -> str:
    return f"user:{user.get_username()}"


def api_key_label(name: str) -> str:
    return f"api_key:{name}"


def source_label(source_id: int) -> str:
    return f"source:{source_id}"


def current_actor() -> str:
    """The label of whoever is acting now (the default of ``history_actor``)."""
    label = _actor.get()
    if label:
        return label
    request = getattr(HistoricalRecords.context, "request", None)
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user_label(user)
    return SYSTEM


@contextmanager
def acting_as(label: str, *, override: bool = True) -> Iterator[None]:
    """Attribute every change made inside the block to ``label``.

    With ``override=False`` an actor already set wins: a REST write that goes
    through the pipeline stays attributed to its API key, not to the source.
    """
    token = _actor.set(label if override or not _actor.get() else _actor.get())
    try:
        yield
    finally:
        _actor.reset(token)


def set_request_actor(label: str) -> None:
    """Attribute the rest of the current request to ``label``.

    For authentication classes, which cannot wrap the view in a block; the
    ``AuditActorMiddleware`` clears it when the request ends.
    """
    _actor.set(label)


class AuditActorMiddleware:
    """Start and end every request with no actor set (see ``set_request_actor``)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _actor.set(None)
        try:
            return self.get_response(request)
        finally:
            _actor.reset(token)


class HistoryActor(models.Model):
    """Abstract base of every audited historical model: adds ``history_actor``."""

    history_actor = models.CharField(
        max_length=200, default=current_actor, db_index=True, editable=False
    )

    class Meta:
        abstract = True


def audited_history(**kwargs) -> HistoricalRecords:
    """``HistoricalRecords`` whose rows also say who acted (``history_actor``)."""
    return HistoricalRecords(bases=[HistoryActor], **kwargs)
