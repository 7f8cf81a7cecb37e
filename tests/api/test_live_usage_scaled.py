"""Live usage scaled out: `meterbill serve --workers 2` and two `meterbill worker` processes on
PostgreSQL + Redis. The fold happens in a worker process; the API processes hear of it only
through Redis pub/sub, and each forwards it to its own subscribers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import AsyncExitStack
from decimal import Decimal
from pathlib import Path

import pytest

from tests import services as svc
from tests.billing_helpers import catalog, clock, customer, subscribe, utc
from tests.live_support import live_usage, next_message, record, remote_tenant
from tests.processes import Meterbill, Worker

START = utc(2026, 1, 1)
CONNECTIONS = 4


@pytest.fixture
def scaled(tmp_path: Path) -> Iterator[Meterbill]:
    pg, redis = svc.require_pg(), svc.require_redis()
    redis_url = svc.claim_redis_db(redis)
    try:
        with svc.fresh_pg_database(pg) as db_url:
            env = {"MB_DATABASE_URL": db_url, "MB_REDIS_URL": redis_url}
            api = Meterbill(tmp_path, env, ("--workers", "2"))
            workers = [Worker(tmp_path, env, f"worker{i}") for i in range(2)]
            try:
                api.start()  # applies the migrations before the workers start
                for w in workers:
                    w.start()
                yield api
            finally:
                for w in workers:
                    w.close()
                api.close()
    finally:
        svc.release_redis_db(redis_url)


async def test_every_api_process_forwards_what_the_workers_fold(scaled: Meterbill) -> None:
    async with remote_tenant(scaled) as tenant:
        cat = await catalog(tenant)
        clock_id = await clock(tenant, START)
        cus = await customer(tenant, clock_id)
        sub = await subscribe(
            tenant,
            {
                "customerId": cus,
                "items": [{"priceId": cat["usage"]}, {"priceId": cat["license"]}],
            },
        )
        assert sub["userErrors"] == [], sub
        async with AsyncExitStack() as stack:
            # Several connections, so that both API processes hold subscribers.
            streams = [
                await stack.enter_async_context(
                    live_usage(scaled, tenant.secret, cat["meter"], cus)
                )
                for _ in range(CONNECTIONS)
            ]
            firsts = await asyncio.gather(*(next_message(s) for s in streams))
            for m in firsts:
                assert Decimal(m["value"]) == 0
                assert m["periodStart"] == "2026-01-01T00:00:00Z"
                # Next period's license fee in advance, no usage yet.
                assert m["upcomingTotal"] == 10000

            await record(tenant, cus, "3000", utc(2026, 1, 1, 0, 2), "alpaca_ai_tokens")
            changed = await asyncio.gather(*(next_message(s) for s in streams))
            for m in changed:
                assert Decimal(m["value"]) == 3000
                # 1000 free, 2000 at 4 cents: 80.00 of usage on top of the 100.00 license.
                assert m["upcomingTotal"] == 18000
