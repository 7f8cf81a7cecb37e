"""The Stripe adapter's own cost per charge: the wall-clock billing pass (close -> finalize
-> collect, services/billing_steps.run_due, in one process) over N due subscriptions on
PostgreSQL, charging with the test cards or through the Stripe adapter against the local
fake Stripe (tests/stripe_fake.py, in a process of its own, answering at once):

    .venv/bin/python bench/payment_provider.py [--pg URL] [--n 1000] [--rounds 3]

Rounds interleave the providers (test, stripe, test, stripe ...) on a fresh database each
(bench/billing_scaling.prepare). Prints per run subscriptions per second and the billing
process's CPU per subscription, then the medians and their difference per charge."""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[1])
sys.path.insert(0, ROOT)

import asyncpg  # noqa: E402

from bench.billing_scaling import prepare  # noqa: E402
from tests import services as svc  # noqa: E402

FAKE = """
import asyncio, sys
sys.path.insert(0, sys.argv[1])
from tests.stripe_fake import FakeStripe

async def main():
    fake = await FakeStripe().start()
    print(fake.url, flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""

CHILD = """
import asyncio, json, sys, time
from datetime import datetime
from meterbill.config import Settings
from meterbill.db.setup import init_db, close_db
from meterbill.services import billing_steps, payments

async def main(url, later, provider, api_base):
    await init_db(Settings(database_url=url, invoice_grace_period=0, db_pool_max=10))
    billing_steps.configure(0)
    if provider == "stripe":
        from meterbill.services.stripe_payments import StripeProvider
        payments.set_provider(StripeProvider("sk_test_meterbill_fake", api_base=api_base))
    await asyncio.sleep(0.5)
    t, cpu = time.perf_counter(), time.process_time()
    r = await billing_steps.run_due(datetime.fromisoformat(later))
    out = {"seconds": time.perf_counter() - t, "cpu": time.process_time() - cpu,
           "closed": r.closed, "collected": r.collected}
    await payments.close()
    await close_db()
    print(json.dumps(out))

asyncio.run(main(*sys.argv[1:5]))
"""


def start_fake() -> tuple[subprocess.Popen[str], str]:
    """The fake Stripe in a process of its own (its CPU is not the adapter's); its URL."""
    fake = subprocess.Popen([sys.executable, "-c", FAKE, ROOT], stdout=subprocess.PIPE, text=True)
    assert fake.stdout is not None
    return fake, fake.stdout.readline().strip()


async def run(pg: str, n: int, provider: str, api_base: str) -> dict[str, float]:
    name, url = await asyncio.to_thread(svc.create_pg_database, pg)
    try:
        later = await prepare(url, n)
        conn = await asyncpg.connect(url)
        try:
            if provider == "stripe":
                await conn.execute(
                    "UPDATE customers SET stripe_customer_id = 'cus_' || substr(id, 5), "
                    "stripe_payment_method_id = 'pm_card_visa'"
                )
            out = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-c", CHILD, url, later.isoformat(), provider, api_base],
                capture_output=True,
                check=True,
            )
            r = json.loads(out.stdout)
            paid = await conn.fetchval(
                "SELECT count(*) FROM invoices i JOIN payment_attempts a ON a.invoice_id = i.id "
                "WHERE i.billing_reason = 'SUBSCRIPTION_CYCLE' AND i.status = 'PAID' "
                "AND a.succeeded AND a.provider_reference LIKE $1",
                "pi_%" if provider == "stripe" else "ch_test_%",
            )
        finally:
            await conn.close()
        assert paid == n == r["closed"], (paid, r)
        return {"sps": n / r["seconds"], "cpu_ms": 1000 * r["cpu"] / n}
    finally:
        await asyncio.to_thread(svc.drop_pg_database, pg, name)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    fake, api_base = start_fake()
    try:
        runs: dict[str, list[dict[str, float]]] = {"test": [], "stripe": []}
        print("round | provider | subscriptions/s | billing process CPU ms/sub")
        for k in range(args.rounds):
            for provider in ("test", "stripe"):
                t = time.perf_counter()
                r = await run(args.pg, args.n, provider, api_base)
                runs[provider].append(r)
                print(
                    f"{k + 1:5d} | {provider:8s} | {r['sps']:15.0f} | {r['cpu_ms']:26.3f}"
                    f"   ({time.perf_counter() - t:.0f} s with set-up)",
                    flush=True,
                )
        med = {
            p: {m: statistics.median(r[m] for r in rs) for m in ("sps", "cpu_ms")}
            for p, rs in runs.items()
        }
        for p, m in med.items():
            print(f"median {p:6s}: {m['sps']:.0f} subscriptions/s, {m['cpu_ms']:.3f} ms CPU/sub")
        wall = 1000 / med["stripe"]["sps"] - 1000 / med["test"]["sps"]
        cpu = med["stripe"]["cpu_ms"] - med["test"]["cpu_ms"]
        print(f"adapter per charge: +{wall:.3f} ms wall per subscription, +{cpu:.3f} ms CPU")
    finally:
        fake.terminate()
        fake.wait()


if __name__ == "__main__":
    asyncio.run(main())
