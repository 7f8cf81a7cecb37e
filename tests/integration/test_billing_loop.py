"""Every worker process runs the billing pass itself (worker/billing_loop.py), not as a job
on the queue all workers share, where one worker could take every pass while another
idles; and a pass that fails does not end the loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tortoise import Tortoise

from meterbill.config import Settings
from meterbill.db.models import Invoice
from meterbill.db.setup import init_db, run_migrations
from meterbill.services import billing_steps
from meterbill.services.now import utcnow
from meterbill.services.payments import ChargeResult, TestPaymentProvider, set_provider
from meterbill.worker.billing_loop import BillingLoop
from meterbill.worker.embedded import EmbeddedWorker, fake_pool
from meterbill.worker.settings import cron_jobs
from tests.integration.billing_setup import make_catalog, subscribe_many


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[None]:
    # Its own database and no app: no other worker may bill behind the test's back.
    settings = Settings(database_url=f"sqlite://{tmp_path}/b.db", redis_url=None)
    await run_migrations(settings)
    await init_db(settings)
    billing_steps.configure(0)
    try:
        yield
    finally:
        billing_steps.configure(None)
        set_provider(TestPaymentProvider())
        await Tortoise.close_connections()


async def _ended_subscriptions(n: int) -> list[str]:
    """Daily wall-clock subscriptions whose first period has just ended (a backdated start
    bills the periods already over at once, so the first one ends a second from now)."""
    cat = await make_catalog("Daily", interval="DAY")
    subs = await subscribe_many(cat, n, backdate=utcnow() - timedelta(days=1, seconds=-1))
    await asyncio.sleep(1.1)
    return subs


async def _paid(subs: list[str]) -> int:
    return await Invoice.filter(
        subscription_id__in=subs, billing_reason="SUBSCRIPTION_CYCLE", status="PAID"
    ).count()


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(300):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} did not happen")


async def test_every_worker_on_a_shared_queue_runs_a_pass_of_its_own(db: None) -> None:
    assert "cron:billing_tick" not in {c.name for c in cron_jobs()}
    subs = await _ended_subscriptions(3)
    pool = fake_pool()
    workers = [EmbeddedWorker(pool), EmbeddedWorker(pool)]  # one queue, as in production
    for w in workers:
        w.start()
    try:

        async def both_passed() -> bool:
            return all(w.billing.passes >= 1 for w in workers)

        await _until(both_passed, "a start-up pass in each worker")
        assert await _paid(subs) == 3
    finally:
        for w in workers:
            await w.stop()


class RaisesOnce(TestPaymentProvider):
    """The processor is unreachable for the first charge."""

    def __init__(self) -> None:
        self.calls = 0

    async def charge(self, **kw: Any) -> ChargeResult:
        self.calls += 1
        if self.calls == 1:
            raise ConnectionError("processor unreachable")
        return await super().charge(**kw)


async def test_a_failed_pass_is_retried_at_the_next_tick(db: None) -> None:
    subs = await _ended_subscriptions(1)
    provider = RaisesOnce()
    set_provider(provider)
    loop = BillingLoop(tick=0.2)
    loop.start()
    try:

        async def paid() -> bool:
            return await _paid(subs) == 1

        await _until(paid, "the charge after the failed pass")
    finally:
        await loop.stop()
    assert provider.calls == 2
    assert loop.passes >= 2
