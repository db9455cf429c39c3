"""Back-office roles: which group may do what, in one readable table.

A role is a Django group. ``ROLES`` maps each role to rules of the form
``"app_label.model"`` pattern (``fnmatch`` wildcards) → actions, plus extra
permission codenames. ``sync_roles`` makes every role group hold exactly the
permissions its rules name among the permissions that exist. It runs from a
data migration and after every ``migrate`` (post_migrate, see
``accounts.apps``), so a model added later by any app joins the roles it
matches without anyone touching the groups by hand.

Superusers are outside roles: they have every permission.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

READ = ("view",)
WRITE = ("view", "add", "change")
FULL = ("view", "add", "change", "delete")

# Seeing emails and phones in full. Everyone else sees them masked
# (lists, pages, exports): see ``accounts.masking``.
SEE_CONTACT_DETAILS = "accounts.view_contact_details"

# Merging profiles by hand (admin action, duplicate review): data stewards
# and superusers; ``customers.services.merging`` checks it again.
MERGE_PROFILES = ("customers.change_customer", "customers.add_merge")

MARKETER = "Marketer"
DATA_STEWARD = "Data steward"
VIEWER = "Viewer"

# What a marketer reads: profiles and everything hanging off them.
_CUSTOMER_DATA = {
    "customers.customer": READ,
    "customers.identity": READ,
    "customers.event": READ,
    "customers.sharedvalue": READ,
    "consent.purpose": READ,
    "consent.consent*": READ,
}

# Segments, file imports and exports are the marketer's own work.
_MARKETING_WORK = {
    "segments.*": FULL,
    "sources.import*": WRITE,
    "sources.export*": WRITE,
    "insights.*": READ,
    "insights.scoring*": FULL,
}

# A data steward configures sources and identity rules, merges and unmerges
# profiles, reviews data quality and answers privacy requests.
_STEWARDSHIP = {
    "customers.customer": FULL,
    "customers.identity": FULL,
    "customers.identifiertype": FULL,
    "customers.sharedvalue": WRITE,  # unflag or block; rows come from what arrives
    "customers.*merge*": FULL,
    "customers.*duplicate*": FULL,
    "customers.dataqualityissue": FULL,
    "consent.*": FULL,
    "sources.*": FULL,
    "customers.*source": FULL,  # sources (a customers model) and their history
    "destinations.*": READ,
    "insights.*": FULL,
}

ROLES: dict[str, dict] = {
    VIEWER: {
        "models": _CUSTOMER_DATA
        | {"segments.*": READ, "sources.import*": READ, "insights.*": READ},
        "extra": [],
    },
    MARKETER: {
        "models": _CUSTOMER_DATA | _MARKETING_WORK,
        "extra": [SEE_CONTACT_DETAILS],
    },
    DATA_STEWARD: {
        "models": _CUSTOMER_DATA | _MARKETING_WORK | _STEWARDSHIP,
        "extra": [SEE_CONTACT_DETAILS, "insights.train_predictivemodel"],
    },
}


def role_grants(role: str, *, app_label: str, model: str, codename: str) -> bool:
    """Whether ``role`` holds the permission ``app_label.codename`` of ``model``."""
    spec = ROLES[role]
    if f"{app_label}.{codename}" in spec["extra"]:
        return True
    action = codename.split("_", 1)[0]
    if codename != f"{action}_{model}":
        return False
    key = f"{app_label}.{model}"
    return any(
        fnmatchcase(key, pattern) and action in actions
        for pattern, actions in spec["models"].items()
    )


def sync_roles(
    *, apps=None, app_labels: Iterable[str] | None = None, using: str = "default"
) -> dict[str, int]:
    """Create the role groups and align their permissions with ``ROLES``.

    ``apps`` is the app registry (a migration passes its historical one);
    ``app_labels`` limits the work to those apps' permissions (post_migrate
    passes the app that was just migrated). Idempotent. Returns how many
    permissions each role holds afterwards (within the synced apps).
    """
    if apps is None:
        from django.apps import apps as global_apps

        apps = global_apps
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    permissions = permission_model.objects.using(using).select_related("content_type")
    if app_labels is not None:
        permissions = permissions.filter(content_type__app_label__in=list(app_labels))
    permissions = list(permissions)
    counts = {}
    for role in ROLES:
        group, _ = group_model.objects.using(using).get_or_create(name=role)
        wanted = {
            p.pk
            for p in permissions
            if role_grants(
                role,
                app_label=p.content_type.app_label,
                model=p.content_type.model,
                codename=p.codename,
            )
        }
        in_scope = {p.pk for p in permissions}
        held = set(group.permissions.filter(pk__in=in_scope).values_list("pk", flat=True))
        if held - wanted:
            group.permissions.remove(*(held - wanted))
        if wanted - held:
            group.permissions.add(*(wanted - held))
        counts[role] = len(wanted)
    return counts
