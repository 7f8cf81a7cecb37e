"""The embedded worker stops cleanly with jobs in flight: short jobs finish within the grace,
long ones are cancelled (jobs are at-least-once; a cancelled one is redone later)."""

from __future__ import annotations

import asyncio

from meterbill.worker.embedded import EmbeddedWorker, fake_pool


async def test_stop_with_jobs_in_flight():
    worker = EmbeddedWorker(fake_pool())
    worker.start()
    await asyncio.sleep(0.05)
    short = asyncio.create_task(asyncio.sleep(0.2))
    long = asyncio.create_task(asyncio.sleep(30))
    worker.worker.tasks["short"] = short
    worker.worker.tasks["long"] = long
    await asyncio.wait_for(worker.stop(grace=1), 5)
    assert short.done() and not short.cancelled()
    assert long.cancelled()
