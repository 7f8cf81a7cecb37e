"""Tasks: unpack arguments, call one service."""

from __future__ import annotations

from typing import Any

from meterbill.services import billing_clock, test_clocks
from meterbill.services import housekeeping as hk


async def housekeeping(ctx: dict[str, Any]) -> int:
    return await hk.heartbeat(ctx["worker_name"])


async def billing_tick(ctx: dict[str, Any]) -> dict[str, int]:
    """The wall-clock billing cron; also resumes test clocks whose advance job was lost."""
    result = await billing_clock.run_due()
    for clock_id in await test_clocks.advancing_clocks():
        await test_clocks.run_test_clock(clock_id)
    return {"closed": result.closed, "finalized": result.finalized, "collected": result.collected}


async def advance_test_clock(ctx: dict[str, Any], clock_id: str) -> bool:
    return await test_clocks.run_test_clock(clock_id)


FUNCTIONS: list[Any] = [housekeeping, billing_tick, advance_test_clock]
