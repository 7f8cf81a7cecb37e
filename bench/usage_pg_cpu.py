"""PostgreSQL CPU per event of storing events and of aggregating them, measured without
the HTTP stack: N events go in through ingest's INSERT (the event store's insert, 2,500
per statement, one connection), then the worker's aggregation
(usage.drain, 2,000 per transaction) folds them. For each half: the CPU time the
PostgreSQL backends serving the database spent (from /proc: the server runs on this
machine), per event; for the aggregation also this process's CPU (the worker's share).
Between the two, EXPLAIN (ANALYZE, BUFFERS) of one claim of the worker on the full backlog
(rolled back).

    .venv/bin/python bench/usage_pg_cpu.py [--pg URL] [--events 200000] [--customers 100]
                                           [--unique 20000]

--unique N: a UNIQUE_COUNT meter whose events carry N distinct values (spread so that one
batch has few repeats, as bench/run.py's unique_ingest phase), instead of a SUM meter.

Deterministic enough to compare two versions of the code on a shared machine (CPU time,
not wall time); creates and drops its own database."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg  # noqa: E402
from tortoise import Tortoise, connections  # noqa: E402

from bench.billing_statements import backend_cpu  # noqa: E402
from meterbill.config import Settings  # noqa: E402
from meterbill.db import stores, usage_sql  # noqa: E402
from meterbill.db.models import UsageRollup, UsageUniqueValue  # noqa: E402
from meterbill.db.setup import init_db, run_migrations  # noqa: E402
from meterbill.services import catalog, usage  # noqa: E402
from meterbill.services.accounts import create_account  # noqa: E402
from meterbill.services.usage.aggregate import BATCH  # noqa: E402
from tests import services as svc  # noqa: E402

CHUNK = 2500
VALUES = ("0.5", "1", "2.25", "3")


async def _pg_cpu(url: str) -> float:
    return sum((await backend_cpu(url)).values())


async def run(pg: str, n: int, customers: int, unique: int) -> None:
    name, url = await asyncio.to_thread(svc.create_pg_database, pg)
    try:
        settings = Settings(database_url=url, db_pool_max=4)
        await run_migrations(settings)
        await init_db(settings)
        account, _ = await create_account("pg cpu")
        spec = catalog.MeterSpec("Tokens", "tokens", "UNIQUE_COUNT" if unique else "SUM")
        meter = await catalog.create_meter(account.id, spec)
        cus = [
            (await catalog.create_customer(account.id, catalog.CustomerSpec(name=f"c{i}"))).id
            for i in range(customers)
        ]
        now = datetime.now(UTC)
        start = now - timedelta(hours=2)
        await UsageRollup.first()  # a pool connection exists before the first count

        before, wall = await _pg_cpu(url), time.perf_counter()
        for lo in range(0, n, CHUNK):
            rows = [
                (
                    i,
                    meter.id,
                    cus[i % customers],
                    f"ev-{i}",
                    "tokens",
                    VALUES[i % 4],
                    start + timedelta(microseconds=i * 36_000_000_00 // n),
                    "",
                    f"user-{i * 7919 % unique}" if unique else None,
                )
                for i in range(lo, min(n, lo + CHUNK))
            ]
            await stores.current().events.insert(account.id, now, rows)
        insert_cpu, insert_wall = await _pg_cpu(url) - before, time.perf_counter() - wall

        conn = await asyncpg.connect(url)
        try:
            await conn.execute("ANALYZE")
            tx = conn.transaction()
            await tx.start()
            sql = usage_sql._FOLD_PG  # noqa: SLF001 - the statement under test
            plan = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, BATCH)
            await tx.rollback()
            sizes = await conn.fetch(
                "SELECT relname, pg_total_relation_size(oid) AS b FROM pg_class "
                "WHERE relname IN ('meter_events', 'meter_events_pending') ORDER BY 1"
            )
        finally:
            await conn.close()

        before, wall, own = await _pg_cpu(url), time.perf_counter(), time.process_time()
        folded = await usage.drain(max_batches=10**9)
        agg_cpu, agg_wall = await _pg_cpu(url) - before, time.perf_counter() - wall
        agg_own = time.process_time() - own

        want = sum(Decimal(VALUES[i % 4]) for i in range(n))
        got = sum([Decimal(r.sum) for r in await UsageRollup.filter(meter_id=meter.id)], Decimal(0))
        assert folded == n and got == want, (folded, n, got, want)
        if unique:
            days = await UsageUniqueValue.filter(meter_id=meter.id, grain="day").count()
            want_days = len({(i % customers, i * 7919 % unique) for i in range(n)})
            assert days == want_days, (days, want_days)

        kind = f"UNIQUE_COUNT, {unique} values" if unique else "SUM"
        print(f"events {n} ({kind}), customers {customers}, {connections.get('default')}")
        print("claim of one batch on the full backlog, EXPLAIN (ANALYZE, BUFFERS):")
        for r in plan:
            print("   ", r[0])
        for r in sizes:
            print(f"size after insert: {r['relname']} {r['b'] / 2**20:.1f} MiB")
        print(
            f"insert:    PostgreSQL CPU {1e6 * insert_cpu / n:6.1f} us/event, "
            f"wall {n / insert_wall:8.0f} events/s"
        )
        print(
            f"aggregate: PostgreSQL CPU {1e6 * agg_cpu / n:6.1f} us/event, "
            f"worker CPU {1e6 * agg_own / n:6.1f} us/event, wall {n / agg_wall:8.0f} events/s"
        )
    finally:
        await Tortoise.close_connections()
        await asyncio.to_thread(svc.drop_pg_database, pg, name)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--customers", type=int, default=100)
    ap.add_argument("--unique", type=int, default=0, help="UNIQUE_COUNT with N values")
    args = ap.parse_args()
    asyncio.run(run(args.pg, args.events, args.customers, args.unique))


if __name__ == "__main__":
    main()
