"""Layouts of the identifier dedupe table (meter_event_ids, issue 18), measured alone:

  wide      migration 0015's: (account_id, identifier) text key, event id, timestamp,
            received_at, primary key on the two texts, an index on received_at; retention
            DELETEs through that index.
  slim_idx  a 16-byte key (uuid: md5 of account and identifier), event id, timestamp,
            received_at; primary key on the key, the received_at index kept.
  slim      the same without the received_at index: retention sweeps each hash partition
            by block ranges (TID range scan) and deletes what is past the window.

Each is HASH-partitioned in 8 and starts with PREFILL identifiers received over the last
36 days, then takes NEW ones in batches of 1,000 (10% already seen), one client, the three
layouts interleaved batch by batch. Prints identifiers per second, bytes per identifier
(table and indexes), and the time to remove one day of rows.

    .venv/bin/python bench/slim_ids.py [--pg URL] [--prefill N] [--new N]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
from scratch_db import scratch_database

KEY = "md5({a} || ':' || {i})::uuid"


def ddl(name: str) -> list[str]:
    if name == "wide":
        cols = "account_id text NOT NULL, identifier text NOT NULL"
        key = "account_id, identifier"
    else:
        cols = "key uuid NOT NULL"
        key = "key"
    out = [
        f"CREATE TABLE ids_{name} ({cols}, event_id bigint NOT NULL, "
        f"ts timestamptz NOT NULL, received_at timestamptz NOT NULL, "
        f"PRIMARY KEY ({key})) PARTITION BY HASH ({key})",
        *(
            f"CREATE TABLE ids_{name}_{r} PARTITION OF ids_{name} "
            f"FOR VALUES WITH (MODULUS 8, REMAINDER {r})"
            for r in range(8)
        ),
    ]
    if name != "slim":
        out.append(f"CREATE INDEX ON ids_{name} (received_at)")
    return out


def insert(name: str) -> str:
    if name == "wide":
        return (
            "INSERT INTO ids_wide SELECT $1, i, 0, $3, $3 FROM unnest($2::text[]) i "
            "ORDER BY 1, 2 ON CONFLICT DO NOTHING"
        )
    return (
        f"INSERT INTO ids_{name} SELECT {KEY.format(a='$1', i='i')}, 0, $3, $3 "
        "FROM unnest($2::text[]) i ORDER BY 1 ON CONFLICT DO NOTHING"
    )


async def run(url: str, prefill: int, new: int) -> None:
    async with scratch_database(url, "bench_slim_ids") as db_url:
        conn = await asyncpg.connect(db_url)
        try:
            await measure(conn, prefill, new)
        finally:
            await conn.close()


async def size(conn: asyncpg.Connection, name: str) -> tuple[int, int]:
    """(heap bytes, index bytes) over the partitions."""
    row = await conn.fetchrow(
        "SELECT sum(pg_relation_size(c.oid))::bigint AS heap, "
        "sum(pg_indexes_size(c.oid))::bigint AS idx FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass",
        f"ids_{name}",
    )
    return int(row["heap"]), int(row["idx"])


async def measure(conn: asyncpg.Connection, prefill: int, new: int) -> None:
    now = datetime.now(UTC)
    first = now - timedelta(days=36)
    names = ("wide", "slim_idx", "slim")
    for name in names:
        for sql in ddl(name):
            await conn.execute(sql)
        # Request-like identifiers (a uuid4 each), received over 36 days in arrival order.
        await conn.execute(
            f"INSERT INTO ids_{name} SELECT "
            + (
                "'acct_' || 'x' || repeat('a', 23), i"
                if name == "wide"
                else KEY.format(a="'acct_' || 'x' || repeat('a', 23)", i="i")
            )
            + ", g, $1::timestamptz + g * ($3::interval / $2), "
            "$1::timestamptz + g * ($3::interval / $2) "
            "FROM generate_series(1, $2) g, LATERAL (SELECT md5(g::text)::uuid::text AS i) x",
            first,
            prefill,
            timedelta(days=36),
        )
        await conn.execute(f"VACUUM ANALYZE ids_{name}")
    account = "acct_x" + "a" * 23
    took = dict.fromkeys(names, 0.0)
    for lo in range(0, new, 1000):
        batch = [str(uuid.uuid4()) for _ in range(900)]
        batch += [
            str(uuid.UUID(hashlib.md5(str(k).encode()).hexdigest()))
            for k in range(lo + 1, lo + 101)
        ]
        for name in names:
            t = time.perf_counter()
            await conn.execute(insert(name), account, batch, now)
            took[name] += time.perf_counter() - t
    for name in names:
        heap, idx = await size(conn, name)
        rows = prefill + new * 9 // 10
        print(
            f"{name:9s} {new / took[name]:9,.0f} identifiers/s   "
            f"{heap / rows:5.1f} B/row table + {idx / rows:5.1f} B/row indexes"
        )
    cutoff = first + timedelta(days=1)
    for name in ("wide", "slim_idx"):
        t = time.perf_counter()
        n = await conn.execute(f"DELETE FROM ids_{name} WHERE received_at < $1", cutoff)
        print(f"{name}: one day's DELETE through the index ({n}): {time.perf_counter() - t:.2f} s")
    t = time.perf_counter()
    total = 0
    for r in range(8):
        pages = await conn.fetchval(
            "SELECT pg_relation_size($1::regclass) / current_setting('block_size')::int",
            f"ids_slim_{r}",
        )
        for b in range(0, pages, 20_000):
            status = await conn.execute(
                f"DELETE FROM ids_slim_{r} WHERE ctid >= '({b},0)'::tid "
                f"AND ctid < '({b + 20_000},0)'::tid AND received_at < $1",
                cutoff,
            )
            total += int(status.split()[-1])
    print(f"slim: one day's sweep of every partition ({total}): {time.perf_counter() - t:.2f} s")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--prefill", type=int, default=2_000_000)
    p.add_argument("--new", type=int, default=200_000)
    a = p.parse_args()
    asyncio.run(run(a.pg, a.prefill, a.new))


if __name__ == "__main__":
    main()
