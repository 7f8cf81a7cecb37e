"""Throughput of the wall-clock billing cron by 1 and by 2 worker processes that start
their pass at the same instant (no start-up skew, unlike bench/run.py's finalize phase,
whose --quick set is finished in about a second), on PostgreSQL:

    .venv/bin/python bench/billing_scaling.py [--pg URL] [--n 5000] [--workers 1,2]

For each worker count: a fresh database with N due subscriptions (1 seat + graduated usage,
a rollup of usage each; one made through the services, the rest copied from it in SQL),
then that many processes each run `billing_steps.run_due` once from a common start time.
Prints subscriptions per second (start to the last process done), the processes' CPU and
the PostgreSQL backends' CPU per subscription."""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg  # noqa: E402
from tortoise import Tortoise  # noqa: E402

from bench.billing_statements import _proc_cpu  # noqa: E402
from meterbill.config import Settings  # noqa: E402
from meterbill.db.models import Meter, Subscription  # noqa: E402
from meterbill.db.setup import init_db, run_migrations  # noqa: E402
from tests import services as svc  # noqa: E402
from tests.billing_helpers import add_rollup_usage  # noqa: E402
from tests.integration.billing_setup import make_catalog, subscribe_many  # noqa: E402


async def _columns(conn: asyncpg.Connection, table: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_name = $1 "
        "ORDER BY ordinal_position",
        table,
    )
    return [r["column_name"] for r in rows]


async def _copy(conn: asyncpg.Connection, table: str, where: str, swap: dict[str, str]) -> None:
    """Insert a copy of the row(s) `where` for every row of the temp table k, with columns
    `swap` set to expressions over k; serial ids are left to their default."""
    serial = table.startswith("usage_rollups")
    cols = [c for c in await _columns(conn, table) if not (c == "id" and serial)]
    values = ", ".join(swap.get(c, f"t.{c}") for c in cols)
    await conn.execute(
        f"INSERT INTO {table} ({', '.join(cols)}) SELECT {values} FROM {table} t, k WHERE {where}"
    )


async def prepare(url: str, n: int) -> datetime:
    """N due subscriptions; returns an instant after their period ends."""
    settings = Settings(database_url=url, invoice_grace_period=0, db_pool_max=10)
    await run_migrations(settings)
    await init_db(settings)
    try:
        cat = await make_catalog()
        [sid] = await subscribe_many(cat, 1)
        sub = await Subscription.get(id=sid)
        meter = await Meter.get(id=cat.meter_id)
        mid = sub.current_period_start + (sub.current_period_end - sub.current_period_start) / 2
        await add_rollup_usage(meter, sub.customer_id, Decimal(3000), mid)
        later = sub.current_period_end + timedelta(minutes=1)
    finally:
        await Tortoise.close_connections()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "CREATE TEMP TABLE k AS SELECT 'cus_bench' || lpad(g::text, 15, '0') AS cus, "
            "'sub_bench' || lpad(g::text, 15, '0') AS sub, "
            "'si_bench' || lpad(g::text, 15, '0') AS item FROM generate_series(2, $1) g",
            n,
        )
        await _copy(conn, "customers", f"t.id = '{sub.customer_id}'", {"id": "k.cus"})
        await _copy(
            conn,
            "subscriptions",
            f"t.id = '{sid}'",
            {"id": "k.sub", "customer_id": "k.cus", "latest_invoice_id": "NULL"},
        )
        await _copy(
            conn,
            "subscription_items",
            f"t.subscription_id = '{sid}'",
            {"id": "k.item || t.position", "subscription_id": "k.sub"},
        )
        for table in ("usage_rollups", "usage_rollups_hourly"):
            where = f"t.customer_id = '{sub.customer_id}'"
            await _copy(conn, table, where, {"customer_id": "k.cus"})
        assert await conn.fetchval("SELECT count(*) FROM subscriptions") == n
    finally:
        await conn.close()
    return later


CHILD = """
import asyncio, json, sys, time
from datetime import datetime
from meterbill.config import Settings
from meterbill.db.setup import init_db, close_db
from meterbill.services import billing_steps

async def main(url, later, start):
    await init_db(Settings(database_url=url, invoice_grace_period=0, db_pool_max=10))
    billing_steps.configure(0)
    await asyncio.sleep(max(0.0, start - time.time()))
    cpu = time.process_time()
    r = await billing_steps.run_due(datetime.fromisoformat(later))
    out = {"done": time.time(), "cpu": time.process_time() - cpu, "closed": r.closed}
    await close_db()
    print(json.dumps(out))

asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
"""


_SAMPLES: dict[str, Any] = {}


async def _out(p: subprocess.Popen[bytes]) -> bytes:
    out, _ = await asyncio.to_thread(p.communicate)
    return out


async def _sample(conn: asyncpg.Connection) -> None:
    """Every 10 ms: the CPU of the database's backends (a backend first seen counts from
    its start, a few ms of connecting) and what the active ones wait for."""
    cpu: dict[int, float] = {}
    waits: Counter[str] = Counter()
    _SAMPLES.update(cpu=cpu, waits=waits)
    while True:
        rows = await conn.fetch(
            "SELECT pid, state, wait_event_type, wait_event FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        cpu.update(_proc_cpu([int(r["pid"]) for r in rows]))
        for r in rows:
            if r["state"] == "active":
                waits[f"{r['wait_event_type'] or 'CPU'}:{r['wait_event'] or '-'}"] += 1
        await asyncio.sleep(0.01)


async def run(pg: str, n: int, workers: int) -> dict[str, float]:
    name, url = await asyncio.to_thread(svc.create_pg_database, pg)
    try:
        later = await prepare(url, n)
        start = time.time() + 4.0  # every process has imported and connected by then
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", CHILD, url, later.isoformat(), str(start)],
                stdout=subprocess.PIPE,
            )
            for _ in range(workers)
        ]
        conn = await asyncpg.connect(url)
        try:
            sampler = asyncio.create_task(_sample(conn))
            outs = [json.loads(o) for o in await asyncio.gather(*(_out(p) for p in procs))]
            sampler.cancel()
            await asyncio.gather(sampler, return_exceptions=True)
            cpu, waits = _SAMPLES["cpu"], _SAMPLES["waits"]
            paid = await conn.fetchval(
                "SELECT count(*) FROM invoices WHERE billing_reason = 'SUBSCRIPTION_CYCLE' "
                "AND status = 'PAID' AND total = 18000"
            )
        finally:
            await conn.close()
        assert paid == n == sum(o["closed"] for o in outs), (paid, outs)
        seconds = max(o["done"] for o in outs) - start
        return {
            "sps": n / seconds,
            "worker_cpu_ms": 1000 * sum(o["cpu"] for o in outs) / n,
            "pg_cpu_ms": 1000 * sum(cpu.values()) / n,
            "split": min(o["closed"] for o in outs) / n,
            "waits": dict(waits.most_common(4)),
        }
    finally:
        await asyncio.to_thread(svc.drop_pg_database, pg, name)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--workers", default="1,2")
    args = ap.parse_args()
    print(
        "workers | subscriptions/s | worker CPU ms/sub | PostgreSQL CPU ms/sub | least share "
        "| PostgreSQL active backends sampled (wait event)"
    )
    for w in (int(x) for x in args.workers.split(",")):
        r = await run(args.pg, args.n, w)
        print(
            f"{w:7d} | {r['sps']:15.0f} | {r['worker_cpu_ms']:17.2f} | {r['pg_cpu_ms']:21.2f} | "
            f"{r['split']:11.2f} | {r['waits']}"
        )


if __name__ == "__main__":
    asyncio.run(main())
