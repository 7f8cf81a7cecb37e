"""Ingest benchmark (not a test): events/s through recordMeterEvents and the delay from
"accepted" to "visible in meterEventSummaries", on PostgreSQL + Redis over real HTTP.

It creates its own PostgreSQL database (dropped at the end) and starts its own redis-server on
a free port, then runs `meterbill serve` (uvicorn on loopback) and `meterbill worker` as
separate processes, exactly as deployed.

    .venv/bin/python bench/usage_ingest.py --pg postgres://postgres@127.0.0.1:5432/postgres

Phases: (1) throughput: C clients each send B batches of 1000 events, concurrently; (2) delay
while the clients ingest: a probe records one event at a time on its own meter and polls the
summary every 5 ms until it shows; (3) the same delay with the system otherwise idle.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

BIN = Path(sys.executable).parent

RECORD_MANY = """mutation($i: [MeterEventInput!]!) { recordMeterEvents(input: $i) {
  accepted duplicates rejected userErrors { message } } }"""
RECORD = """mutation($i: MeterEventInput!) { recordMeterEvent(input: $i) {
  meterEvent { identifier } userErrors { message } } }"""
SUMMARY = """query($m: ID!, $c: ID!, $s: DateTime!, $e: DateTime!) {
  meterEventSummaries(meterId: $m, customerId: $c, startTime: $s, endTime: $e) {
    aggregatedValue } }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def admin(pg: str, sql: str) -> None:
    conn = await asyncpg.connect(pg.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


class Api:
    def __init__(self, client: httpx.AsyncClient, secret: str):
        self.client, self.secret = client, secret

    async def gql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        r = await self.client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {self.secret}"},
        )
        r.raise_for_status()
        body = r.json()
        if body.get("errors"):
            raise RuntimeError(body["errors"])
        return body["data"]


async def setup(api: Api, event_name: str) -> tuple[str, str]:
    m = await api.gql(
        "mutation($i: CreateMeterInput!) { createMeter(input: $i) { meter { id } } }",
        {"i": {"displayName": event_name, "eventName": event_name, "aggregation": "SUM"}},
    )
    c = await api.gql("mutation { createCustomer(input: {}) { customer { id } } }", {})
    return m["createMeter"]["meter"]["id"], c["createCustomer"]["customer"]["id"]


async def client_load(api: Api, cus: str, batches: int, size: int, tag: str) -> int:
    accepted = 0
    for b in range(batches):
        ts = iso(datetime.now(UTC) - timedelta(seconds=1))
        events = [
            {
                "eventName": "bench_tokens",
                "payload": {"customer_id": cus, "value": "0.5"},
                "identifier": f"{tag}-{b}-{i}",
                "timestamp": ts,
            }
            for i in range(size)
        ]
        d = await api.gql(RECORD_MANY, {"i": events})
        accepted += d["recordMeterEvents"]["accepted"]
    return accepted


async def probe(
    api: Api, meter: str, cus: str, stop: asyncio.Event, limit: int, state: dict[str, int]
) -> list[float]:
    """Sequential probes: record 1, poll the summary until it shows; seconds per probe.
    state["seen"] carries the probe meter's total across calls."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    window = {
        "m": meter,
        "c": cus,
        "s": iso(now - timedelta(hours=1)),
        "e": iso(now + timedelta(hours=2)),
    }
    delays: list[float] = []
    while not stop.is_set() and len(delays) < limit:
        await api.gql(
            RECORD, {"i": {"eventName": "bench_probe", "payload": {"customer_id": cus, "value": 1}}}
        )
        accepted = time.perf_counter()
        state["seen"] += 1
        while True:
            d = await api.gql(SUMMARY, window)
            if d["meterEventSummaries"][0]["aggregatedValue"] == str(state["seen"]):
                break
            if time.perf_counter() - accepted > 30:
                raise RuntimeError("probe event not visible after 30 s")
            await asyncio.sleep(0.005)
        delays.append(time.perf_counter() - accepted)
    return delays


def pct(xs: list[float]) -> str:
    if len(xs) < 2:
        return f"n={len(xs)}"
    q = statistics.quantiles(xs, n=100, method="inclusive")
    return (
        f"n={len(xs)} p50={statistics.median(xs) * 1000:.0f} ms "
        f"p95={q[94] * 1000:.0f} ms max={max(xs) * 1000:.0f} ms"
    )


async def wait_ready(url: str) -> None:
    async with httpx.AsyncClient() as c:
        for _ in range(300):
            try:
                if (await c.get(url + "/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("meterbill serve did not become ready")


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--batches", type=int, default=25, help="batches per client")
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--api-workers", type=int, default=1, help="meterbill serve --workers")
    ap.add_argument("--workers", type=int, default=1, help="meterbill worker processes")
    ap.add_argument("--idle-probes", type=int, default=50)
    args = ap.parse_args()

    db = "mb_bench_" + secrets.token_hex(4)
    await admin(args.pg, f'CREATE DATABASE "{db}"')
    redis_port, api_port = free_port(), free_port()
    procs: list[subprocess.Popen[bytes]] = []
    env = {
        **os.environ,
        "MB_DATABASE_URL": args.pg.rsplit("/", 1)[0] + "/" + db,
        "MB_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "MB_DB_POOL_MAX": "20",
        "MB_LOG_LEVEL": "WARNING",
    }
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    try:
        procs.append(
            subprocess.Popen(
                ["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no"],
                **quiet,
            )
        )
        subprocess.run([str(BIN / "meterbill"), "migrate"], env=env, check=True, **quiet)
        out = subprocess.run(
            [str(BIN / "meterbill"), "accounts", "create", "--name", "bench"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        secret = json.loads(out.strip().splitlines()[-1])["secret_key"]
        procs.append(
            subprocess.Popen(
                [
                    str(BIN / "meterbill"),
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(api_port),
                    "--workers",
                    str(args.api_workers),
                ],
                env=env,
                **quiet,
            )
        )
        for _ in range(args.workers):
            procs.append(subprocess.Popen([str(BIN / "meterbill"), "worker"], env=env, **quiet))
        base = f"http://127.0.0.1:{api_port}"
        await wait_ready(base)

        limits = httpx.Limits(max_connections=args.clients + 2)
        async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as http:
            api = Api(http, secret)
            _, cus = await setup(api, "bench_tokens")
            probe_meter, probe_cus = await setup(api, "bench_probe")
            # Warm up (connection pools, caches) outside the measurement.
            await client_load(api, cus, 1, 100, "warm")

            stop, state = asyncio.Event(), {"seen": 0}
            probe_task = asyncio.create_task(
                probe(api, probe_meter, probe_cus, stop, 10_000, state)
            )
            t0 = time.perf_counter()
            counts = await asyncio.gather(
                *(
                    client_load(api, cus, args.batches, args.batch_size, f"c{c}")
                    for c in range(args.clients)
                )
            )
            elapsed = time.perf_counter() - t0
            stop.set()
            loaded = await probe_task
            total = sum(counts)
            # Drain: when does the last event of the load show up?
            now = datetime.now(UTC).replace(second=0, microsecond=0)
            meter_id = (
                await api.gql("{ meters(first: 10) { edges { node { id eventName } } } }", {})
            )["meters"]["edges"]
            tokens = next(
                e["node"]["id"] for e in meter_id if e["node"]["eventName"] == "bench_tokens"
            )
            window = {
                "m": tokens,
                "c": cus,
                "s": iso(now - timedelta(hours=1)),
                "e": iso(now + timedelta(hours=1)),
            }
            want = str(0.5 * (total + 100)).removesuffix(".0")
            # Polling another process's API: there is no in-process event to wait on.
            while (await api.gql(SUMMARY, window))["meterEventSummaries"][0][  # noqa: ASYNC110
                "aggregatedValue"
            ] != want:
                await asyncio.sleep(0.01)
            drained = time.perf_counter() - t0

            idle = await probe(
                api, probe_meter, probe_cus, asyncio.Event(), args.idle_probes, state
            )

        print(
            f"setup: {args.clients} clients x {args.batches} batches x {args.batch_size} "
            f"events; meterbill serve --workers {args.api_workers}; {args.workers} x "
            f"meterbill worker; PostgreSQL db {db}; redis-server :{redis_port}"
        )
        print(
            f"ingest: {total} events accepted in {elapsed:.2f} s = {total / elapsed:,.0f} "
            "events/s (HTTP responses received)"
        )
        print(
            f"aggregated: all {total} visible in the summary {drained:.2f} s after the "
            f"start = {total / drained:,.0f} events/s end to end"
        )
        print(f"accepted->visible during ingest: {pct(loaded)}")
        print(f"accepted->visible idle:          {pct(idle)}")
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        await admin(args.pg, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


if __name__ == "__main__":
    asyncio.run(main())
