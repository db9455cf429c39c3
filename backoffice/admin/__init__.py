"""The composed admin: one admin class per model that several apps add to.

Each app's ``admin.py`` registers the admins of its own models and exports
mixins for the shared ones (customers: profile, identity and event lists;
segments: the rule builder; sources: export actions; backoffice: the 360°
page). Here each shared model gets ONE class, composed from those mixins on
one role-aware base (``accounts.admin_roles``: ``RoleAwareAdmin``, or
``HistoryAdmin`` for models with history), and is registered once. Nothing
is unregistered or built at import time, so ``INSTALLED_APPS`` order does
not matter.
"""

from backoffice.admin import events, profiles, segments  # noqa: F401 - register their admins
