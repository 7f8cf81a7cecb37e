"""Periodic upkeep run by the worker's cron."""

from __future__ import annotations

from meterbill.db.models import WorkerHeartbeat
from meterbill.services.clock import utcnow


async def heartbeat(worker: str) -> int:
    """Record that `worker` is alive; returns how many beats it has made."""
    now = utcnow()
    row, created = await WorkerHeartbeat.get_or_create(worker=worker, defaults={"beat_at": now})
    if not created:
        row.beats += 1
        row.beat_at = now
        await row.save(update_fields=["beats", "beat_at"])
    return int(row.beats)
