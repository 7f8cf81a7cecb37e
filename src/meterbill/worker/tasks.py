"""Tasks: unpack arguments, call one service."""

from __future__ import annotations

from typing import Any

from arq.worker import func

from meterbill.config import get_settings
from meterbill.services import billing_steps, idempotency, test_clocks, usage
from meterbill.services import housekeeping as hk


async def housekeeping(ctx: dict[str, Any]) -> int:
    beats = await hk.heartbeat(ctx["worker_name"])
    await hk.keep_events(get_settings().event_retention_days)
    return beats


async def aggregate_usage(ctx: dict[str, Any], slot_end: float | None = None) -> int:
    """Requested after each ingest; several may run at once (they split the backlog)."""
    return await usage.drain_slot(slot_end)


async def sweep_usage(ctx: dict[str, Any]) -> int:
    """Cron: aggregates whatever a lost or never-enqueued job left behind, and evaluates the
    alerts a lost evaluation left behind."""
    return await usage.sweep()


async def purge_idempotency_keys(ctx: dict[str, Any]) -> int:
    return await idempotency.purge_expired()


async def billing_tick(ctx: dict[str, Any]) -> dict[str, int]:
    """The wall-clock billing cron; also resumes test clocks whose advance job was lost."""
    result = await billing_steps.run_due()
    for clock_id in await test_clocks.advancing_clocks():
        await test_clocks.run_test_clock(clock_id)
    return {"closed": result.closed, "finalized": result.finalized, "collected": result.collected}


async def advance_test_clock(ctx: dict[str, Any], clock_id: str) -> bool:
    return await test_clocks.run_test_clock(clock_id)


# keep_result=0: a finished aggregate job frees its id at once (ids are per time slot).
FUNCTIONS: list[Any] = [
    housekeeping,
    purge_idempotency_keys,
    func(aggregate_usage, name="aggregate_usage", keep_result=0),
    billing_tick,
    advance_test_clock,
]
