"""How long advancing a test clock by one month takes on PostgreSQL, for N subscriptions
on one clock (each with usage to price): the period closes, finalizations after the grace
and collections, i.e. what the worker's advance job runs.

    .venv/bin/python bench/advance_clock.py [--pg postgres://postgres@127.0.0.1:5432/postgres]
        [--sizes 1,100,1000]

Creates and drops a database per size. Prints one line per size."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tortoise import Tortoise  # noqa: E402

from meterbill.config import Settings  # noqa: E402
from meterbill.db.models import Invoice, Meter, Subscription, TestClock  # noqa: E402
from meterbill.db.setup import init_db, run_migrations  # noqa: E402
from meterbill.services import billing_steps, test_clocks  # noqa: E402
from tests import services as svc  # noqa: E402
from tests.billing_helpers import add_rollup_usage  # noqa: E402
from tests.integration.billing_setup import make_catalog, subscribe_many  # noqa: E402

START = datetime(2026, 1, 1, tzinfo=UTC)


async def one(pg: str, n: int) -> tuple[float, float, int]:
    name, url = await asyncio.to_thread(svc.create_pg_database, pg)
    try:
        settings = Settings(database_url=url, invoice_grace_period=3600, db_pool_max=10)
        await run_migrations(settings)
        await init_db(settings)
        billing_steps.configure(3600)
        cat = await make_catalog()
        clock = await test_clocks.create_test_clock(cat.account_id, START, "bench")
        t0 = time.perf_counter()
        subs = await subscribe_many(cat, n, clock.id)
        created = time.perf_counter() - t0
        meter = await Meter.get(id=cat.meter_id)
        for sid in subs:
            sub = await Subscription.get(id=sid)
            await add_rollup_usage(
                meter, sub.customer_id, Decimal(3000), START + timedelta(days=14)
            )
        target = START + timedelta(days=31, hours=1, minutes=1)  # Feb 1 + grace
        await TestClock.filter(id=clock.id).update(status="ADVANCING", frozen_time=target)
        t1 = time.perf_counter()
        await test_clocks.run_test_clock(clock.id)
        advanced = time.perf_counter() - t1
        paid = await Invoice.filter(
            account_id=cat.account_id,
            billing_reason="SUBSCRIPTION_CYCLE",
            status="PAID",
            total=18000,
        ).count()
        assert paid == n, (paid, n)
        return created, advanced, paid
    finally:
        await Tortoise.close_connections()
        await asyncio.to_thread(svc.drop_pg_database, pg, name)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--sizes", default="1,100,1000")
    args = ap.parse_args()
    print("subscriptions | create all (s) | advance one month (s) | per subscription (ms)")
    for n in (int(s) for s in args.sizes.split(",")):
        created, advanced, paid = await one(args.pg, n)
        print(f"{n:13d} | {created:14.2f} | {advanced:21.2f} | {1000 * advanced / n:21.1f}")


if __name__ == "__main__":
    asyncio.run(main())
