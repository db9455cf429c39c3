import runpy
from pathlib import Path

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "gunicorn.conf.py"


def test_workers_are_recycled_rarely_and_not_together(monkeypatch):
    monkeypatch.delenv("TRIBUTARY_MAX_REQUESTS", raising=False)
    config = runpy.run_path(str(CONFIG))
    # at ~150 requests/s a worker lives for 20+ minutes, not 30 s
    assert config["max_requests"] >= 150 * 60 * 20
    assert config["max_requests_jitter"] == config["max_requests"] // 10


def test_recycling_can_be_set_or_turned_off(monkeypatch):
    monkeypatch.setenv("TRIBUTARY_MAX_REQUESTS", "0")
    config = runpy.run_path(str(CONFIG))
    assert (config["max_requests"], config["max_requests_jitter"]) == (0, 0)


def test_each_worker_freezes_its_startup_heap():
    import gc

    config = runpy.run_path(str(CONFIG))
    gc.unfreeze()
    try:
        config["post_worker_init"](worker=None)
        assert gc.get_freeze_count() > 10_000  # Django, the apps and their libraries
    finally:
        gc.unfreeze()
