"""Time migration 0015 (meter_events partitioned by week, issue 18) on a PostgreSQL database
holding N events, as the offline upgrade would run it:

    .venv/bin/python bench/migration_0015.py 1000000

Creates and drops its own database (parts_migrate) on 127.0.0.1:5432."""

import asyncio
import sys
import time

import asyncpg
from scratch_db import scratch_database
from tortoise import Tortoise
from tortoise.migrations.api import migrate

from meterbill.config import Settings
from meterbill.db.setup import init_db, run_migrations, tortoise_config
from meterbill.services import catalog
from meterbill.services.accounts import create_account

N = int(sys.argv[1])
DB = "parts_migrate"
URL = f"postgres://postgres@127.0.0.1:5432/{DB}"


async def main():
    async with scratch_database("postgresql://postgres@127.0.0.1:5432/postgres", DB):
        s = Settings(database_url=URL)
        await migrate(config=tortoise_config(s), target="models.0014_alerts")
        await Tortoise.close_connections()
        await init_db(s)
        account, _ = await create_account("m")
        meter = await catalog.create_meter(account.id, catalog.MeterSpec("T", "tokens", "SUM"))
        cus = [
            (await catalog.create_customer(account.id, catalog.CustomerSpec(name=f"c{k}"))).id
            for k in range(100)
        ]
        await Tortoise.close_connections()
        c = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:5432/{DB}")
        await c.execute(
            "INSERT INTO meter_events (account_id, meter_id, customer_id, identifier, event_name, "
            "value, timestamp, dimensions_key, status, created_at) "
            "SELECT $1, $2, ($3::text[])[1 + g % 100], 'ev-' || g, 'tokens', 1.5, "
            "now() - (g * interval '2.5 seconds'), '', 'ACCEPTED', "
            "now() - (g * interval '2.5 seconds') FROM generate_series(1, $4) g",
            account.id,
            meter.id,
            cus,
            N,
        )
        await c.execute(
            "INSERT INTO meter_events_pending (event_id) "
            "SELECT id FROM meter_events ORDER BY id DESC LIMIT 10000"
        )
        await c.execute("VACUUM ANALYZE meter_events")
        size = await c.fetchval("SELECT pg_total_relation_size('meter_events')")
        await c.close()
        t0 = time.perf_counter()
        await run_migrations(s)
        took = time.perf_counter() - t0
        c = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:5432/{DB}")
        n = await c.fetchval("SELECT count(*) FROM meter_events")
        parts = await c.fetchval(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'meter_events'::regclass"
        )
        ids = await c.fetchval("SELECT count(*) FROM meter_event_ids")
        pend = await c.fetchval(
            "SELECT count(*) FROM meter_events_pending WHERE account_id IS NOT NULL"
        )
        await c.close()
    print(
        f"events={N} table_bytes={size} migrate_s={took:.1f} "
        f"per_million_s={took / N * 1e6:.1f} rows_after={n} partitions={parts} ids={ids} "
        f"pending_filled={pend}"
    )


asyncio.run(main())
