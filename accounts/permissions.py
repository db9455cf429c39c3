"""Services re-check that the person acting may do what they ask.

An admin action declares the permission it needs (``@admin.action(
permissions=[...])``) and Django hides it from everyone else; the service it
calls checks again, so a forged POST, another caller or a future view cannot
skip the rule. ``actor=None`` is the system itself (the pipeline, a Celery
task, a management command run by an operator).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied


def require_permissions(actor, *permissions: str, what: str) -> None:
    """Raise ``PermissionDenied`` unless ``actor`` (a person, or None for the
    system) is active and holds every one of ``permissions``."""
    if actor is None:
        return
    if not (actor.is_active and actor.has_perms(permissions)):
        raise PermissionDenied(f"You may not {what}.")
