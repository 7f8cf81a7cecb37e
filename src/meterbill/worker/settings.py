"""WorkerSettings for `meterbill worker` (and, with a fake Redis, the embedded worker)."""

from __future__ import annotations

import os
import socket
from typing import Any

from arq import cron
from arq.connections import RedisSettings
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from meterbill.config import get_settings
from meterbill.db.setup import close_db, init_db
from meterbill.services import billing_steps, payments, queue, webhooks
from meterbill.services.live import hub
from meterbill.services.queue import QUEUE
from meterbill.worker.billing_loop import BillingLoop
from meterbill.worker.tasks import (
    FUNCTIONS,
    housekeeping,
    purge_idempotency_keys,
    sweep_usage,
)
from meterbill.worker.webhook_loop import WebhookLoop


def worker_name(kind: str) -> str:
    return f"{kind}:{socket.gethostname()}:{os.getpid()}"


def cron_jobs() -> list[Any]:
    every = get_settings().housekeeping_interval_minutes
    return [
        # The heartbeat row (worker_heartbeats), every MB_HOUSEKEEPING_INTERVAL_MINUTES.
        cron(
            housekeeping,
            minute=set(range(0, 60, every)),
            second={0},
            run_at_startup=True,
            unique=False,
        ),
        # Every 5 s: events whose aggregation job was lost (Redis down at ingest, a worker
        # killed mid-job) are counted within seconds, not at the next request.
        cron(sweep_usage, second=set(range(0, 60, 5)), run_at_startup=True, keep_result=0),
        # Keys live 24 h; purging hourly keeps the table at about a day of keys.
        cron(purge_idempotency_keys, minute={17}, second={30}),
        # The billing pass is no cron: every process runs its own (worker/billing_loop.py).
    ]


async def _startup(ctx: dict[str, Any]) -> None:
    ctx["worker_name"] = worker_name("worker")
    settings = get_settings()
    await init_db(settings)
    billing_steps.configure(settings.invoice_grace_period)
    payments.configure(settings)
    queue.set_pool(ctx["redis"])
    # Folded usage is announced to the API processes' live subscriptions over Redis.
    hub.publish_to(ctx["redis"])
    ctx["billing"] = BillingLoop()
    ctx["billing"].start()
    webhooks.configure(settings)
    ctx["webhooks"] = WebhookLoop(yield_to=lambda: bool(ctx["billing"].busy))
    ctx["webhooks"].start()


async def _shutdown(ctx: dict[str, Any]) -> None:
    if "billing" in ctx:
        await ctx["billing"].stop()
    if "webhooks" in ctx:
        await ctx["webhooks"].stop()
    await payments.close()
    await close_db()


class WorkerSettings:
    functions = FUNCTIONS
    cron_jobs = cron_jobs()
    on_startup = _startup
    on_shutdown = _shutdown
    queue_name = QUEUE
    max_jobs = 10
    # arq polls Redis for new jobs every poll_delay seconds (default 0.5): this bounds how
    # long an accepted event waits before a worker starts aggregating it.
    poll_delay = 0.05
    job_timeout = 300
    # On SIGTERM: take no new job, let running ones finish for this long, then cancel them
    # (a cancelled job runs again later: every job is idempotent). docker-compose.yml's
    # stop_grace_period for the worker is longer than this (tests/unit/test_deploy_files.py).
    job_completion_wait = 60
    keep_result = 60
    # Written every interval by each worker process under a key of its host (a container),
    # so `meterbill worker --check` answers for this container's worker, not any worker.
    health_check_interval = 30
    health_check_key = f"{QUEUE}:health-check:{socket.gethostname()}"

    @staticmethod
    def redis() -> RedisSettings:
        url = get_settings().redis_url
        if not url:
            raise SystemExit("meterbill worker needs MB_REDIS_URL (e.g. redis://127.0.0.1:6379/0)")
        settings = RedisSettings.from_dsn(url)
        # arq's poll loop has no retry: the first ConnectionError ends the worker. Retry
        # every Redis command for ever with a capped backoff instead, so a Redis restart
        # pauses the worker rather than stopping it (events stay safe in the database).
        settings.retry_on_error = [
            ConnectionError,
            TimeoutError,
            OSError,
            RedisConnectionError,
            RedisTimeoutError,
        ]
        settings.retry = Retry(ExponentialBackoff(cap=2, base=0.1), -1)
        settings.conn_retries = 60
        return settings
