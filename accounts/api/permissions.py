"""Scopes: every API view says which it needs, per action or HTTP method.

    class SegmentViewSet(viewsets.ReadOnlyModelViewSet):
        required_scopes = {"list": ["segments:read"], "retrieve": ["segments:read"]}

``required_scopes`` is a list (the same for every action) or a dict keyed by
viewset action or lower-case HTTP method, with ``"*"`` as a fallback. An API
key needs all the listed scopes; a person signed in by session or token
needs the Django permissions those scopes stand for
(``accounts.scopes.SCOPE_PERMISSIONS``), so back-office roles apply.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from rest_framework.permissions import BasePermission

from accounts.models import ApiKey
from accounts.scopes import SCOPE_PERMISSIONS, unknown_scopes
from core.api.exceptions import ApiError


def required_scopes_for(view, method: str) -> tuple[str, ...]:
    spec = getattr(view, "required_scopes", None)
    if spec is None:
        raise ImproperlyConfigured(f"{type(view).__name__} must set required_scopes")
    if isinstance(spec, dict):
        action = getattr(view, "action", None)
        for key in (action, method.lower(), "*"):
            if key in spec:
                scopes = tuple(spec[key])
                break
        else:
            # OPTIONS needs sign-in only (also while DRF's metadata simulates
            # the POST/PUT it describes); an unhandled method gets its 405
            if method.upper() == "OPTIONS" or action == "metadata":
                return ()
            if not _handles(view, action, method):
                return ()
            raise ImproperlyConfigured(
                f"{type(view).__name__}.required_scopes has no entry for "
                f"action {action!r} / method {method.lower()!r}"
            )
    else:
        scopes = tuple(spec)
    unknown = unknown_scopes(scopes)
    if unknown:
        raise ImproperlyConfigured(f"{type(view).__name__} requires unknown scopes {unknown}")
    return scopes


def _handles(view, action: str | None, method: str) -> bool:
    if hasattr(view, "action_map"):  # a viewset: the router maps methods to actions
        return action is not None
    return hasattr(view, method.lower())


class HasScope(BasePermission):
    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False  # DRF answers 401 (not authenticated)
        required = required_scopes_for(view, request.method)
        if isinstance(request.auth, ApiKey):
            missing = [scope for scope in required if scope not in request.auth.scopes]
        else:
            missing = [
                scope
                for scope in required
                if not request.user.has_perms(SCOPE_PERMISSIONS.get(scope, ("-.-",)))
            ]
        if missing:
            raise ApiError(
                status_code=403,
                code="missing_scope",
                message=f"This needs the scope(s) {', '.join(missing)}.",
                details={"required_scopes": list(required), "missing_scopes": missing},
            )
        return True
