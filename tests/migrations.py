"""Run real migrations backwards and forwards in a test (needs a transactional test).

Use with ``@pytest.mark.django_db(transaction=True, serialized_rollback=True)``
so the data the migrations seeded is restored afterwards.
"""

from __future__ import annotations

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate(app_label: str, name: str, *, state_of: tuple[str, str] | None = None):
    """Migrate ``app_label`` to ``name`` (``"zero"``: unapply all); returns the
    historical apps of that state, or of the node ``state_of`` if given."""
    executor = MigrationExecutor(connection)
    executor.migrate([(app_label, None if name == "zero" else name)])
    executor.loader.build_graph()
    return executor.loader.project_state(state_of or (app_label, name)).apps


def migrate_to_latest() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
