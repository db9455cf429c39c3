"""REST endpoints of the sources app (registered on core.api.router)."""

from sources.api import imports, profiles, sources  # noqa: F401
