"""Hostile-input suite: every refusal is a 4xx with its error shape, nothing
valid is lost, nothing is left behind."""

from tests.api.conftest import full_api_client, make_api_client  # noqa: F401  (shared fixtures)
from tests.sources.conftest import keyed_source, send  # noqa: F401
