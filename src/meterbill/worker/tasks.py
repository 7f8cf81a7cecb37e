"""Tasks: unpack arguments, call one service."""

from __future__ import annotations

from typing import Any

from arq.worker import func

from meterbill.services import housekeeping as hk
from meterbill.services import idempotency, usage


async def housekeeping(ctx: dict[str, Any]) -> int:
    return await hk.heartbeat(ctx["worker_name"])


async def aggregate_usage(ctx: dict[str, Any]) -> int:
    """Requested after each ingest; several may run at once (they split the backlog)."""
    return await usage.drain()


async def sweep_usage(ctx: dict[str, Any]) -> int:
    """Cron: aggregates whatever a lost or never-enqueued job left behind."""
    return await usage.drain()


async def purge_idempotency_keys(ctx: dict[str, Any]) -> int:
    return await idempotency.purge_expired()


# keep_result=0: a finished aggregate job frees its id at once (ids are per time slot).
FUNCTIONS: list[Any] = [
    housekeeping,
    purge_idempotency_keys,
    func(aggregate_usage, name="aggregate_usage", keep_result=0),
]
