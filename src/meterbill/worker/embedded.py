"""The embedded deployment: the same arq Worker, jobs, crons and billing loop, inside the
API process, over an in-memory Redis (fakeredis)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import arq.worker
from arq.connections import ArqRedis
from arq.worker import Worker
from fakeredis import FakeServer
from fakeredis.aioredis import FakeAsyncRedisConnection
from redis.asyncio import ConnectionPool

from meterbill.worker.billing_loop import BillingLoop
from meterbill.worker.settings import QUEUE, WorkerSettings, cron_jobs, worker_name
from meterbill.worker.webhook_loop import WebhookLoop

log = logging.getLogger("meterbill.worker")

_real_log_redis_info = arq.worker.log_redis_info


async def _tolerant_log_redis_info(redis: Any, log_func: Callable[[str], Any]) -> None:
    # fakeredis has no INFO command; arq calls it once at worker start only to log.
    try:
        await _real_log_redis_info(redis, log_func)
    except Exception:  # noqa: BLE001
        log_func("redis: in-memory (embedded)")


arq.worker.log_redis_info = _tolerant_log_redis_info


def fake_pool() -> ArqRedis:
    pool = ConnectionPool(connection_class=FakeAsyncRedisConnection, server=FakeServer())
    # Same queue as the worker listens on, or enqueued jobs would wait for ever.
    return ArqRedis(connection_pool=pool, default_queue_name=QUEUE)


class EmbeddedWorker:
    """Runs an arq Worker as a task of the current event loop, sharing the app's ORM."""

    def __init__(self, pool: ArqRedis, *, poll_delay: float = 0.05):
        self.pool = pool
        self.worker = Worker(
            functions=WorkerSettings.functions,
            cron_jobs=cron_jobs(),
            redis_pool=pool,
            queue_name=QUEUE,
            ctx={"worker_name": worker_name("embedded")},
            handle_signals=False,
            poll_delay=poll_delay,
            max_jobs=WorkerSettings.max_jobs,
            job_timeout=WorkerSettings.job_timeout,
            keep_result=WorkerSettings.keep_result,
        )
        self.billing = BillingLoop()
        self.webhooks = WebhookLoop(yield_to=lambda: self.billing.busy)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self.worker.main(), name="meterbill-embedded-worker")
        self.billing.start()
        self.webhooks.start()

    async def stop(self, grace: float = 10.0) -> None:
        """Stop polling, give running jobs `grace` seconds, then cancel the rest (jobs are
        idempotent, so a cancelled one is simply run again later). arq's own Worker.close()
        re-raises the CancelledError of any job it cancelled, so it is not used here."""
        if self._task is None:
            return
        await self.billing.stop(grace)
        await self.webhooks.stop()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        running = [t for t in self.worker.tasks.values() if not t.done()]
        if running:
            _, late = await asyncio.wait(running, timeout=grace)
            for t in late:
                t.cancel()
            await asyncio.gather(*running, return_exceptions=True)
        await self.pool.aclose()
        self._task = None
