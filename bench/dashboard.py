"""The dashboard's numbers (issue 17), on PostgreSQL with headless Chromium and a local server:

    .venv/bin/python bench/dashboard.py [--pg URL] [--customers 10000] [--invoices 100]
        [--runs 5] [--events 40]

- bundle: bytes and gzip bytes of the built files (src/meterbill/static/dashboard);
- first render of a customer page (navigation start -> its 100-invoice table on screen), the
  account holding --customers customers and the customer --invoices invoices;
- SQL statements per page load (customers, customer, invoices, invoice), counted in this
  process, which runs the app under uvicorn (every asyncpg query call counted, BEGIN/COMMIT
  included, as bench/billing_statements.py counts);
- live usage latency: recordMeterEvent answered (accepted) -> the subscription's message
  received by a graphql-transport-ws client (gql), p50/p95/max over --events events.

The app runs embedded (in-process worker) on a database of its own, created and dropped."""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import gzip
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
import uvicorn  # noqa: E402

from meterbill.app import create_app  # noqa: E402
from meterbill.config import Settings  # noqa: E402
from meterbill.db.models import Customer, Invoice  # noqa: E402
from meterbill.db.setup import run_migrations  # noqa: E402
from meterbill.services.accounts import create_account  # noqa: E402
from tests import services as svc  # noqa: E402
from tests.billing_helpers import advance, catalog, clock, subscribe  # noqa: E402
from tests.browser.conftest import CHROMIUM, FLAGS  # noqa: E402
from tests.conftest import Tenant  # noqa: E402
from tests.live_support import LIVE_USAGE, record  # noqa: E402
from tests.processes import free_port  # noqa: E402

STATIC = Path(__file__).resolve().parents[1] / "src" / "meterbill" / "static" / "dashboard"
START = datetime(2026, 1, 1, tzinfo=UTC)


# Set for the tasks that serve a request (HTTP or WebSocket) and the tasks they start: the
# embedded worker's sweeps and billing loop run meanwhile and are not the page's statements.
IN_REQUEST: contextvars.ContextVar[bool] = contextvars.ContextVar("in_request", default=False)


def marking(app: Any) -> Any:
    async def marked(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            IN_REQUEST.set(True)
        await app(scope, receive, send)

    return marked


def count_statements() -> list[str]:
    """Every asyncpg query call made while serving a request, appended to the list."""
    from asyncpg.connection import Connection

    seen: list[str] = []
    for name in ("execute", "executemany", "fetch", "fetchrow", "fetchval", "fetchmany"):
        orig = getattr(Connection, name)

        def wrap(orig: Any) -> Any:
            async def counted(self: Any, query: Any, *args: Any, **kw: Any) -> Any:
                if IN_REQUEST.get():
                    seen.append(" ".join(str(query).split())[:80])
                return await orig(self, query, *args, **kw)

            return counted

        setattr(Connection, name, wrap(orig))
    return seen


def bundle() -> dict[str, int]:
    files = [p for p in STATIC.rglob("*") if p.is_file()]
    raw = sum(p.stat().st_size for p in files)
    gz = sum(len(gzip.compress(p.read_bytes(), 9)) for p in files)
    js = sum(len(gzip.compress(p.read_bytes(), 9)) for p in files if p.suffix == ".js")
    return {"bundle_bytes": raw, "bundle_gzip_bytes": gz, "bundle_js_gzip_bytes": js}


async def seed(tenant: Tenant, customers: int, invoices: int) -> tuple[str, str]:
    """The Alpaca customer with one real paid cycle invoice (and its first), cloned back in
    time to `invoices` invoices; then `customers` - 1 other customers."""
    cat = await catalog(tenant)
    clock_id = await clock(tenant, START)
    d = await tenant.data(
        'mutation($c: ID) { createCustomer(input: {name: "Alpaca Bench", paymentMethod: '
        '"pm_card_visa", testClockId: $c}) { customer { id } } }',
        {"c": clock_id},
    )
    cus = d["createCustomer"]["customer"]["id"]
    sub = await subscribe(
        tenant,
        {"customerId": cus, "items": [{"priceId": cat["usage"]}, {"priceId": cat["license"]}]},
    )
    assert sub["userErrors"] == [], sub
    await record(tenant, cus, "3000", START + timedelta(minutes=2), "alpaca_ai_tokens")
    await asyncio.sleep(1)
    await advance(tenant, clock_id, datetime(2026, 2, 1, 2, tzinfo=UTC))
    real = await Invoice.filter(customer_id=cus).order_by("created_at")
    template = real[-1]
    clones = []
    for i in range(invoices - len(real)):
        at = template.period_start - timedelta(days=31 * (i + 1))
        clones.append(
            Invoice(
                account_id=template.account_id,
                customer_id=cus,
                subscription_id=None,
                # Not the account's own prefix (its name's): no clash with real numbers.
                number=f"OLD-{i:04d}",
                status="PAID",
                billing_reason="MANUAL",
                collection_method=template.collection_method,
                currency=template.currency,
                period_start=at,
                period_end=at + timedelta(days=31),
                subtotal=template.subtotal,
                total=template.total,
                amount_due=template.amount_due,
                amount_paid=template.amount_paid,
                created_at=at + timedelta(days=31),
                finalized_at=at + timedelta(days=31),
                paid_at=at + timedelta(days=31),
            )
        )
    await Invoice.bulk_create(clones, batch_size=500)
    others = [
        Customer(account_id=tenant.account_id, name=f"Customer {i}", email=f"c{i}@bench.test")
        for i in range(customers - 1)
    ]
    await Customer.bulk_create(others, batch_size=1000)
    return cat["meter"], cus


async def pages(
    base: str, secret: str, cus: str, invoices: int, runs: int, seen: Any, show: bool
) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    out: dict[str, Any] = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        ctx = await browser.new_context()
        page = await ctx.new_page()
        await page.goto(f"{base}/dashboard#key={secret}")
        await page.get_by_role("heading", name="Customers").wait_for()
        invoice_id = (await Invoice.filter(customer_id=cus).order_by("-created_at").first()).id
        targets = {
            "customers": ("#/customers", "table tbody tr"),
            "customer": (f"#/customers/{cus}", f"table tbody tr >> nth={invoices - 1}"),
            "invoices": ("#/invoices?status=PAID", "table tbody tr"),
            "invoice": (f"#/invoices/{invoice_id}", "table tbody tr"),
        }
        for name, (route, ready) in targets.items():
            times = []
            for _ in range(runs):
                await page.goto("about:blank")
                seen.clear()
                t0 = time.perf_counter()
                await page.goto(f"{base}/dashboard{route}")
                await page.locator(ready).first.wait_for()
                times.append((time.perf_counter() - t0) * 1000)
                await page.wait_for_load_state("networkidle")
                await asyncio.sleep(0.3)  # the live subscription's first read
                statements = len(seen)
            out[f"{name}_first_render_ms_median"] = round(statistics.median(times), 1)
            out[f"{name}_first_render_ms_max"] = round(max(times), 1)
            out[f"{name}_sql_statements"] = statements
            if show:
                out[f"{name}_statements"] = list(seen)
        await browser.close()
    return out


async def latency(base: str, tenant: Tenant, meter: str, cus: str, n: int) -> dict[str, Any]:
    from gql import Client, GraphQLRequest
    from gql.transport.websockets import WebsocketsTransport

    transport = WebsocketsTransport(
        url=base.replace("http", "ws") + "/graphql",
        init_payload={"Authorization": f"Bearer {tenant.secret}"},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    got: asyncio.Queue[float] = asyncio.Queue()
    samples = []
    async with Client(transport=transport) as session:
        req = GraphQLRequest(LIVE_USAGE, variable_values={"m": meter, "c": cus})

        async def listen() -> None:
            async for _ in session.subscribe(req):
                got.put_nowait(time.perf_counter())

        task = asyncio.create_task(listen())
        await asyncio.wait_for(got.get(), 30)  # the current value
        at = datetime(2026, 2, 1, 2, 1, tzinfo=UTC)
        for _ in range(n):
            await record(tenant, cus, "1", at, "alpaca_ai_tokens")
            accepted = time.perf_counter()
            received = await asyncio.wait_for(got.get(), 30)
            samples.append((received - accepted) * 1000)
            await asyncio.sleep(0.25)
        task.cancel()
    samples.sort()
    return {
        "live_latency_ms_p50": round(statistics.median(samples), 1),
        "live_latency_ms_p95": round(samples[int(0.95 * (len(samples) - 1))], 1),
        "live_latency_ms_max": round(samples[-1], 1),
        "live_events": n,
    }


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--pg",
        default=os.environ.get(
            "MB_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"
        ),
    )
    ap.add_argument("--customers", type=int, default=10_000)
    ap.add_argument("--invoices", type=int, default=100)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--events", type=int, default=40)
    ap.add_argument("--show", action="store_true", help="list each page's statements")
    args = ap.parse_args()
    result: dict[str, Any] = {**bundle()}
    name, url = await asyncio.to_thread(svc.create_pg_database, args.pg)
    try:
        settings = Settings(database_url=url, redis_url=None)
        await run_migrations(settings)
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                marking(create_app(settings)), host="127.0.0.1", port=port, log_level="warning"
            )
        )
        serving = asyncio.create_task(server.serve())
        for _ in range(600):
            if server.started:
                break
            await asyncio.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        try:
            account, secret = await create_account("Bench")
            async with httpx.AsyncClient(base_url=base, timeout=60) as client:
                tenant = Tenant(client=client, account_id=account.id, secret=secret)
                meter, cus = await seed(tenant, args.customers, args.invoices)
                seen = count_statements()
                result.update(
                    await pages(base, secret, cus, args.invoices, args.runs, seen, args.show)
                )
                result.update(await latency(base, tenant, meter, cus, args.events))
        finally:
            server.should_exit = True
            await serving
    finally:
        await asyncio.to_thread(svc.drop_pg_database, args.pg, name)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
