"""Run real migrations backwards and forwards in a test (needs a transactional test).

Use with ``@pytest.mark.django_db(transaction=True, serialized_rollback=True)``
so the data the migrations seeded is restored afterwards.
"""

from __future__ import annotations

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate(app_label: str, name: str):
    """Migrate ``app_label`` to ``name``; returns the historical apps of that state."""
    executor = MigrationExecutor(connection)
    executor.migrate([(app_label, name)])
    executor.loader.build_graph()
    return executor.loader.project_state((app_label, name)).apps


def migrate_to_latest() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
