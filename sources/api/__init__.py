"""REST endpoints of the sources app (registered on cdp_site.api.router)."""

from sources.api import imports, profiles, sources  # noqa: F401
