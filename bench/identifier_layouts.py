"""The two candidate layouts of the identifier dedupe table (issue 18), measured alone:

  hash   meter_event_ids partitioned by HASH (account_id, identifier), 8 partitions, primary
         key (account_id, identifier): one INSERT ... ON CONFLICT DO NOTHING decides, also
         between concurrent requests; retention DELETEs rows older than the window.
  week   partitioned by RANGE of the received week, primary key (account_id, identifier,
         week): the key only holds per week, so a statement must also check the earlier
         weeks of the window (NOT EXISTS) and, to stay exact when two requests straddle a
         week boundary, write each identifier into its week AND the previous one (their
         keys then collide in the shared week); retention DROPs whole weeks.

Each starts with PREFILL identifiers spread over the last 5 weeks, then inserts NEW ones in
batches of 1,000 (a recordMeterEvents call's size), one client, 10% of each batch already
seen. Prints identifiers per second and the time to remove one week of rows.

This is the comparison that chose "hash"; the layout meterbill has now (migration 0019: a
16-byte md5 key of account and identifier, no received_at index, swept by block ranges) was
measured against it by bench/slim_ids.py. Both tables here are this script's own.

    .venv/bin/python bench/identifier_layouts.py [--pg URL] [--prefill N] [--new N]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime, timedelta

import asyncpg
from scratch_db import scratch_database

WEEK = timedelta(days=7)

HASH_DDL = [
    "CREATE TABLE ids_hash (account_id text NOT NULL, identifier text NOT NULL, "
    "event_id bigint NOT NULL, received_at timestamptz NOT NULL, "
    "PRIMARY KEY (account_id, identifier)) PARTITION BY HASH (account_id, identifier)",
    *(
        f"CREATE TABLE ids_hash_{r} PARTITION OF ids_hash "
        f"FOR VALUES WITH (MODULUS 8, REMAINDER {r})"
        for r in range(8)
    ),
    "CREATE INDEX ON ids_hash (received_at)",
]
HASH_INSERT = (
    "INSERT INTO ids_hash SELECT $1, i, 0, $3 FROM unnest($2::text[]) i ORDER BY 1, 2 "
    "ON CONFLICT DO NOTHING"
)
WEEK_INSERT = """
WITH src AS (SELECT $1::text AS a, i FROM unnest($2::text[]) i),
fresh AS (SELECT * FROM src WHERE NOT EXISTS (
  SELECT 1 FROM ids_week x WHERE x.account_id = src.a AND x.identifier = src.i
  AND x.week >= $4::date - 35))
INSERT INTO ids_week SELECT a, i, w, 0, $3 FROM fresh,
  (VALUES ($4::date), ($4::date - 7)) AS v(w) ORDER BY 1, 2, 3 ON CONFLICT DO NOTHING
"""


async def week_ddl(conn: asyncpg.Connection, first: datetime, weeks: int) -> None:
    await conn.execute(
        "CREATE TABLE ids_week (account_id text NOT NULL, identifier text NOT NULL, "
        "week date NOT NULL, event_id bigint NOT NULL, received_at timestamptz NOT NULL, "
        "PRIMARY KEY (account_id, identifier, week)) PARTITION BY RANGE (week)"
    )
    for k in range(-1, weeks + 1):
        lo = (first + k * WEEK).date()
        await conn.execute(
            f"CREATE TABLE ids_week_{k + 1} PARTITION OF ids_week "
            f"FOR VALUES FROM ('{lo}') TO ('{lo + WEEK}')"
        )


async def run(url: str, prefill: int, new: int) -> None:
    async with scratch_database(url, "bench_identifier_layouts") as db_url:
        conn = await asyncpg.connect(db_url)
        try:
            await measure(conn, prefill, new)
        finally:
            await conn.close()


async def measure(conn: asyncpg.Connection, prefill: int, new: int) -> None:
    now = datetime.now(UTC)
    monday = (now - timedelta(days=now.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    first = monday - 5 * WEEK
    try:
        for sql in ("DROP TABLE IF EXISTS ids_hash", "DROP TABLE IF EXISTS ids_week"):
            await conn.execute(sql)
        for sql in HASH_DDL:
            await conn.execute(sql)
        await week_ddl(conn, first, 5)
        t = time.perf_counter()
        await conn.execute(
            "INSERT INTO ids_hash SELECT 'acc', 'old-' || g, g, $1::timestamptz "
            "+ (g % 35) * interval '1 day' FROM generate_series(1, $2) g",
            first,
            prefill,
        )
        await conn.execute(
            "INSERT INTO ids_week SELECT 'acc', 'old-' || g, "
            "($1::timestamptz + (g % 35) * interval '1 day')::date - "
            "extract(isodow FROM $1::timestamptz + (g % 35) * interval '1 day')::int + 1, "
            "g, $1 FROM generate_series(1, $2) g",
            first,
            prefill,
        )
        await conn.execute("VACUUM ANALYZE ids_hash")
        await conn.execute("VACUUM ANALYZE ids_week")
        print(f"prefill {prefill} each: {time.perf_counter() - t:.1f} s")
        for name, sql, extra in (
            ("hash", HASH_INSERT, ()),
            ("week", WEEK_INSERT, (monday.date(),)),
        ):
            t = time.perf_counter()
            for lo in range(0, new, 1000):
                batch = [f"new-{name}-{k}" for k in range(lo, lo + 900)]
                batch += [f"old-{k}" for k in range(lo + 1, lo + 101)]
                await conn.execute(sql, "acc", batch, now, *extra)
            took = time.perf_counter() - t
            print(f"{name}: {new / took:,.0f} identifiers/s ({took:.1f} s for {new:,})")
        t = time.perf_counter()
        n = await conn.execute(
            "DELETE FROM ids_hash WHERE received_at < $1::timestamptz + interval '7 days'", first
        )
        print(f"hash: retention DELETE of one week ({n}): {time.perf_counter() - t:.2f} s")
        t = time.perf_counter()
        await conn.execute("DROP TABLE ids_week_1")
        print(f"week: retention DROP of one week: {time.perf_counter() - t:.2f} s")
    finally:
        await conn.execute("DROP TABLE IF EXISTS ids_hash")
        await conn.execute("DROP TABLE IF EXISTS ids_week")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--prefill", type=int, default=2_000_000)
    p.add_argument("--new", type=int, default=200_000)
    a = p.parse_args()
    asyncio.run(run(a.pg, a.prefill, a.new))


if __name__ == "__main__":
    main()
