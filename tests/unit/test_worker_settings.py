"""The worker's schedule follows its settings: MB_HOUSEKEEPING_INTERVAL_MINUTES sets how
often each worker writes its heartbeat row."""

from __future__ import annotations


def test_housekeeping_runs_every_configured_interval(monkeypatch) -> None:
    from meterbill.config import get_settings
    from meterbill.worker.settings import cron_jobs

    monkeypatch.setenv("MB_HOUSEKEEPING_INTERVAL_MINUTES", "15")
    get_settings.cache_clear()
    try:
        (heartbeat,) = [c for c in cron_jobs() if c.name == "cron:housekeeping"]
        assert heartbeat.minute == {0, 15, 30, 45} and heartbeat.second == {0}
    finally:
        get_settings.cache_clear()
