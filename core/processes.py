"""Process-wide settings for long-lived worker processes (Celery, gunicorn)."""

from __future__ import annotations

import gc


def freeze_startup_heap(**_signal_kwargs) -> None:
    """Leave what the process loaded at startup out of garbage collection.

    Modules, Django's app registry, pandas, scikit-learn and phone-number
    metadata live as long as the process, yet every full collection walks
    them all again: in an import batch that was a quarter of the CPU time,
    in a web worker a pause mid-request. ``gc.freeze`` moves them to the
    permanent generation (still freed by reference counting).
    """
    gc.collect()
    gc.freeze()
