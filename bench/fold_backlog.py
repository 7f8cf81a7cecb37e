"""The worker's fold on a backlog (issue 18): how fast, and at what CPU per event, one worker
process folds pending events of many customers into the minute and hour rollups.

    .venv/bin/python bench/fold_backlog.py [--pg URL] [--events 1000000] [--customers 10000]
        [--hours 24] [--concurrency 1,10] [--rounds 2]

Builds the backlog once in a database of its own: one SUM meter, --customers customers
sending Zipf-distributed traffic (the k-th sends 1/k of the first's, as bench/soak.py), --events
events spread evenly over the last --hours hours and inserted oldest first through the event
store (nothing folded). Then, per round and per --concurrency K (interleaved), a copy of that
database (CREATE DATABASE ... TEMPLATE) is folded to the end by K concurrent usage.drain()
calls in a child process (K = 10 is what arq's max_jobs let one worker process run before
the drains took turns; the worker now runs one at a time: services/usage/aggregate._Turn).

Reports per run: events folded per second (wall), the machine's CPU per event (all
processes, from /proc/stat: run it on a quiet machine) and the worker's own CPU per event;
checks that the rollups hold every event's value once, in the minutes and in the hours.
Run from another tree (`git archive`, PYTHONPATH=<tree>/src:<tree>) to compare versions."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg  # noqa: E402
from tortoise import Tortoise  # noqa: E402

from meterbill.config import Settings  # noqa: E402
from meterbill.db import stores  # noqa: E402
from meterbill.db.setup import init_db, run_migrations  # noqa: E402

CHUNK = 2500
TEMPLATE = "mb_fold_backlog_tpl"


def _busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (not idle or waiting for I/O)."""
    v = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def _url(server: str, name: str) -> str:
    return server.rsplit("/", 1)[0] + "/" + name


async def _admin(server: str, *sql: str) -> None:
    conn = await asyncpg.connect(server)
    try:
        for s in sql:
            await conn.execute(s)
    finally:
        await conn.close()


async def build(server: str, events: int, customers: int, hours: int) -> Decimal:
    """The backlog in TEMPLATE; returns the sum of the events' values."""
    from meterbill.services import catalog
    from meterbill.services.accounts import create_account

    await _admin(
        server,
        f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)',
        f'CREATE DATABASE "{TEMPLATE}"',
    )
    settings = Settings(database_url=_url(server, TEMPLATE), db_pool_max=4)
    await run_migrations(settings)
    await init_db(settings)
    try:
        account, _ = await create_account("fold backlog")
        meter = await catalog.create_meter(account.id, catalog.MeterSpec("Tokens", "tokens", "SUM"))
        cus = [
            (await catalog.create_customer(account.id, catalog.CustomerSpec(name=f"c{i}"))).id
            for i in range(customers)
        ]
        cum, acc = [], 0.0
        for k in range(1, customers + 1):
            acc += 1 / k
            cum.append(acc)
        rng = random.Random(18)
        now = datetime.now(UTC)
        start, span = now - timedelta(hours=hours + 1), hours * 3_600_000_000
        total = Decimal(0)
        for lo in range(0, events, CHUNK):
            n = min(CHUNK, events - lo)
            who = rng.choices(cus, cum_weights=cum, k=n)
            rows = []
            for j in range(n):
                i, value = lo + j, rng.randrange(1, 10)
                total += value
                at = start + timedelta(microseconds=i * span // events)
                rows.append((i, meter.id, who[j], f"ev-{i}", "tokens", str(value), at, "", None))
            await stores.current().events.insert(account.id, now, rows)
        return total
    finally:
        await Tortoise.close_connections()


async def fold(url: str, concurrency: int) -> dict[str, float]:
    """Child process: fold the whole backlog of `url` with `concurrency` drains at once."""
    from meterbill.services import usage

    await init_db(Settings(database_url=url, db_pool_max=concurrency + 2))
    try:
        busy, wall, own = _busy_seconds(), time.perf_counter(), time.process_time()
        done = await asyncio.gather(*(usage.drain(max_batches=10**9) for _ in range(concurrency)))
        busy, wall = _busy_seconds() - busy, time.perf_counter() - wall
        own = time.process_time() - own
    finally:
        await Tortoise.close_connections()
    n = sum(done)
    conn = await asyncpg.connect(url)
    try:
        sums = [
            await conn.fetchval(f"SELECT coalesce(sum(sum), 0) FROM {t}")
            for t in ("usage_rollups", "usage_rollups_hourly")
        ]
        left = await conn.fetchval("SELECT count(*) FROM meter_events_pending")
    finally:
        await conn.close()
    return {
        "events": n,
        "left": left,
        "minute_sum": str(sums[0]),
        "hour_sum": str(sums[1]),
        "eps": round(n / wall),
        "machine_cpu_us_per_event": round(1e6 * busy / n, 1),
        "worker_cpu_us_per_event": round(1e6 * own / n, 1),
    }


def run_child(server: str, concurrency: int, k: int) -> dict[str, float]:
    name = f"mb_fold_backlog_{k}"
    asyncio.run(
        _admin(
            server,
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
            f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"',
        )
    )
    try:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--fold",
                _url(server, name),
                "--concurrency",
                str(concurrency),
            ],
            check=True,
            capture_output=True,
            text=True,
            env=os.environ,
        ).stdout
        return dict(json.loads(out.strip().splitlines()[-1]))
    finally:
        asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--customers", type=int, default=10_000)
    ap.add_argument("--hours", type=int, default=24)
    ap.add_argument("--concurrency", default="1,10")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--fold", metavar="URL", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.fold:
        print(json.dumps(asyncio.run(fold(args.fold, int(args.concurrency)))))
        return 0
    levels = [int(c) for c in args.concurrency.split(",")]
    t0 = time.perf_counter()
    total = asyncio.run(build(args.pg, args.events, args.customers, args.hours))
    print(
        f"backlog: {args.events:,} events of {args.customers:,} customers over {args.hours} h, "
        f"built in {time.perf_counter() - t0:.0f} s",
        flush=True,
    )
    runs: dict[int, list[dict[str, float]]] = {c: [] for c in levels}
    try:
        for r in range(args.rounds):
            order = levels if r % 2 == 0 else levels[::-1]
            for c in order:
                got = run_child(args.pg, c, len(runs[c]))
                ok = (
                    got["left"] == 0
                    and Decimal(str(got["minute_sum"])) == total
                    and Decimal(str(got["hour_sum"])) == total
                )
                if not ok:
                    print(f"FAILED: rollups do not hold the backlog ({total}): {got}")
                    return 1
                runs[c].append(got)
                print(f"concurrency {c}: {json.dumps(got)}", flush=True)
    finally:
        asyncio.run(_admin(args.pg, f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)'))
    for c in levels:
        med = {
            k: statistics.median(float(x[k]) for x in runs[c])
            for k in ("eps", "machine_cpu_us_per_event", "worker_cpu_us_per_event")
        }
        print(f"concurrency {c}, medians of {len(runs[c])}: {json.dumps(med)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
