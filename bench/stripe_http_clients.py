"""CPU per charge of the Stripe adapter with stripe-python's two async HTTP clients (aiohttp,
what meterbill uses, and httpx), against the local fake Stripe in its own process, 8
charges in flight like a billing batch; no database:

    .venv/bin/python bench/stripe_http_clients.py [--n 600] [--rounds 3]"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import stripe  # noqa: E402

from bench.payment_provider import start_fake  # noqa: E402
from meterbill.services.stripe_payments import StripeProvider  # noqa: E402

SECRET = "sk_test_meterbill_fake"


def _provider(url: str, kind: str) -> StripeProvider:
    p = StripeProvider(SECRET, api_base=url)
    if kind == "httpx":
        p._http = stripe.HTTPXClient(timeout=30)
        p._client = stripe.StripeClient(SECRET, base_addresses={"api": url}, http_client=p._http)
    return p


async def _charges(p: StripeProvider, tag: str, n: int) -> None:
    gate = asyncio.Semaphore(8)

    async def one(k: int) -> bool:
        async with gate:
            r = await p.charge(
                customer_id="cus_bench",
                payment_method="pm_card_visa",
                amount=1000,
                currency="usd",
                idempotency_key=f"{tag}-{k}",
                provider_customer_id="cus_1",
                invoice_id=f"in_{k}",
                invoice_number="BENCH-0001",
            )
            return r.succeeded

    assert all(await asyncio.gather(*(one(k) for k in range(n))))


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    fake, url = start_fake()
    try:
        for k in range(args.rounds):
            for kind in ("httpx", "aiohttp"):
                p = _provider(url, kind)
                await _charges(p, f"warm-{kind}-{k}", 50)
                t, cpu = time.perf_counter(), time.process_time()
                await _charges(p, f"{kind}-{k}", args.n)
                wall = (time.perf_counter() - t) * 1000 / args.n
                used = (time.process_time() - cpu) * 1000 / args.n
                print(f"{k + 1} {kind:8s} {wall:7.3f} ms wall/charge {used:7.3f} ms CPU/charge")
                await p.aclose()
    finally:
        fake.terminate()
        fake.wait()


if __name__ == "__main__":
    asyncio.run(main())
