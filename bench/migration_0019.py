"""Time migration 0019 (meter_event_ids keyed by a 16-byte digest) on a PostgreSQL database
whose identifier table holds N rows (36 days of identifiers), as the offline upgrade would
run it:

    .venv/bin/python bench/migration_0019.py 1000000

Creates and drops its own database (slim_ids_migrate) on 127.0.0.1:5432."""

import asyncio
import sys
import time

import asyncpg
from scratch_db import scratch_database
from tortoise import Tortoise
from tortoise.migrations.api import migrate

from meterbill.config import Settings
from meterbill.db.setup import run_migrations, tortoise_config

N = int(sys.argv[1])
DB = "slim_ids_migrate"
URL = f"postgres://postgres@127.0.0.1:5432/{DB}"
SIZE = (
    "SELECT sum(pg_total_relation_size(inhrelid))::bigint FROM pg_inherits "
    "WHERE inhparent = 'meter_event_ids'::regclass"
)


async def main() -> None:
    async with scratch_database("postgresql://postgres@127.0.0.1:5432/postgres", DB):
        s = Settings(database_url=URL)
        await migrate(config=tortoise_config(s), target="models.0018_credit_grant_hot")
        await Tortoise.close_connections()
        c = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:5432/{DB}")
        # Request-like identifiers (36 characters) of 10 accounts, received over 36 days.
        await c.execute(
            "INSERT INTO meter_event_ids (account_id, identifier, event_id, timestamp, "
            "received_at) SELECT 'acct_' || lpad((g % 10)::text, 24, 'x'), "
            "md5(g::text)::uuid::text, g, now() - g * interval '3 seconds', "
            "now() - g * interval '3 seconds' FROM generate_series(1, $1) g",
            N,
        )
        await c.execute("VACUUM ANALYZE meter_event_ids")
        before = await c.fetchval(SIZE)
        await c.close()
        t0 = time.perf_counter()
        await run_migrations(s)
        took = time.perf_counter() - t0
        c = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:5432/{DB}")
        n = await c.fetchval("SELECT count(*) FROM meter_event_ids")
        after = await c.fetchval(SIZE)
        await c.close()
    print(
        f"identifiers={N} bytes_before={before} bytes_after={after} migrate_s={took:.1f} "
        f"per_million_s={took / N * 1e6:.1f} rows_after={n}"
    )


asyncio.run(main())
