"""The embedded worker stops cleanly even with a job in flight."""

from __future__ import annotations

import asyncio

from meterbill.worker.embedded import EmbeddedWorker, fake_pool


async def test_stop_with_a_job_in_flight():
    worker = EmbeddedWorker(fake_pool())
    worker.start()
    await asyncio.sleep(0.05)
    job = asyncio.create_task(asyncio.sleep(30))
    worker.worker.tasks["in-flight"] = job
    await asyncio.wait_for(worker.stop(), 5)
    assert job.cancelled()
