"""Webhook delivery measurements (contract extension "events"), in one process on a fresh
database: a WebhookLoop (as every worker process runs it) delivering to a local receiver.

  webhook_throughput       deliveries/s of N queued events to one fast local receiver
  webhook_latency_p50_ms / p95_ms
                           state change committed (a customer created, its event in the
                           same transaction) -> the receiver got the request; EVENTS changes
                           at a steady RATE per second

    .venv/bin/python bench/webhook_delivery.py [--database-url postgres://...] [--events 1000]

Prints one JSON object. The receiver runs in its own process (aiohttp), so its CPU is not
the loop's."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RECEIVER = r"""
import sys, time
from aiohttp import web
got = {}
async def hook(request):
    body = await request.read()
    got.setdefault(request.headers["webhook-id"], time.time())
    return web.Response(text="ok")
async def stats(request):
    return web.json_response(got)
async def reset(request):
    got.clear()
    return web.Response(text="ok")
app = web.Application()
app.router.add_post("/hook", hook)
app.router.add_get("/stats", stats)
app.router.add_post("/reset", reset)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _fresh_pg(server: str) -> tuple[str, str]:
    name = f"mb_bench_hooks_{os.getpid()}"
    conn = await asyncpg.connect(server.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name, server.rsplit("/", 1)[0] + "/" + name


async def _drop_pg(server: str, name: str) -> None:
    conn = await asyncpg.connect(server.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


async def measure(url: str, events: int, rate: float, throughput_n: int) -> dict[str, Any]:
    import httpx
    from tortoise.transactions import in_transaction

    from meterbill.config import Settings
    from meterbill.db.setup import close_db, init_db, run_migrations
    from meterbill.services import accounts, catalog, webhooks
    from meterbill.services.lifecycle import outbox
    from meterbill.services.webhooks import endpoints
    from meterbill.worker.webhook_loop import WebhookLoop

    settings = Settings(database_url=url, secret_key="bench", webhook_allow_private=True)
    await run_migrations(settings)
    await init_db(settings)
    webhooks.configure(settings)
    port = free_port()
    recv = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)])
    out: dict[str, Any] = {}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(100):
                try:
                    await http.get("/stats")
                    break
                except httpx.HTTPError:
                    await asyncio.sleep(0.1)
            account, _ = await accounts.create_account("Bench hooks")
            await endpoints.create_endpoint(account.id, f"http://127.0.0.1:{port}/hook", None, None)

            # Throughput: N events queued first (as a billing batch writes them), then the
            # loop starts and drains them.
            rows = [
                outbox.event(account.id, "invoice.paid", f"in_{k}", {"object": "invoice", "n": k})
                for k in range(throughput_n)
            ]
            async with in_transaction():
                for k in range(0, len(rows), 1000):
                    await outbox.write(rows[k : k + 1000])
            loop = WebhookLoop()
            t0 = time.perf_counter()
            loop.start()
            while True:
                got = (await http.get("/stats")).json()
                if len(got) >= throughput_n:
                    break
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - t0
            out["webhook_throughput"] = round(throughput_n / elapsed, 1)
            await http.post("/reset")

            # Latency: changes committed at a steady rate while the loop runs.
            committed: dict[str, float] = {}
            from meterbill.db.models import DomainEvent

            for k in range(events):
                cus = await catalog.create_customer(
                    account.id, catalog.CustomerSpec(name=f"lat {k}")
                )
                committed[cus.id] = time.time()
                await asyncio.sleep(1 / rate)
            evs = dict(
                await DomainEvent.filter(object_id__in=list(committed)).values_list(
                    "id", "object_id"
                )
            )
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                got = (await http.get("/stats")).json()
                if all(e in got for e in evs):
                    break
                await asyncio.sleep(0.1)
            lat = [(got[e] - committed[o]) * 1000 for e, o in evs.items() if e in got]
            out["webhook_latency_p50_ms"] = round(statistics.median(lat), 1)
            out["webhook_latency_p95_ms"] = round(pct(lat, 0.95), 1)
            out["webhook_latency_max_ms"] = round(max(lat), 1)
            out["webhook_latency_missing"] = len(evs) - len(lat)
            await loop.stop()
    finally:
        recv.terminate()
        recv.wait()
        await close_db()
    return out


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    if args.database_url:
        name, url = await _fresh_pg(args.database_url)
        try:
            return await measure(url, args.events, args.rate, args.throughput_events)
        finally:
            await _drop_pg(args.database_url, name)
    with tempfile.TemporaryDirectory() as d:
        return await measure(
            f"sqlite://{d}/bench.db", args.events, args.rate, args.throughput_events
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--database-url", help="a PostgreSQL server url (a database is made on it)")
    ap.add_argument("--events", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=50.0, help="changes per second (latency)")
    ap.add_argument("--throughput-events", type=int, default=2000)
    args = ap.parse_args()
    print(json.dumps(asyncio.run(main_async(args))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
