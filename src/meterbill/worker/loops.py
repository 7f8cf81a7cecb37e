"""What the per-process loops (billing_loop.py, webhook_loop.py) share."""

from __future__ import annotations

import asyncio


async def finish(task: asyncio.Task[None], grace: float) -> None:
    """Let `task` (already told to stop) end by itself for up to `grace` seconds, then
    cancel it; returns once it has ended either way."""
    done, _ = await asyncio.wait({task}, timeout=grace)
    if not done:
        task.cancel()
    await asyncio.gather(task, return_exceptions=True)
