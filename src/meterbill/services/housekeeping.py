"""Periodic upkeep run by the worker's cron."""

from __future__ import annotations

from datetime import datetime

from meterbill.db import stores
from meterbill.db.models import WorkerHeartbeat
from meterbill.db.stores.events import Kept
from meterbill.services.now import utcnow


async def heartbeat(worker: str) -> int:
    """Record that `worker` is alive; returns how many beats it has made."""
    now = utcnow()
    row, created = await WorkerHeartbeat.get_or_create(worker=worker, defaults={"beat_at": now})
    if not created:
        row.beats += 1
        row.beat_at = now
        await row.save(update_fields=["beats", "beat_at"])
    return int(row.beats)


async def keep_events(retention_days: int, now: datetime | None = None) -> Kept:
    """Event storage upkeep, one bounded step (every housekeeping run, every worker):
    partitions ahead of the wall clock, raw events past the retention removed, identifiers
    past the dedupe window removed (db/stores/events.py). `now`: tests pin it."""
    return await stores.current().events.housekeep(now or utcnow(), retention_days)
