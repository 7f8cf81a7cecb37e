"""SQL statements and worker CPU per subscription of the wall-clock billing cron on
PostgreSQL: N due subscriptions (1 seat + graduated usage with a rollup of usage each) are
closed, finalized and collected by one `billing_steps.run_due` pass in this process.

    .venv/bin/python bench/billing_statements.py [--pg URL] [--sizes 10,200] [--batch 500]
        [--credit-grants 3]

Counts every asyncpg Connection query call (execute, executemany, fetch, fetchrow, fetchval,
fetchmany; BEGIN/COMMIT included, as bench/run.py's dashboard phase counts), and the
process CPU time of the pass, and the CPU time the PostgreSQL backends serving the
database spent meanwhile (from /proc: PostgreSQL must run on this machine). Creates and
drops a database per size; one line per size. With --credit-grants N every customer holds N
credit grants that together pay its usage (8000 cents: checked afterwards)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg  # noqa: E402
from asyncpg.connection import Connection  # noqa: E402
from tortoise import Tortoise  # noqa: E402

from meterbill.config import Settings  # noqa: E402
from meterbill.db.models import CreditGrant, Invoice, Meter, Subscription  # noqa: E402
from meterbill.db.setup import init_db, run_migrations  # noqa: E402
from meterbill.services import billing_steps  # noqa: E402
from meterbill.services.credits import grants as credit_grants  # noqa: E402
from tests import services as svc  # noqa: E402
from tests.billing_helpers import add_rollup_usage  # noqa: E402
from tests.integration.billing_setup import make_catalog, subscribe_many  # noqa: E402

_METHODS = ("execute", "executemany", "fetch", "fetchrow", "fetchval", "fetchmany")


@contextmanager
def counting() -> Iterator[Counter[str]]:
    """Counts asyncpg query calls by their first words while active."""
    seen: Counter[str] = Counter()
    originals = {m: getattr(Connection, m) for m in _METHODS}

    def wrap(orig: Any) -> Any:
        async def counted(self: Any, query: Any, *args: Any, **kw: Any) -> Any:
            seen[" ".join(str(query).split())[:60]] += 1
            return await orig(self, query, *args, **kw)

        return counted

    for m, orig in originals.items():
        setattr(Connection, m, wrap(orig))
    try:
        yield seen
    finally:
        for m, orig in originals.items():
            setattr(Connection, m, orig)


async def backend_cpu(url: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend connected to the database of `url`
    (from /proc: the server runs on this machine), excluding the asking connection."""
    conn = await asyncpg.connect(url)
    try:
        pids = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    return _proc_cpu([int(r["pid"]) for r in pids])


def _proc_cpu(pids: list[int]) -> dict[int, float]:
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return out


USAGE_CENTS = 8000  # 3000 tokens: 2000 over the free 1000 at 4 cents


async def one(
    pg: str, n: int, show: bool, batch: int, grants: int = 0
) -> tuple[int, float, float, float]:
    name, url = await asyncio.to_thread(svc.create_pg_database, pg)
    try:
        settings = Settings(database_url=url, invoice_grace_period=0, db_pool_max=10)
        await run_migrations(settings)
        await init_db(settings)
        billing_steps.configure(0)
        cat = await make_catalog()
        subs = await subscribe_many(cat, n)
        meter = await Meter.get(id=cat.meter_id)
        ends = []
        for sub in await Subscription.filter(id__in=subs):
            at = sub.current_period_start + (sub.current_period_end - sub.current_period_start) / 2
            await add_rollup_usage(meter, sub.customer_id, Decimal(3000), at)
            ends.append(sub.current_period_end)
            for k in range(grants):
                # Together they pay all the usage, each a share (the last the rest).
                share = USAGE_CENTS // grants + (USAGE_CENTS % grants if k == grants - 1 else 0)
                req = credit_grants.GrantRequest(sub.customer_id, share, "usd")
                await credit_grants.create_credit_grant(cat.account_id, req)
        later = max(ends) + timedelta(minutes=1)
        await Subscription.first()  # a pool connection exists before the count
        before = await backend_cpu(url)
        with counting() as seen:
            cpu, wall = time.process_time(), time.perf_counter()
            result = await billing_steps.run_due(later, batch)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        after = await backend_cpu(url)
        pg_cpu = sum(t - before.get(pid, 0.0) for pid, t in after.items())
        paid = await Invoice.filter(
            billing_reason="SUBSCRIPTION_CYCLE", status="PAID", total=18000
        ).count()
        assert result.closed == n and paid == n, (result, paid, n)
        left = sum(g.available_amount for g in await CreditGrant.all())
        assert left == 0, left  # every grant spent: the credits were applied
        if show:
            for q, c in seen.most_common():
                print(f"  {c:6d}  {q}")
        return sum(seen.values()), cpu, pg_cpu, wall
    finally:
        await Tortoise.close_connections()
        await asyncio.to_thread(svc.drop_pg_database, pg, name)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--sizes", default="10,200")
    ap.add_argument("--batch", type=int, default=billing_steps.BATCH)
    ap.add_argument("--show", action="store_true", help="print the statements by kind")
    ap.add_argument("--credit-grants", type=int, default=0, help="grants per customer")
    args = ap.parse_args()
    print(
        "subscriptions | statements | per subscription | worker CPU ms/sub | "
        "PostgreSQL CPU ms/sub | wall ms/sub"
    )
    for n in (int(s) for s in args.sizes.split(",")):
        count, cpu, pg_cpu, wall = await one(args.pg, n, args.show, args.batch, args.credit_grants)
        print(
            f"{n:13d} | {count:10d} | {count / n:16.1f} | {1000 * cpu / n:17.2f} | "
            f"{1000 * pg_cpu / n:21.2f} | {1000 * wall / n:11.2f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
