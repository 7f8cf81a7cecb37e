"""The billing clock under concurrency: several runners of the same steps at once (in one
process, and as separate `meterbill worker` processes on PostgreSQL + Redis) bill every
period exactly once and charge every invoice exactly once. Plus the seed's month through
the API with the worker in its own process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from arq import create_pool
from arq.connections import RedisSettings
from dateutil.relativedelta import relativedelta
from tortoise import Tortoise

from meterbill.app import create_app
from meterbill.config import Settings
from meterbill.db.models import Invoice, Subscription
from meterbill.db.models import TestClock as Clock
from meterbill.db.setup import init_db, run_migrations
from meterbill.services import billing_steps, queue, test_clocks
from meterbill.services.accounts import create_account
from meterbill.services.now import utcnow
from meterbill.services.payments import ChargeResult, TestPaymentProvider, set_provider
from meterbill.worker.settings import QUEUE
from tests import services as svc
from tests.conftest import Tenant
from tests.integration.billing_setup import assert_billed_once, make_catalog, subscribe_many

N = 12
START = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


class SlowCountingProvider(TestPaymentProvider):
    """The test cards, slowed down so racing collectors overlap, counting every charge."""

    def __init__(self) -> None:
        self.charges: list[str] = []

    async def charge(self, **kw: Any) -> ChargeResult:
        self.charges.append(kw["idempotency_key"].rsplit("-", 1)[0])
        await asyncio.sleep(0.01)
        return await super().charge(**kw)


@pytest.fixture
def provider() -> Any:
    p = SlowCountingProvider()
    set_provider(p)
    yield p
    set_provider(TestPaymentProvider())


def _charged_once(p: SlowCountingProvider) -> None:
    assert len(p.charges) == len(set(p.charges)), sorted(p.charges)


async def test_concurrent_cron_passes_bill_each_period_once(app: Any, provider: Any) -> None:
    cat = await make_catalog()
    subs = await subscribe_many(cat, N)
    first = await Subscription.get(id=subs[0])
    later = first.current_period_end + timedelta(hours=2)  # past the end and the grace
    await asyncio.gather(*(billing_steps.run_due(later) for _ in range(4)))
    await assert_billed_once(cat.account_id, subs, cycles=1)
    _charged_once(provider)


async def test_concurrent_test_clock_runners_bill_each_period_once(app: Any, provider: Any) -> None:
    cat = await make_catalog()
    # A fixed instant: from wall-clock "now", 62 days ended exactly at a period end (inside
    # the grace) on some start dates. Jan 15 + 62 days = Mar 18, past Feb 15 and Mar 15 + grace.
    clock = await test_clocks.create_test_clock(cat.account_id, START, "race")
    subs = await subscribe_many(cat, N, clock.id)
    target = clock.frozen_time + timedelta(days=62)
    await Clock.filter(id=clock.id).update(status="ADVANCING", frozen_time=target)
    await asyncio.gather(*(test_clocks.run_test_clock(clock.id) for _ in range(3)))
    assert (await Clock.get(id=clock.id)).status == "READY"
    await assert_billed_once(cat.account_id, subs, cycles=2)
    _charged_once(provider)


def _worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "meterbill.cli", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


async def _until(check: Any, within: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {within} s")


class _Services:
    """A PostgreSQL database and a Redis db of this test's own, and worker processes."""

    def __init__(self, grace: int) -> None:
        self.pg, self.redis = svc.require_pg(), svc.require_redis()
        self.grace = grace
        self.procs: list[subprocess.Popen[bytes]] = []

    async def __aenter__(self) -> _Services:
        self.name, self.db_url = await asyncio.to_thread(svc.create_pg_database, self.pg)
        self.redis_url = await asyncio.to_thread(svc.claim_redis_db, self.redis)
        self.settings = Settings(
            database_url=self.db_url, redis_url=self.redis_url, invoice_grace_period=self.grace
        )
        await run_migrations(self.settings)
        self.env = {
            **os.environ,
            "MB_DATABASE_URL": self.db_url,
            "MB_REDIS_URL": self.redis_url,
            "MB_INVOICE_GRACE_PERIOD": str(self.grace),
        }
        return self

    def start_workers(self, n: int) -> None:
        self.procs += [_worker(self.env) for _ in range(n)]

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(_stop, self.procs)
        await Tortoise.close_connections()
        billing_steps.configure(None)
        await asyncio.to_thread(svc.release_redis_db, self.redis_url)
        await asyncio.to_thread(svc.drop_pg_database, self.pg, self.name)


async def test_two_worker_processes_on_postgres_bill_once() -> None:
    async with _Services(grace=0) as s:
        await init_db(s.settings)
        billing_steps.configure(0)
        pool = await create_pool(RedisSettings.from_dsn(s.redis_url), default_queue_name=QUEUE)
        queue.set_pool(pool)
        try:
            cat = await make_catalog()
            # Wall-clock subscriptions whose first daily period ends a few seconds from now.
            daily = await make_catalog("Daily", interval="DAY")
            start = utcnow() - timedelta(days=1) + timedelta(seconds=15)
            wall = await subscribe_many(daily, N, backdate=start)
            clock = await test_clocks.create_test_clock(cat.account_id, START, "two workers")
            clocked = await subscribe_many(cat, N, clock.id)
            s.start_workers(2)
            # The advance job goes to one worker; the other's cron picks up the ADVANCING
            # clock too, so both run it at once.
            # Two months, the furthest one advance may go (limits), closing both periods.
            await test_clocks.advance_test_clock(
                cat.account_id, clock.id, clock.frozen_time + relativedelta(months=2)
            )

            async def done() -> bool:
                clock_ready = (await Clock.get(id=clock.id)).status == "READY"
                cycles = await Invoice.filter(
                    account_id=daily.account_id, billing_reason="SUBSCRIPTION_CYCLE", status="PAID"
                ).count()
                return clock_ready and cycles >= N

            await _until(done, 90, "billing by two worker processes")
            await assert_billed_once(cat.account_id, clocked, cycles=2)
            await assert_billed_once(daily.account_id, wall, cycles=1)
        finally:
            queue.set_pool(None)
            await pool.aclose()


async def test_seed_month_with_a_separate_worker_process() -> None:
    from tests import billing_helpers as b

    async with _Services(grace=3600) as s:
        app = create_app(s.settings)  # not embedded: jobs go to the worker process
        async with app.router.lifespan_context(app):
            s.start_workers(1)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                account, secret = await create_account("Alpaca AI")
                tenant = Tenant(client, account.id, secret)
                cat = await b.catalog(tenant)
                start = b.utc(2026, 1, 1)
                clock = await b.clock(tenant, start)
                cus = await b.customer(tenant, clock)
                res = await b.subscribe(
                    tenant,
                    {
                        "customerId": cus,
                        "items": [{"priceId": cat["usage"]}, {"priceId": cat["license"]}],
                    },
                )
                sub = res["subscription"]
                assert sub["latestInvoice"]["total"] == 10000
                await b.use(cat["meter"], cus, 3000, b.utc(2026, 1, 15))
                assert (await b.upcoming(tenant, sub["id"]))["total"] == 18000
                await b.advance(tenant, clock, b.utc(2026, 2, 1, 1, 1))
                cycle = (await b.invoices(tenant, sub["id"]))[-1]
                assert cycle["billingReason"] == "SUBSCRIPTION_CYCLE"
                assert cycle["status"] == "PAID"
                assert cycle["total"] == 18000
                assert cycle["number"] == "ALPACAAI-0002"
