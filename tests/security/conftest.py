"""Hostile-input suite: every refusal is a 4xx with its error shape, nothing
valid is lost, nothing is left behind."""

from tests.sources.conftest import keyed_source, send  # noqa: F401  (shared fixtures)
