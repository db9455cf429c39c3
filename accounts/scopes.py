"""API scopes: what an API key may do, and what a person needs to do the same.

A key carries a list of scopes. A person signed in through a session or a
token has no scopes; the Django model permissions listed here stand in for
them, so the back-office roles (groups) apply to the API too. Each app keeps
its line of ``SCOPE_PERMISSIONS`` in step with its models.
"""

from __future__ import annotations

SCOPES: dict[str, str] = {
    "profiles:read": "Read profiles, their identities and traits; list customers",
    "profiles:write": "Update profile traits",
    "events:read": "Read a profile's event timeline",
    "segments:read": "Read segments and their members",
    "consent:read": "Read consent records",
    "consent:write": "Record consent given or withdrawn",
    "privacy:write": "Open and run access and erasure requests",
    "sources:admin": "List and create sources, rotate write keys",
    "imports:write": "Upload files and run import jobs",
}

SCOPE_CHOICES: list[tuple[str, str]] = [(name, name) for name in SCOPES]

# scope -> Django permissions ("app_label.codename") a person needs instead.
SCOPE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "profiles:read": ("customers.view_customer",),
    "profiles:write": ("customers.change_customer",),
    "events:read": ("customers.view_event",),
    "segments:read": ("segments.view_segment",),
    "consent:read": ("consent.view_consentrecord",),
    "consent:write": ("consent.add_consentrecord",),
    "privacy:write": ("consent.add_datasubjectrequest",),
    "sources:admin": ("customers.add_source", "customers.change_source"),
    "imports:write": ("sources.add_importjob",),
}


def unknown_scopes(scopes: list[str] | tuple[str, ...] | set[str]) -> list[str]:
    return sorted(set(scopes) - set(SCOPES))
