"""Jobs enqueued by services reach the worker, in the embedded deployment too."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from meterbill.db.models import IdempotencyKey
from meterbill.services import idempotency as idem
from meterbill.services import queue
from meterbill.services.now import utcnow
from meterbill.worker.embedded import fake_pool
from meterbill.worker.settings import QUEUE


def test_embedded_pool_enqueues_on_the_worker_queue():
    assert fake_pool().default_queue_name == QUEUE


async def test_an_enqueued_job_runs(app, tenant):
    then = utcnow() - idem.TTL - timedelta(minutes=1)
    claim = await idem.claim(tenant.account_id, "expired", "f" * 64, now=then)
    assert await queue.enqueue("purge_idempotency_keys")
    for _ in range(200):  # up to ~10 s: a deadline, not a speed assertion
        if not await IdempotencyKey.filter(id=claim.row_id).exists():
            break
        await asyncio.sleep(0.05)
    assert not await IdempotencyKey.filter(id=claim.row_id).exists()
