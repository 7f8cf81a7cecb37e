"""meterbill benchmark (issue 6; not part of the test suite).

Measures meterbill against what the same machine can do at all, in ONE run:

    .venv/bin/python bench/run.py            # full size (10,000,000 events for summaries)
    .venv/bin/python bench/run.py --quick    # minutes (1,000,000 events)
    .venv/bin/python bench/run.py --smoke    # seconds, for CI: the harness runs end to end
    .venv/bin/python bench/run.py --quick --json out.json

It creates a fresh PostgreSQL database on --pg (dropped at the end), starts its own
redis-server on a free port, `meterbill serve` (uvicorn, one process per core) and
`meterbill worker` process(es), all on loopback, generates its own data and drives the API
over real HTTP with aiohttp. The load generator runs on the same machine and shares its
cores with the server, the worker and PostgreSQL.

Phases, in order (the keys are described at the top of bench/RESULTS.md):
 1. raw_copy_eps      asyncpg COPY of the ingest rows into a table identical to meter_events
 2. ingest_batch_eps  recordMeterEvents (1000 per call, 4 clients), while a probe measures
    lag_p50/p95_ms    accepted -> visible in meterEventSummaries
 3. single_*          recordMeterEvent, 32 concurrent clients
 4. bulk_eps          POST /v1/meter_events (NDJSON), 4 clients
 2b. ingest_batch_eps_unique_count  the same batches for a UNIQUE_COUNT meter, in rounds
                      alternating with the SUM meter's (unique_count_ingest_vs_sum)
 2c. alert_latency_*  accepted -> alert trigger row committed, under the ingest load
 5. summary_*         DAY windows over a month of one customer, with N events in the DB
                      (bulk-loaded by COPY; minute and hour rollups by SQL equal to the
                      worker's fold)
 5b. unique_count_summary_*  a UTC month of a UNIQUE_COUNT meter, N events, 100k values
 6. upcoming_*        upcomingInvoice for the seed's subscription with a period of usage
 7. finalize_sps_*    close -> DRAFT -> finalize -> collect by 1, then 2 worker processes
 8. dashboard_*       SQL statements of one 100-subscription dashboard query (in-process)
 9. webhook_*         (--only webhooks, not in the default run) delivery throughput and
                      latency (bench/webhook_delivery.py), and finalize_sps_hooks_*: 1-worker
                      finalize rounds with two endpoints subscribed to everything (ENABLED)
                      and with none (DISABLED), interleaved
10. finalize_sps_grants_* (--only grants, not in the default run): 1-worker finalize rounds
                      where every customer has usage and holds three credit grants that pay
                      it (three) or none (none), interleaved

Exits non-zero when any phase fails or a correctness check of the harness does not hold.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import secrets
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson

from meterbill.db.usage_sql import EVENT_COLUMNS

BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Sizes:
    name: str
    ingest_batches: int  # per client, 1000 events each
    single_seconds: float
    bulk_requests: int  # per client
    bulk_events_per_request: int
    summary_events: int
    summary_customers: int
    summary_queries: int
    min_lag_probes: int
    upcoming_events: int  # one customer's current period
    upcoming_queries: int
    finalize_subscriptions: int  # per worker count


SMOKE = Sizes("smoke", 2, 2.0, 2, 1000, 20_000, 4, 20, 3, 5_000, 50, 50)
QUICK = Sizes("quick", 25, 15.0, 10, 5000, 1_000_000, 25, 200, 20, 100_000, 200, 1000)
FULL = Sizes("full", 100, 30.0, 40, 5000, 10_000_000, 100, 1000, 50, 100_000, 1000, 10_000)

BATCH = 1000
INGEST_CLIENTS = 4
SINGLE_CLIENTS = 32
BULK_CLIENTS = 4

RECORD_MANY = """mutation($i: [MeterEventInput!]!) { recordMeterEvents(input: $i) {
  accepted duplicates rejected userErrors { message } } }"""
RECORD = """mutation($i: MeterEventInput!) { recordMeterEvent(input: $i) {
  meterEvent { identifier } userErrors { message } } }"""
SUMMARY = """query($m: ID!, $c: ID!, $s: DateTime!, $e: DateTime!, $w: GroupingWindow) {
  meterEventSummaries(meterId: $m, customerId: $c, startTime: $s, endTime: $e,
                      valueGroupingWindow: $w) { startTime aggregatedValue } }"""


BULK_PATH = "/v1/meter_events"


class BenchError(RuntimeError):
    pass


# ---------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def pg_dsn(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU of `root` and its descendants (uvicorn's worker processes), from
    /proc: what the API spends, whatever else the machine runs."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        parents[int(d.name)] = int(fields[1])
        cpu[int(d.name)] = (int(fields[11]) + int(fields[12])) / tick
    tree, todo = set(), [root]
    while todo:
        pid = todo.pop()
        tree.add(pid)
        todo += [c for c, pp in parents.items() if pp == pid and c not in tree]
    return sum(cpu.get(p, 0.0) for p in tree)


async def redis_counts(dep: Deployment) -> tuple[int, float]:
    """(EVAL calls, CPU seconds) of the deployment's redis-server so far: the rate limiter's
    round trips, and what Redis spends on the 2 cores the API shares."""
    from redis.asyncio import Redis

    r = Redis(host="127.0.0.1", port=dep.redis_port)
    try:
        stats, cpu = await r.info("commandstats"), await r.info("cpu")
    finally:
        await r.aclose()
    evals = int(stats.get("cmdstat_eval", {}).get("calls", 0))
    return evals, float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"])


def ms_pcts(xs: list[float]) -> tuple[float | None, float | None, float | None]:
    """(p50, p95, p99) in ms of durations in seconds."""
    if not xs:
        return None, None, None
    if len(xs) == 1:
        v = round(xs[0] * 1000, 2)
        return v, v, v
    q = statistics.quantiles(xs, n=100, method="inclusive")
    return (
        round(statistics.median(xs) * 1000, 2),
        round(q[94] * 1000, 2),
        round(q[98] * 1000, 2),
    )


def machine() -> dict[str, Any]:
    cpu = "unknown"
    mem_kb = 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "cpu": cpu,
        "python": platform.python_version(),
        "loadavg_before": [round(x, 2) for x in os.getloadavg()],
    }


SERVER_SETTINGS = (
    "server_version",
    "autovacuum",
    "shared_buffers",
    "max_wal_size",
    "checkpoint_timeout",
    "fsync",
    "synchronous_commit",
)


async def server_settings(pg: str) -> dict[str, str]:
    """The PostgreSQL settings a result depends on, as the server reports them: a machine's
    server may run without autovacuum (this project's CI machine does), which leaves queue
    tables bloated and the planner without statistics."""
    conn = await asyncpg.connect(pg_dsn(pg))
    try:
        return {k: await conn.fetchval(f"SHOW {k}") for k in SERVER_SETTINGS}
    finally:
        await conn.close()


class Api:
    """GraphQL and REST over one aiohttp session (keep-alive, no per-request overhead of
    building a client)."""

    def __init__(self, session: aiohttp.ClientSession, base: str, secret: str):
        self.session, self.base, self.secret = session, base, secret
        self.headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}

    async def post_raw(self, body: bytes) -> dict[str, Any]:
        async with self.session.post(self.base + "/graphql", data=body, headers=self.headers) as r:
            raw = await r.read()
            if r.status != 200:
                raise BenchError(f"HTTP {r.status}: {raw[:500]!r}")
        out = orjson.loads(raw)
        if out.get("errors"):
            raise BenchError(str(out["errors"])[:500])
        return out["data"]  # type: ignore[no-any-return]

    async def gql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        return await self.post_raw(gql_body(query, variables))

    async def bulk(self, ndjson: bytes) -> list[dict[str, Any]]:
        """POST /v1/meter_events: the answer's lines, one per event, in order."""
        headers = {"Authorization": f"Bearer {self.secret}", "Content-Type": "application/x-ndjson"}
        async with self.session.post(self.base + BULK_PATH, data=ndjson, headers=headers) as r:
            raw = await r.read()
            if r.status != 200:
                raise BenchError(f"bulk HTTP {r.status}: {raw[:300]!r}")
        return [orjson.loads(line) for line in raw.splitlines()]


def gql_body(query: str, variables: dict[str, Any]) -> bytes:
    return orjson.dumps({"query": query, "variables": variables})


async def wait_ready(base: str, procs: list[subprocess.Popen[bytes]], limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    async with aiohttp.ClientSession() as s:
        while time.monotonic() < deadline:
            for p in procs:
                if p.poll() is not None:
                    raise BenchError(f"{p.args!r} exited with {p.returncode} during startup")
            try:
                async with s.get(base + "/readyz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise BenchError("meterbill serve did not become ready")


# ---------------------------------------------------------------- the deployment


class Deployment:
    """A fresh database, redis-server, `meterbill serve` and `meterbill worker`."""

    def __init__(self, pg: str, api_workers: int, workers: int, pool_max: int):
        self.pg_server = pg
        self.db = "mb_bench_" + secrets.token_hex(4)
        self.db_url = pg.rsplit("/", 1)[0] + "/" + self.db
        self.api_workers, self.workers, self.pool_max = api_workers, workers, pool_max
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logdir = Path(tempfile.mkdtemp(prefix="mb_bench_"))
        self.redis_port, self.api_port = free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.api_port}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("MB_")},
            "MB_DATABASE_URL": self.db_url,
            "MB_REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "MB_DB_POOL_MAX": str(pool_max),
            "MB_LOG_LEVEL": "WARNING",
            "MB_GRAPHIQL": "false",
            # Capacity, not the per-key limit: budgets no run reaches, so the limiter still
            # does its Redis round trip per request as in production.
            "MB_RATE_LIMIT_RPS": "1000000",
            "MB_RATE_LIMIT_BURST": "1000000",
            "MB_USAGE_RATE_LIMIT_RPS": "1000000",
            "MB_USAGE_RATE_LIMIT_BURST": "1000000",
            # Webhook phase: endpoints on local receivers, secrets under a bench key.
            "MB_SECRET_KEY": "bench-" + secrets.token_hex(8),
            "MB_WEBHOOK_ALLOW_PRIVATE": "true",
        }
        self.secret = ""
        self.created = False

    def _spawn(
        self, name: str, argv: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = open(self.logdir / f"{name}.log", "ab")  # noqa: SIM115 - lives with the process
        p = subprocess.Popen(
            argv, env={**self.env, **(env or {})}, stdout=log, stderr=subprocess.STDOUT
        )
        self.procs.append(p)
        return p

    def spawn_workers(
        self, n: int, env: dict[str, str] | None = None
    ) -> list[subprocess.Popen[bytes]]:
        mb = str(BIN / "meterbill")
        return [self._spawn(f"worker{i}", [mb, "worker"], env) for i in range(n)]

    def stop_workers(self, procs: list[subprocess.Popen[bytes]] | None = None) -> None:
        """Terminate worker processes (all of them by default) and wait for them to exit."""
        mine = procs if procs is not None else [p for p in self.procs if p.args[1:2] == ["worker"]]
        for p in mine:
            if p.poll() is None:
                p.terminate()
        for p in mine:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            self.procs.remove(p)

    async def start(self) -> None:
        conn = await asyncpg.connect(pg_dsn(self.pg_server))
        try:
            await conn.execute(f'CREATE DATABASE "{self.db}"')
            self.created = True
        finally:
            await conn.close()
        self._spawn(
            "redis",
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.redis_port),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
        )
        mb = str(BIN / "meterbill")
        subprocess.run([mb, "migrate"], env=self.env, check=True, capture_output=True)
        out = subprocess.run(
            [mb, "accounts", "create", "--name", "bench"],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        self.secret = json.loads(out.strip().splitlines()[-1])["secret_key"]
        argv = [mb, "serve", "--host", "127.0.0.1", "--port", str(self.api_port)]
        self._spawn("serve", [*argv, "--workers", str(self.api_workers)])
        self.spawn_workers(self.workers)
        await wait_ready(self.base, self.procs)

    def serve_pid(self) -> int:
        return next(p.pid for p in self.procs if p.args[1:2] == ["serve"])

    def check_alive(self) -> None:
        for p in self.procs:
            if p.poll() is not None:
                raise BenchError(f"{p.args!r} exited with {p.returncode}; logs in {self.logdir}")

    async def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if self.created:
            conn = await asyncpg.connect(pg_dsn(self.pg_server))
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
            finally:
                await conn.close()

    def tail_logs(self, lines: int = 30) -> str:
        out = []
        for f in sorted(self.logdir.glob("*.log")):
            text = f.read_text(errors="replace").splitlines()[-lines:]
            if text:
                out.append(f"--- {f.name}\n" + "\n".join(text))
        return "\n".join(out)


# ---------------------------------------------------------------- fixtures through the API


async def make_meter(api: Api, event_name: str, aggregation: str = "SUM", **more: str) -> str:
    spec = {"displayName": event_name, "eventName": event_name, "aggregation": aggregation}
    d = await api.gql(
        "mutation($i: CreateMeterInput!) { createMeter(input: $i) { meter { id } "
        "userErrors { message } } }",
        {"i": {**spec, **more}},
    )
    if d["createMeter"]["userErrors"]:
        raise BenchError(str(d))
    return str(d["createMeter"]["meter"]["id"])


async def make_customer(api: Api) -> str:
    d = await api.gql("mutation { createCustomer(input: {}) { customer { id } } }", {})
    return str(d["createCustomer"]["customer"]["id"])


def event(name: str, cus: str, ident: str, ts: str, value: str = "0.5") -> dict[str, Any]:
    return {
        "eventName": name,
        "payload": {"customer_id": cus, "value": value},
        "identifier": ident,
        "timestamp": ts,
    }


# ---------------------------------------------------------------- 1. raw COPY


async def raw_copy(dep: Deployment, account: str, meter: str, cus: str, n: int) -> float:
    """COPY n event rows (the shape ingest writes) into a copy of meter_events with the same
    columns, defaults, indexes, unique and foreign keys; 4 connections, 10,000 rows per
    COPY, each its own committed transaction. Events per second."""
    conn = await asyncpg.connect(pg_dsn(dep.db_url))
    try:
        await conn.execute("CREATE TABLE bench_raw_copy (LIKE meter_events INCLUDING ALL)")
        fks = await conn.fetch(
            "SELECT pg_get_constraintdef(oid) AS d FROM pg_constraint "
            "WHERE conrelid = 'meter_events'::regclass AND contype = 'f'"
        )
        for fk in fks:
            await conn.execute(f"ALTER TABLE bench_raw_copy ADD {fk['d']}")
    finally:
        await conn.close()
    now = datetime.now(UTC)
    ts = now - timedelta(seconds=1)
    cols = EVENT_COLUMNS
    value = Decimal("0.5")
    per_conn = n // INGEST_CLIENTS
    chunk = 10_000
    conns = [await asyncpg.connect(pg_dsn(dep.db_url)) for _ in range(INGEST_CLIENTS)]

    async def one(c: asyncpg.Connection, k: int) -> None:
        for start in range(0, per_conn, chunk):
            rows = [
                (
                    account,
                    meter,
                    cus,
                    f"raw-{k}-{i}",
                    "bench_tokens",
                    value,
                    ts,
                    "",
                    "ACCEPTED",
                    now,
                    None,
                )
                for i in range(start, min(per_conn, start + chunk))
            ]
            await c.copy_records_to_table("bench_raw_copy", records=rows, columns=cols)

    try:
        t0 = time.perf_counter()
        await asyncio.gather(*(one(c, k) for k, c in enumerate(conns)))
        elapsed = time.perf_counter() - t0
        got = await conns[0].fetchval("SELECT count(*) FROM bench_raw_copy")
        if got != per_conn * INGEST_CLIENTS:
            raise BenchError(f"raw copy stored {got} rows, wanted {per_conn * INGEST_CLIENTS}")
        await conns[0].execute("DROP TABLE bench_raw_copy")
    finally:
        for c in conns:
            await c.close()
    return per_conn * INGEST_CLIENTS / elapsed


# ---------------------------------------------------------------- 2. batches + lag


async def probe(
    api: Api,
    meter: str,
    cus: str,
    stop: asyncio.Event,
    min_probes: int,
    state: dict[str, int],
    tag: str = "",
) -> list[float]:
    """Sequential: record one event, poll its summary every 10 ms until it shows. Runs until
    `stop` and at least `min_probes` probes."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    window = {
        "m": meter,
        "c": cus,
        "s": iso(now - timedelta(hours=1)),
        "e": iso(now + timedelta(hours=2)),
    }
    summary = gql_body(SUMMARY, window)
    delays: list[float] = []
    while not stop.is_set() or len(delays) < min_probes:
        state["n"] += 1
        d = await api.gql(
            RECORD,
            {
                "i": event(
                    "bench_probe", cus, f"probe{tag}-{state['n']}", iso(datetime.now(UTC)), "1"
                )
            },
        )
        if d["recordMeterEvent"]["userErrors"]:
            raise BenchError(str(d))
        accepted = time.perf_counter()
        while True:
            rows = (await api.post_raw(summary))["meterEventSummaries"]
            if rows and rows[0]["aggregatedValue"] == str(state["n"]):
                break
            if time.perf_counter() - accepted > 60:
                raise BenchError("probe event not visible after 60 s")
            await asyncio.sleep(0.01)
        delays.append(time.perf_counter() - accepted)
    return delays


def unique_event(cus: str, ident: str, ts: str, user: str) -> dict[str, Any]:
    """An event of the bench_users UNIQUE_COUNT meter (value key "user")."""
    return {
        "eventName": "bench_users",
        "payload": {"customer_id": cus, "user": user},
        "identifier": ident,
        "timestamp": ts,
    }


async def ingest_batches(
    api: Api,
    cus: str,
    batches: int,
    probe_meter: str,
    probe_cus: str,
    min_probes: int,
    unique: bool = False,
    tag: str = "b",
) -> tuple[int, float, list[float]]:
    """`unique`: the events are bench_users' (UNIQUE_COUNT, 20,000 distinct users), else
    bench_tokens' (SUM)."""
    ts = iso(datetime.now(UTC) - timedelta(seconds=1))

    def one(c: int, b: int, i: int) -> dict[str, Any]:
        ident = f"{tag}{c}-{b}-{i}"
        if unique:
            return unique_event(cus, ident, ts, f"user-{(c * 7919 + b * 1009 + i) % 20_000}")
        return event("bench_tokens", cus, ident, ts)

    bodies = [
        [gql_body(RECORD_MANY, {"i": [one(c, b, i) for i in range(BATCH)]}) for b in range(batches)]
        for c in range(INGEST_CLIENTS)
    ]

    async def client(mine: list[bytes]) -> int:
        accepted = 0
        for body in mine:
            d = (await api.post_raw(body))["recordMeterEvents"]
            if d["userErrors"] or d["rejected"]:
                raise BenchError(f"batch not accepted: {str(d)[:300]}")
            accepted += d["accepted"]
        return accepted

    stop, state = asyncio.Event(), {"n": 0}
    # Each call probes its own customer: the probe counts that customer's events.
    if tag != "b":
        probe_cus = await make_customer(api)
    lag = asyncio.create_task(probe(api, probe_meter, probe_cus, stop, min_probes, state, tag))
    t0 = time.perf_counter()
    try:
        counts = await asyncio.gather(*(client(b) for b in bodies))
    finally:
        elapsed = time.perf_counter() - t0
        stop.set()
    delays = await lag
    total = sum(counts)
    if total != INGEST_CLIENTS * batches * BATCH:
        raise BenchError(f"ingest accepted {total} of {INGEST_CLIENTS * batches * BATCH}")
    return total, elapsed, delays


# Rounds of the UNIQUE_COUNT-vs-SUM comparison: the two run alternately, so a change of the
# machine's load in the minute of the run hits both alike (a SUM phase then a UNIQUE_COUNT
# phase minutes apart compared the load as much as the meters).
UNIQUE_ROUNDS = 3


async def nothing_pending(dep: Deployment, timeout: float = 120.0) -> None:
    """Wait until the worker has folded every event (the previous round's fold must not run
    into the next round's clock)."""
    conn = await asyncpg.connect(pg_dsn(dep.db_url))
    try:
        deadline = time.perf_counter() + timeout
        while await conn.fetchval("SELECT EXISTS (SELECT 1 FROM meter_events_pending)"):
            if time.perf_counter() > deadline:
                raise BenchError(f"events still pending after {timeout} s")
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


async def unique_vs_sum(
    dep: Deployment,
    api: Api,
    sum_cus: str,
    users_cus: str,
    sizes: Sizes,
    probe_meter: str,
    probe_cus: str,
    results: dict[str, Any],
) -> None:
    """ingest_batches for the SUM meter, then for the UNIQUE_COUNT meter, UNIQUE_ROUNDS
    times; the ratio of each round's two rates, and the medians."""
    sums: list[int] = []
    uniques: list[int] = []
    for r in range(UNIQUE_ROUNDS):
        for unique in (False, True):
            await nothing_pending(dep)
            total, elapsed, _ = await ingest_batches(
                api,
                users_cus if unique else sum_cus,
                sizes.ingest_batches,
                probe_meter,
                probe_cus,
                sizes.min_lag_probes,
                unique=unique,
                tag=f"{'u' if unique else 's'}{r}-",
            )
            (uniques if unique else sums).append(round(total / elapsed))
        print(f"[bench]   round {r + 1}: SUM {sums[-1]}, UNIQUE_COUNT {uniques[-1]}", flush=True)
    ratios = [round(u / s, 3) for u, s in zip(uniques, sums, strict=True)]
    results["ingest_batch_eps_unique_count"] = round(statistics.median(uniques))
    results["ingest_batch_eps_sum_paired"] = round(statistics.median(sums))
    results["unique_count_ingest_vs_sum"] = statistics.median(ratios)
    results["unique_count_ingest_vs_sum_rounds"] = ratios
    results["ingest_batch_eps_rounds"] = {"sum": sums, "unique_count": uniques}


# ---------------------------------------------------------------- 3. single events


async def single_events(api: Api, cus: str, seconds: float) -> tuple[int, float, list[float]]:
    ts = iso(datetime.now(UTC) - timedelta(seconds=1))
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []

    async def client(c: int) -> None:
        i = 0
        while time.perf_counter() < deadline:
            body = gql_body(RECORD, {"i": event("bench_tokens", cus, f"s{c}-{i}", ts)})
            t = time.perf_counter()
            d = (await api.post_raw(body))["recordMeterEvent"]
            latencies.append(time.perf_counter() - t)
            if d["userErrors"] or not d["meterEvent"]:
                raise BenchError(f"single event not accepted: {d}")
            i += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(client(c) for c in range(SINGLE_CLIENTS)))
    return len(latencies), time.perf_counter() - t0, latencies


# ---------------------------------------------------------------- 4. bulk endpoint


async def bulk(api: Api, cus: str, requests: int, per_request: int) -> tuple[int, float] | str:
    """Events per second through POST /v1/meter_events, or why not measured."""
    ts = iso(datetime.now(UTC) - timedelta(seconds=1))

    def body(c: int, r: int) -> bytes:
        return b"".join(
            orjson.dumps(
                {
                    "event_name": "bench_tokens",
                    "payload": {"customer_id": cus, "value": "0.5"},
                    "identifier": f"k{c}-{r}-{i}",
                    "timestamp": ts,
                }
            )
            + b"\n"
            for i in range(per_request)
        )

    headers = {"Authorization": f"Bearer {api.secret}", "Content-Type": "application/x-ndjson"}
    async with api.session.post(api.base + "/v1/meter_events", data=b"", headers=headers) as r:
        if r.status == 404:
            return "POST /v1/meter_events not found (bulk endpoint not built)"
    bodies = [[body(c, r) for r in range(requests)] for c in range(BULK_CLIENTS)]

    async def client(mine: list[bytes]) -> int:
        accepted = 0
        for data in mine:
            for res in await api.bulk(data):
                if res.get("status") != "ACCEPTED":
                    raise BenchError(f"bulk event not accepted: {res}")
                accepted += 1
        return accepted

    t0 = time.perf_counter()
    counts = await asyncio.gather(*(client(b) for b in bodies))
    elapsed = time.perf_counter() - t0
    total = sum(counts)
    if total != BULK_CLIENTS * requests * per_request:
        raise BenchError(f"bulk accepted {total} of {BULK_CLIENTS * requests * per_request}")
    return total, elapsed


# ---------------------------------------------------------------- 5. summaries

# The worker's fold, in SQL: SUM and COUNT add; LAST keeps the value of the greatest
# (timestamp, id). Minute buckets in UTC.
ROLLUPS_SQL = """
INSERT INTO usage_rollups (account_id, meter_id, customer_id, bucket, dimensions_key,
                           sum, count, last_value, last_ts, last_seq, max_value)
SELECT account_id, meter_id, customer_id, date_trunc('minute', timestamp), dimensions_key,
       sum(value), count(*),
       (array_agg(value ORDER BY timestamp DESC, id DESC))[1],
       max(timestamp),
       (array_agg(id ORDER BY timestamp DESC, id DESC))[1],
       max(value)
FROM meter_events WHERE meter_id = $1 AND status = 'ACCEPTED'
GROUP BY account_id, meter_id, customer_id, date_trunc('minute', timestamp), dimensions_key
"""
# The hour rollups the worker keeps beside the minutes: each the merge of its minutes.
HOURLY_SQL = """
INSERT INTO usage_rollups_hourly (account_id, meter_id, customer_id, bucket, dimensions_key,
                                  sum, count, last_value, last_ts, last_seq, max_value)
SELECT account_id, meter_id, customer_id, date_trunc('hour', bucket), dimensions_key,
       sum(sum), sum(count),
       (array_agg(last_value ORDER BY last_ts DESC, last_seq DESC))[1],
       max(last_ts),
       (array_agg(last_seq ORDER BY last_ts DESC, last_seq DESC))[1],
       max(max_value)
FROM usage_rollups WHERE meter_id = $1
GROUP BY account_id, meter_id, customer_id, date_trunc('hour', bucket), dimensions_key
"""
# UNIQUE_COUNT's first-seen rows, as the worker's claim adds them: one per (UTC day, value,
# dimension set) with its number of events, and one per (UTC month, value, dimension set)
# with its number of day rows.
UNIQUES_SQL = """
WITH days AS (
  INSERT INTO usage_unique_values (account_id, meter_id, customer_id, grain, bucket, value,
                                   dimensions_key, events)
  SELECT account_id, meter_id, customer_id, 'day', date_trunc('day', timestamp), unique_value,
         dimensions_key, count(*)
  FROM meter_events
  WHERE meter_id = $1 AND status = 'ACCEPTED' AND unique_value IS NOT NULL
  GROUP BY 1, 2, 3, 4, 5, 6, 7
  RETURNING account_id, meter_id, customer_id, bucket, value, dimensions_key)
INSERT INTO usage_unique_values (account_id, meter_id, customer_id, grain, bucket, value,
                                 dimensions_key, events)
SELECT account_id, meter_id, customer_id, 'month', date_trunc('month', bucket), value,
       dimensions_key, count(*)
FROM days GROUP BY 1, 2, 3, 4, 5, 6, 7
"""
# ... and the number of distinct values of each day and month (per dimension set).
COUNTS_SQL = """
INSERT INTO usage_unique_counts (account_id, meter_id, customer_id, grain, bucket,
                                 dimensions_key, distinct_values)
SELECT account_id, meter_id, customer_id, grain, bucket, dimensions_key, count(*)
FROM usage_unique_values WHERE meter_id = $1 GROUP BY 1, 2, 3, 4, 5, 6
"""


async def load_summary_data(
    dep: Deployment,
    account: str,
    meter: str,
    customers: list[str],
    n: int,
    start: datetime,
    *,
    event_name: str = "bench_summary",
    days: int = 30,
    unique: Any = None,
) -> None:
    """n events spread evenly over `days` days from `start` and the customers, COPY'd as
    already aggregated (no pending rows), then their rollups by ROLLUPS_SQL and HOURLY_SQL.
    `unique(i, rng)`: the i-th event's UNIQUE_COUNT value (then also its first-seen rows,
    UNIQUES_SQL)."""
    cols = EVENT_COLUMNS
    span = days * 86400 * 1_000_000  # microseconds
    step = span // max(1, n // len(customers))
    now = datetime.now(UTC)
    values = [Decimal(v) for v in ("0.5", "1", "2.25", "3")]
    chunk = 100_000
    lanes = 2

    async def lane(k: int) -> None:
        rng = random.Random(k)
        conn = await asyncpg.connect(pg_dsn(dep.db_url))
        try:
            for lo in range(k * chunk, n, chunk * lanes):
                rows = []
                for i in range(lo, min(n, lo + chunk)):
                    c = i % len(customers)
                    j = i // len(customers)
                    ts = start + timedelta(microseconds=(j * step + c * 7919) % span)
                    rows.append(
                        (
                            account,
                            meter,
                            customers[c],
                            f"{event_name}-{i}",
                            event_name,
                            values[i % 4],
                            ts,
                            "",
                            "ACCEPTED",
                            now,
                            None if unique is None else unique(i, rng),
                        )
                    )
                await conn.copy_records_to_table("meter_events", records=rows, columns=cols)
        finally:
            await conn.close()

    await asyncio.gather(*(lane(k) for k in range(lanes)))
    conn = await asyncpg.connect(pg_dsn(dep.db_url))
    try:
        await conn.execute("SET TIME ZONE 'UTC'")
        await conn.execute(ROLLUPS_SQL, meter)
        await conn.execute(HOURLY_SQL, meter)
        if unique is not None:
            await conn.execute(UNIQUES_SQL, meter)
            await conn.execute(COUNTS_SQL, meter)
            await conn.execute("ANALYZE usage_unique_values")
        await conn.execute("ANALYZE meter_events")
        await conn.execute("ANALYZE usage_rollups")
        await conn.execute("ANALYZE usage_rollups_hourly")
    finally:
        await conn.close()


async def summaries(
    dep: Deployment, api: Api, account: str, sizes: Sizes
) -> tuple[list[float], dict[str, Any]]:
    meter = await make_meter(api, "bench_summary")
    customers = [await make_customer(api) for _ in range(sizes.summary_customers)]
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
        days=31
    )
    t0 = time.perf_counter()
    await load_summary_data(dep, account, meter, customers, sizes.summary_events, start)
    load_s = time.perf_counter() - t0
    target = customers[0]
    end = start + timedelta(days=30)
    body = gql_body(SUMMARY, {"m": meter, "c": target, "s": iso(start), "e": iso(end), "w": "DAY"})
    # Correctness of the harness: the API's days add up to the raw events' sum.
    conn = await asyncpg.connect(pg_dsn(dep.db_url))
    try:
        want = await conn.fetchval(
            "SELECT coalesce(sum(value), 0) FROM meter_events WHERE meter_id = $1 AND "
            "customer_id = $2 AND timestamp >= $3 AND timestamp < $4",
            meter,
            target,
            start,
            end,
        )
        in_db = await conn.fetchval("SELECT count(*) FROM meter_events")
        rollups = await conn.fetchval(
            "SELECT count(*) FROM usage_rollups WHERE meter_id = $1 AND customer_id = $2",
            meter,
            target,
        )
    finally:
        await conn.close()
    rows = (await api.post_raw(body))["meterEventSummaries"]
    got = sum(Decimal(r["aggregatedValue"]) for r in rows)
    if len(rows) != 30 or got != want:
        raise BenchError(f"summary: {len(rows)} rows summing to {got}, raw events say {want}")
    for _ in range(5):
        await api.post_raw(body)
    lat: list[float] = []
    for _ in range(sizes.summary_queries):
        t = time.perf_counter()
        await api.post_raw(body)
        lat.append(time.perf_counter() - t)
    info = {
        "summary_events_in_db": in_db,
        "summary_customer_rollups": rollups,
        "summary_load_seconds": round(load_s, 1),
    }
    return lat, info


# ---------------------------------------------------------------- 5b. UNIQUE_COUNT summaries

UNIQUE_DISTINCT = 100_000


async def unique_summaries(
    dep: Deployment, api: Api, account: str, sizes: Sizes
) -> tuple[list[float], dict[str, Any]]:
    """meterEventSummaries of a UNIQUE_COUNT meter over one UTC calendar month (no window)
    for ONE customer holding all `summary_events` events, with 100,000 distinct values
    (random per event), COPY'd as aggregated with their first-seen rows (UNIQUES_SQL)."""
    meter = await make_meter(api, "bench_uniques", "UNIQUE_COUNT", valuePayloadKey="user")
    target = await make_customer(api)
    start = (
        datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        - timedelta(days=1)
    ).replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    days = (end - start).days
    distinct = min(UNIQUE_DISTINCT, sizes.summary_events // 10)

    def user(i: int, rng: random.Random) -> str:
        return f"user-{rng.randrange(distinct)}"

    t0 = time.perf_counter()
    await load_summary_data(
        dep,
        account,
        meter,
        [target],
        sizes.summary_events,
        start,
        event_name="bench_uniques",
        days=days,
        unique=user,
    )
    load_s = time.perf_counter() - t0
    month = gql_body(SUMMARY, {"m": meter, "c": target, "s": iso(start), "e": iso(end)})
    conn = await asyncpg.connect(pg_dsn(dep.db_url))
    try:
        want = await conn.fetchval(
            "SELECT count(DISTINCT unique_value) FROM meter_events WHERE meter_id = $1 AND "
            "customer_id = $2 AND timestamp >= $3 AND timestamp < $4",
            meter,
            target,
            start,
            end,
        )
        rows_in_db = await conn.fetchval(
            "SELECT count(*) FROM usage_unique_values WHERE meter_id = $1", meter
        )
    finally:
        await conn.close()
    rows = (await api.post_raw(month))["meterEventSummaries"]
    if len(rows) != 1 or Decimal(rows[0]["aggregatedValue"]) != want:
        raise BenchError(f"unique summary: {rows}, raw events have {want} distinct values")
    for _ in range(5):
        await api.post_raw(month)
    lat: list[float] = []
    for _ in range(sizes.summary_queries):
        t = time.perf_counter()
        await api.post_raw(month)
        lat.append(time.perf_counter() - t)
    # DAY windows of the same month read the day rows (one per value and day seen).
    days_body = gql_body(
        SUMMARY, {"m": meter, "c": target, "s": iso(start), "e": iso(end), "w": "DAY"}
    )
    day_lat: list[float] = []
    for _ in range(10):
        t = time.perf_counter()
        await api.post_raw(days_body)
        day_lat.append(time.perf_counter() - t)
    info = {
        "unique_count_distinct_values": want,
        "unique_count_first_seen_rows": rows_in_db,
        "unique_count_load_seconds": round(load_s, 1),
        "unique_count_day_windows_p50_ms": ms_pcts(day_lat)[0],
    }
    return lat, info


# ---------------------------------------------------------------- 5c. alert latency

TRIGGERS = """query($a: ID!) { billingAlertTriggers(alertId: $a) { edges { node { value } } } }"""
CREATE_ALERT = """mutation($i: CreateBillingAlertInput!) { createBillingAlert(input: $i) {
  billingAlert { id } userErrors { message } } }"""


async def alert_probe(
    dep: Deployment, api: Api, meter: str, stop: asyncio.Event, min_probes: int
) -> list[float]:
    """Sequential: a new customer and an alert of threshold 1 on it; record one event of
    value 1; poll the trigger table (10 ms) until its row is committed. Accepted (the
    mutation's response) -> row visible."""
    conn = await asyncpg.connect(pg_dsn(dep.db_url))
    delays: list[float] = []
    try:
        while not stop.is_set() or len(delays) < min_probes:
            cus = await make_customer(api)
            d = await api.gql(
                CREATE_ALERT,
                {"i": {"title": "bench", "meterId": meter, "customerId": cus, "threshold": "1"}},
            )
            alert = d["createBillingAlert"]["billingAlert"]["id"]
            ev = event("bench_probe", cus, f"alert-{alert}", iso(datetime.now(UTC)), "1")
            d = await api.gql(RECORD, {"i": ev})
            if d["recordMeterEvent"]["userErrors"]:
                raise BenchError(str(d))
            accepted = time.perf_counter()
            while not await conn.fetchval(
                "SELECT 1 FROM billing_alert_triggers WHERE alert_id = $1", alert
            ):
                if time.perf_counter() - accepted > 60:
                    raise BenchError("alert not triggered after 60 s")
                await asyncio.sleep(0.01)
            delays.append(time.perf_counter() - accepted)
            rows = (await api.gql(TRIGGERS, {"a": alert}))["billingAlertTriggers"]["edges"]
            if [r["node"]["value"] for r in rows] != ["1"]:
                raise BenchError(f"alert {alert}: triggers {rows}")
    finally:
        await conn.close()
    return delays


async def alerts_under_load(
    dep: Deployment, api: Api, cus: str, sizes: Sizes, probe_meter: str, probe_cus: str
) -> tuple[list[float], int, float]:
    """The ingest phase's load (recordMeterEvents batches, SUM meter, with its lag probe)
    while alert_probe runs."""
    stop = asyncio.Event()
    probing = asyncio.create_task(alert_probe(dep, api, probe_meter, stop, sizes.min_lag_probes))
    try:
        total, elapsed, _ = await ingest_batches(
            api, cus, sizes.ingest_batches, probe_meter, probe_cus, sizes.min_lag_probes, tag="a"
        )
    finally:
        stop.set()
    return await probing, total, elapsed


# ---------------------------------------------------------------- 6-8. billing

UPCOMING = """query($s: ID!) { upcomingInvoice(subscriptionId: $s) {
  total amountDue periodStart periodEnd lines { type description quantity amount } } }"""
UPCOMING_CHECK = """query($s: ID!) { upcomingInvoice(subscriptionId: $s) {
  total lines { quantity amount price { id } } } }"""
CREATE_SUB = """mutation($i: CreateSubscriptionInput!) { createSubscription(input: $i) {
  subscription { id currentPeriodEnd } userErrors { message field } } }"""
DASHBOARD = """{ subscriptions(first: 100) { edges { node { id status customer { id name }
  items { quantity price { id unitAmount tiers { upTo } recurring { meter { id } } } }
  latestInvoice { id total } } } } }"""


@dataclass
class Seed:
    """The seed's (Alpaca AI) prices: license 10000 cents per user per month, and usage on a
    SUM meter, graduated 0-1000 free then 4 cents."""

    meter: str
    event_name: str
    usage_price: str
    license_price: str


async def _ok(api: Api, field: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    d = (await api.gql(query, variables))[field]
    if d.get("userErrors"):
        raise BenchError(f"{field}: {d['userErrors']}")
    return d  # type: ignore[no-any-return]


async def make_price(api: Api, product: str, price: dict[str, Any]) -> str:
    prod = await _ok(
        api,
        "createProduct",
        "mutation($i: CreateProductInput!) { createProduct(input: $i) { product { id } "
        "userErrors { message } } }",
        {"i": {"name": product}},
    )
    d = await _ok(
        api,
        "createPrice",
        "mutation($i: CreatePriceInput!) { createPrice(input: $i) { price { id } "
        "userErrors { message field } } }",
        {"i": {"productId": prod["product"]["id"], "currency": "usd", **price}},
    )
    return str(d["price"]["id"])


async def seed_prices(api: Api) -> Seed:
    meter = await make_meter(api, "alpaca_ai_tokens")
    usage = await make_price(
        api,
        "Alpaca AI usage",
        {
            "recurring": {"interval": "MONTH", "usageType": "METERED", "meterId": meter},
            "billingScheme": "TIERED",
            "tiersMode": "GRADUATED",
            "tiers": [{"upTo": 1000, "unitAmount": 0}, {"upTo": None, "unitAmount": 4}],
        },
    )
    license_ = await make_price(
        api, "Alpaca AI license fee", {"recurring": {"interval": "MONTH"}, "unitAmount": 10000}
    )
    return Seed(meter, "alpaca_ai_tokens", usage, license_)


async def make_paying_customer(api: Api, name: str) -> str:
    d = await _ok(
        api,
        "createCustomer",
        "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } "
        "userErrors { message } } }",
        {"i": {"name": name, "paymentMethod": "pm_card_visa"}},
    )
    return str(d["customer"]["id"])


async def subscribe(api: Api, seed: Seed, cus: str, seats: int, **options: str) -> dict[str, Any]:
    items = [{"priceId": seed.license_price, "quantity": seats}, {"priceId": seed.usage_price}]
    d = await _ok(
        api, "createSubscription", CREATE_SUB, {"i": {"customerId": cus, "items": items, **options}}
    )
    return d["subscription"]  # type: ignore[no-any-return]


async def upcoming_invoice(
    dep: Deployment, api: Api, account: str, seed: Seed, sizes: Sizes
) -> tuple[list[float], dict[str, Any]]:
    """upcomingInvoice over HTTP for the seed's two-item subscription (3 seats) whose current
    period (28 days, backdated) already holds `sizes.upcoming_events` events of usage:
    sequential latencies, after a correctness check of the harness."""
    cus = await make_paying_customer(api, "Upcoming Alpaca")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now - timedelta(days=28) + timedelta(hours=1)
    anchor = start + timedelta(days=28)
    sub = await subscribe(
        api,
        seed,
        cus,
        3,
        backdateStartDate=iso(start),
        billingCycleAnchor=iso(anchor),
    )
    await load_summary_data(
        dep,
        account,
        seed.meter,
        [cus],
        sizes.upcoming_events,
        start,
        event_name=seed.event_name,
        days=28,
    )
    conn = await asyncpg.connect(pg_dsn(dep.db_url))
    try:
        used = await conn.fetchval(
            "SELECT coalesce(sum(value), 0) FROM meter_events WHERE meter_id = $1 AND "
            "customer_id = $2 AND timestamp >= $3 AND timestamp < $4",
            seed.meter,
            cus,
            start,
            anchor,
        )
        rollups = await conn.fetchval(
            "SELECT count(*) FROM usage_rollups WHERE meter_id = $1 AND customer_id = $2",
            seed.meter,
            cus,
        )
    finally:
        await conn.close()
    check = (await api.gql(UPCOMING_CHECK, {"s": sub["id"]}))["upcomingInvoice"]
    usage_lines = [ln for ln in check["lines"] if ln["price"]["id"] == seed.usage_price]
    quantity = sum(Decimal(ln["quantity"]) for ln in usage_lines)
    want_usage = int((max(Decimal(0), used - 1000) * 4).to_integral_value())
    want_total = 3 * 10000 + want_usage
    if quantity != used or int(check["total"]) != want_total:
        raise BenchError(
            f"upcoming: usage {quantity} / total {check['total']}, raw events say {used} / "
            f"{want_total}"
        )
    body = gql_body(UPCOMING, {"s": sub["id"]})
    for _ in range(5):
        await api.post_raw(body)
    lat: list[float] = []
    for _ in range(sizes.upcoming_queries):
        t = time.perf_counter()
        await api.post_raw(body)
        lat.append(time.perf_counter() - t)
    info = {
        "upcoming_usage_events": sizes.upcoming_events,
        "upcoming_usage_rollups": rollups,
        "upcoming_total_cents": want_total,
    }
    return lat, info


CREATE_CLIENTS = 16


GRANT_CREATE = """mutation($i: CreateCreditGrantInput!) { createCreditGrant(input: $i) {
  creditGrant { id } userErrors { message field } } }"""
# finalize_with_grants: each customer's usage in its 5 s period (1100 tokens: 100 over the
# free 1000 at 4 cents = 400 cents) and the three grants that pay it (200 + 150 + 100,
# applied 200, 150, 50 in creation order at one priority).
GRANT_USAGE_TOKENS, GRANT_USAGE_CENTS = 1100, 400
GRANT_AMOUNTS = (200, 150, 100)


async def _due_subscriptions(
    api: Api, seed: Seed, n: int, tag: str, grants: int = 0, usage: bool = False
) -> datetime:
    """n subscriptions on wall-clock customers (pm_card_visa, 1 seat + usage) whose first
    period ends ~5 s after each is created (billingCycleAnchor): the first invoice is the
    prorated seconds (0 cents, PAID at once); the cycle invoice then bills the next month's
    seat (10000 cents) and must be charged. With `usage`, each customer records
    GRANT_USAGE_TOKENS in that period (GRANT_USAGE_CENTS more on the cycle invoice); with
    `grants`, it holds that many of GRANT_AMOUNTS. Returns the latest period end."""
    ends: list[datetime] = []

    async def client(k: int) -> None:
        for j in range(k, n, CREATE_CLIENTS):
            cus = await make_paying_customer(api, f"{tag}-{j}")
            anchor = datetime.now(UTC) + timedelta(seconds=5)
            sub = await subscribe(api, seed, cus, 1, billingCycleAnchor=iso(anchor))
            ends.append(datetime.fromisoformat(sub["currentPeriodEnd"].replace("Z", "+00:00")))
            for amount in GRANT_AMOUNTS[:grants]:
                g = {"customerId": cus, "amount": amount, "currency": "usd"}
                await _ok(api, "createCreditGrant", GRANT_CREATE, {"i": g})
            if usage:
                # Inside the 5 s period whenever it is recorded: the worker is not running.
                at = iso(anchor - timedelta(seconds=4))
                ev = event(seed.event_name, cus, f"{tag}-{j}-use", at, str(GRANT_USAGE_TOKENS))
                await _ok(api, "recordMeterEvents", RECORD_MANY, {"i": [ev]})

    await asyncio.gather(*(client(k) for k in range(CREATE_CLIENTS)))
    return max(ends)


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a live process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _backend_cpu(conn: asyncpg.Connection) -> dict[int, float]:
    """CPU seconds of this database's other backends, by pid."""
    out = {}
    for r in await conn.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid()"
    ):
        with contextlib.suppress(OSError):  # gone since
            out[r["pid"]] = _cpu_seconds(r["pid"])
    return out


async def _close_finalize_collect(
    dep: Deployment, n: int, workers: int, charge: int = 10000
) -> dict[str, Any]:
    """Start `workers` worker processes (grace period 0) and count, from the database, cycle
    invoices PAID until all n are. Three clocks, from the polls (every 50 ms):
    - steady: from the first poll with >= n/10 paid to the first with >= 9n/10, counting the
      invoices paid in between: every worker has imported, connected and taken batches by
      then, and the last partial batches (one worker alone) are left out;
    - first_paid: from the first poll that sees some paid to the last paid (the definition
      until 2026-11-30: it still holds a second worker's start-up and the tail);
    - from_spawn: all n over the time from spawning the workers."""
    conn = await asyncpg.connect(pg_dsn(dep.db_url))
    count_sql = (
        "SELECT count(*) FILTER (WHERE status = 'PAID') AS paid "
        "FROM invoices WHERE billing_reason = 'SUBSCRIPTION_CYCLE'"
    )
    # The poll counts new successful 10000-cent charges (an index range over the new rows;
    # each is written in its invoice's PAID transaction) rather than re-counting invoices:
    # that scan of the whole, growing table every 50 ms was about half the PostgreSQL CPU of
    # the phase. The invoices are counted at the end.
    poll_sql = "SELECT count(*) FROM payment_attempts WHERE id > $1 AND succeeded AND amount = $2"
    polls: list[tuple[float, int]] = []
    # The workers' CPU seconds at each poll: CPU per invoice in the steady window, without
    # start-up, and counted in CPU time rather than wall time on shared cores.
    worker_cpu: list[float] = []
    backends: dict[int, float] = {}  # PostgreSQL backend pid -> CPU seconds at its last poll
    # The backends' CPU seconds since the spawn, at each poll (backends that start during
    # the phase, the workers', count from their start).
    pg_cpu: list[float] = []
    vacuums_sql = (
        "SELECT coalesce(sum(autovacuum_count + autoanalyze_count), 0) FROM pg_stat_user_tables"
    )
    try:
        # The tables as autovacuum would leave them after the set-up's writes (statistics
        # gathered, dead rows such as the grants phase's deleted webhook_pending removed): a
        # server without autovacuum (CI's) never does it, and with it the set-up could
        # start a vacuum inside the measured window.
        await conn.execute("VACUUM (ANALYZE)")
        before = await conn.fetchrow(count_sql)
        vacuums = await conn.fetchval(vacuums_sql)
        last_attempt = await conn.fetchval("SELECT coalesce(max(id), 0) FROM payment_attempts")
        baseline = await _backend_cpu(conn)
        spawned = time.perf_counter()
        procs = dep.spawn_workers(workers, {"MB_INVOICE_GRACE_PERIOD": "0"})
        deadline = spawned + max(120.0, n / 20)
        try:
            while True:
                paid = await conn.fetchval(poll_sql, last_attempt, charge)
                t = time.perf_counter()
                polls.append((t, paid))
                with contextlib.suppress(OSError):
                    worker_cpu.append(sum(_cpu_seconds(p.pid) for p in procs))
                if len(worker_cpu) < len(polls):
                    worker_cpu.append(worker_cpu[-1] if worker_cpu else 0.0)
                backends.update(await _backend_cpu(conn))
                pg_cpu.append(sum(c - baseline.get(pid, 0.0) for pid, c in backends.items()))
                if paid >= n:
                    break
                if t > deadline:
                    raise BenchError(f"finalize: {paid} of {n} paid after {t - spawned:.0f} s")
                dep.check_alive()
                await asyncio.sleep(0.05)
            # Each worker's CPU, start-up included: the split shows whether both worked.
            cpu = [round(_cpu_seconds(p.pid), 2) for p in procs]
        finally:
            dep.stop_workers(procs)
        charged = await conn.fetchval(
            "SELECT count(*) FROM payment_attempts a JOIN invoices i ON i.id = a.invoice_id "
            "WHERE i.billing_reason = 'SUBSCRIPTION_CYCLE' AND a.succeeded AND a.amount = $1 "
            "AND a.id > $2",
            charge,
            last_attempt,
        )
        paid = (await conn.fetchrow(count_sql))["paid"] - before["paid"]
        # Autovacuum and autoanalyze runs that ended meanwhile (their CPU is in pg_cpu when
        # a poll saw the process): the set-up's writes can start them in the window.
        vacuums = await conn.fetchval(vacuums_sql) - vacuums
    finally:
        await conn.close()
    if paid != n or charged != n:
        raise BenchError(f"finalize: {paid} cycle invoices paid, {charged} charged; wanted {n}")
    first_t, first_paid = next((t, p) for t, p in polls if p > 0)
    lo = next(k for k, (_, p) in enumerate(polls) if p >= n / 10)
    hi = next(k for k, (_, p) in enumerate(polls) if p >= 9 * n / 10)
    (lo_t, lo_paid), (hi_t, hi_paid) = polls[lo], polls[hi]
    steady_cpu = (worker_cpu[hi] - worker_cpu[lo]) / (hi_paid - lo_paid) if hi > lo else None
    steady_pg = (pg_cpu[hi] - pg_cpu[lo]) / (hi_paid - lo_paid) if hi > lo else None
    return {
        "steady": (hi_paid - lo_paid) / (hi_t - lo_t) if hi_t > lo_t else None,
        "steady_worker_cpu_ms": None if steady_cpu is None else round(1000 * steady_cpu, 3),
        "steady_pg_cpu_ms": None if steady_pg is None else round(1000 * steady_pg, 3),
        "autovacuums": int(vacuums),
        "first_paid": (n - first_paid) / (t - first_t) if t > first_t else None,
        "from_spawn": n / (t - spawned),
        "seconds_from_spawn": t - spawned,
        "worker_cpu_s": cpu,
        "pg_cpu_s": pg_cpu[-1],
    }


async def finalize_throughput(
    dep: Deployment, api: Api, seed: Seed, sizes: Sizes
) -> dict[str, Any]:
    """Subscriptions closed, finalized and collected per second by 1 and then (a fresh set of
    subscriptions) 2 worker processes. The deployment's own workers are stopped first so the
    subscriptions wait, due, until the measured workers start."""
    dep.stop_workers()
    n = sizes.finalize_subscriptions
    out: dict[str, Any] = {}
    for workers in (1, 2):
        t = time.perf_counter()
        last_end = await _due_subscriptions(api, seed, n, f"fin{workers}")
        out[f"finalize_create_seconds_{workers}w"] = round(time.perf_counter() - t, 1)
        await asyncio.sleep(max(0.0, (last_end - datetime.now(UTC)).total_seconds()) + 0.2)
        r = await _close_finalize_collect(dep, n, workers)
        # A small run (smoke) can be paid in one or two batches between two polls: then a
        # shorter window stands in (noted by the value being equal to it).
        sps = r["steady"] or r["first_paid"] or r["from_spawn"]
        out[f"finalize_sps_{workers}w"] = round(sps, 1)
        out[f"finalize_sps_first_paid_{workers}w"] = round(r["first_paid"] or r["from_spawn"], 1)
        out[f"finalize_sps_from_spawn_{workers}w"] = round(r["from_spawn"], 1)
        out[f"finalize_seconds_from_spawn_{workers}w"] = round(r["seconds_from_spawn"], 2)
        out[f"finalize_worker_cpu_s_{workers}w"] = r["worker_cpu_s"]
        out[f"finalize_pg_cpu_s_{workers}w"] = round(r["pg_cpu_s"], 2)
    out["finalize_subscriptions"] = n
    out["finalize_scaling_2w"] = round(out["finalize_sps_2w"] / out["finalize_sps_1w"], 2)
    out["finalize_scaling_from_spawn_2w"] = round(
        out["finalize_sps_from_spawn_2w"] / out["finalize_sps_from_spawn_1w"], 2
    )
    return out


HOOK_CREATE = """mutation($u: String!) { createWebhookEndpoint(input: {url: $u}) {
  webhookEndpoint { id } userErrors { message } } }"""
HOOK_STATUS = """mutation($id: ID!, $s: WebhookEndpointStatus!) {
  updateWebhookEndpoint(input: {id: $id, status: $s}) { userErrors { message } } }"""
HOOK_ROUNDS = 2


async def finalize_with_webhooks(
    dep: Deployment, api: Api, seed: Seed, sizes: Sizes
) -> dict[str, Any]:
    """finalize_sps (1 worker, as finalize_throughput measures it) with two endpoints
    subscribed to everything, each on its own local receiver process, ENABLED versus
    DISABLED (no delivery made), rounds interleaved (none, two, none, two, ...) so the
    machine's drift hits both alike. Deliveries still pending when a round's worker stops
    are failed as "endpoint disabled" by the next (none) round's worker: no HTTP."""
    from webhook_delivery import RECEIVER

    dep.stop_workers()
    ports = [free_port(), free_port()]
    receivers = [subprocess.Popen([sys.executable, "-c", RECEIVER, str(p)]) for p in ports]
    try:
        await asyncio.sleep(2)
        ids = [
            (
                await _ok(
                    api, "createWebhookEndpoint", HOOK_CREATE, {"u": f"http://127.0.0.1:{p}/hook"}
                )
            )["webhookEndpoint"]["id"]
            for p in ports
        ]
        n = max(50, sizes.finalize_subscriptions // 2)
        runs: dict[str, list[float]] = {"none": [], "two": []}
        for k in range(HOOK_ROUNDS):
            for mode in ("none", "two"):
                for i in ids:
                    status = "ENABLED" if mode == "two" else "DISABLED"
                    await _ok(api, "updateWebhookEndpoint", HOOK_STATUS, {"id": i, "s": status})
                last_end = await _due_subscriptions(api, seed, n, f"hook{mode}{k}")
                await asyncio.sleep(max(0.0, (last_end - datetime.now(UTC)).total_seconds()) + 0.2)
                r = await _close_finalize_collect(dep, n, 1)
                runs[mode].append(round(r["steady"] or r["first_paid"] or r["from_spawn"], 1))
    finally:
        for r in receivers:
            r.terminate()
            r.wait()
    none, two = statistics.median(runs["none"]), statistics.median(runs["two"])
    return {
        "finalize_sps_hooks_none_runs": runs["none"],
        "finalize_sps_hooks_two_runs": runs["two"],
        "finalize_sps_hooks_none": none,
        "finalize_sps_hooks_two": two,
        "finalize_sps_hooks_drop_pct": round(100 * (none - two) / none, 1),
        "finalize_hooks_subscriptions": n,
    }


# Even, in ABBA order (none, three, three, none, ...): the rate falls round after round as
# the database grows, so a mode always run second would always look slower.
GRANT_ROUNDS = 4


async def finalize_with_grants(
    dep: Deployment, api: Api, seed: Seed, sizes: Sizes
) -> dict[str, Any]:
    """finalize_sps (1 worker, as finalize_throughput measures it) where every customer has
    usage in the closing period and holds three credit grants that pay all of it (three:
    charged 10000) or none (none: charged 10000 + GRANT_USAGE_CENTS), rounds interleaved
    in ABBA order so the machine's and the database's drift hits both alike. The harness
    checks the grants' balances afterwards."""
    dep.stop_workers()
    # Twice finalize's size: at half of it (500) a round took ~0.25 s, its steady window a
    # few 50 ms polls, and the rate came out in steps of ~25 % (1,430, 1,920 or 2,900/s).
    n = max(50, sizes.finalize_subscriptions * 2)
    runs: dict[str, list[float]] = {"none": [], "three": []}
    # The worker's CPU per invoice in the steady window: steadier than rates on shared cores.
    cpu: dict[str, list[float | None]] = {"none": [], "three": []}
    pg: dict[str, list[float | None]] = {"none": [], "three": []}
    vacuums: dict[str, list[int]] = {"none": [], "three": []}
    for k in range(GRANT_ROUNDS):
        for mode in ("none", "three") if k % 2 == 0 else ("three", "none"):
            grants = 3 if mode == "three" else 0
            last_end = await _due_subscriptions(
                api, seed, n, f"grant{mode}{k}", grants=grants, usage=True
            )
            await asyncio.sleep(max(0.0, (last_end - datetime.now(UTC)).total_seconds()) + 0.2)
            # The set-up's events (customer.created, credit_grant.created, ...) count as
            # fanned out already: the worker measured does the billing, in both modes.
            conn = await asyncpg.connect(pg_dsn(dep.db_url))
            try:
                await conn.execute("DELETE FROM webhook_pending")
            finally:
                await conn.close()
            charge = 10000 if grants else 10000 + GRANT_USAGE_CENTS
            r = await _close_finalize_collect(dep, n, 1, charge)
            runs[mode].append(round(r["steady"] or r["first_paid"] or r["from_spawn"], 1))
            cpu[mode].append(r["steady_worker_cpu_ms"])
            pg[mode].append(r["steady_pg_cpu_ms"])
            vacuums[mode].append(r["autovacuums"])
    conn = await asyncpg.connect(pg_dsn(dep.db_url))
    try:
        left = await conn.fetchrow(
            "SELECT count(*) AS grants, sum(amount - available_amount) AS applied, "
            "sum(available_amount) AS available FROM credit_grants"
        )
    finally:
        await conn.close()
    want = GRANT_ROUNDS * n * GRANT_USAGE_CENTS
    if left["grants"] != GRANT_ROUNDS * n * 3 or left["applied"] != want:
        raise BenchError(f"grants: {dict(left)}, wanted {want} applied")
    none, three = statistics.median(runs["none"]), statistics.median(runs["three"])
    return {
        "finalize_sps_grants_none_runs": runs["none"],
        "finalize_sps_grants_three_runs": runs["three"],
        "finalize_sps_grants_none": none,
        "finalize_sps_grants_three": three,
        "finalize_sps_grants_drop_pct": round(100 * (none - three) / none, 1),
        "finalize_grants_worker_cpu_ms_none_runs": cpu["none"],
        "finalize_grants_worker_cpu_ms_three_runs": cpu["three"],
        "finalize_grants_pg_cpu_ms_none_runs": pg["none"],
        "finalize_grants_pg_cpu_ms_three_runs": pg["three"],
        "finalize_grants_autovacuums_none_runs": vacuums["none"],
        "finalize_grants_autovacuums_three_runs": vacuums["three"],
        "finalize_grants_subscriptions": n,
    }


async def webhook_delivery_numbers(dep: Deployment, sizes: Sizes) -> dict[str, Any]:
    """bench/webhook_delivery.py on a database of its own on the same server."""
    from webhook_delivery import main_async

    events = 1000 if sizes.name != "smoke" else 50
    ns = argparse.Namespace(
        database_url=dep.pg_server, events=events, rate=50.0, throughput_events=2 * events
    )
    return await main_async(ns)


async def dashboard_statements(dep: Deployment) -> dict[str, Any]:
    """SQL statements of one dashboard query (DASHBOARD: 100 subscriptions with customer,
    items, prices, tiers, meters, latest invoice), counted in-process: this process runs the
    app (create_app, same settings as `meterbill serve`) over httpx's ASGI transport with
    every asyncpg Connection query method (execute, executemany, fetch, fetchrow, fetchval,
    fetchmany) wrapped by a counter. The query runs once to warm the API key cache, then is
    counted. BEGIN/COMMIT count; the pool's reset query on release is counted apart."""
    import httpx
    from asyncpg.connection import Connection

    from meterbill.app import create_app
    from meterbill.config import Settings

    seen: list[str] = []
    counting = False
    originals = {}
    for name in ("execute", "executemany", "fetch", "fetchrow", "fetchval", "fetchmany"):
        orig = getattr(Connection, name)
        originals[name] = orig

        def wrap(orig: Any) -> Any:
            async def counted(self: Any, query: Any, *args: Any, **kw: Any) -> Any:
                if counting:
                    seen.append(" ".join(str(query).split())[:100])
                return await orig(self, query, *args, **kw)

            return counted

        setattr(Connection, name, wrap(orig))
    try:
        settings = Settings(database_url=dep.db_url, redis_url=dep.env["MB_REDIS_URL"])
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as c:
                headers = {"Authorization": f"Bearer {dep.secret}"}

                async def once() -> dict[str, Any]:
                    r = await c.post("/graphql", json={"query": DASHBOARD}, headers=headers)
                    body = r.json()
                    if r.status_code != 200 or body.get("errors"):
                        raise BenchError(f"dashboard: {r.status_code} {str(body)[:300]}")
                    return body["data"]  # type: ignore[no-any-return]

                await once()
                counting = True
                data = await once()
                counting = False
    finally:
        for name, orig in originals.items():
            setattr(Connection, name, orig)
    edges = data["subscriptions"]["edges"]
    if len(edges) != 100:
        raise BenchError(f"dashboard listed {len(edges)} subscriptions, wanted 100")
    reset = [
        q
        for q in seen
        if q.startswith("SELECT pg_advisory_unlock_all") or q.startswith("RESET ALL")
    ]
    statements = [q for q in seen if q not in reset]
    return {
        "dashboard_sql_statements": len(statements),
        "dashboard_pool_resets": len(reset),
        "dashboard_statements": statements,
    }


# ---------------------------------------------------------------- profiling


class Profiler:
    """py-spy on the API (all uvicorn processes) and the worker(s) during one phase: collapsed
    stacks in DIR/<phase>-<process>.txt (flamegraph.pl or speedscope read them)."""

    def __init__(self, directory: str | None, dep: Deployment):
        self.dir = Path(directory) if directory else None
        self.dep = dep

    def start(self, phase: str) -> list[subprocess.Popen[bytes]]:
        if self.dir is None:
            return []
        self.dir.mkdir(parents=True, exist_ok=True)
        spies = []
        for p in self.dep.procs:
            name = Path(str(p.args[1] if len(p.args) > 1 else p.args[0])).name
            if name not in ("serve", "worker"):
                continue
            out = self.dir / f"{phase}-{name}-{p.pid}.txt"
            argv = ["py-spy", "record", "--format", "raw", "--rate", "200", "-o", str(out)]
            argv += ["--subprocesses", "--pid", str(p.pid)]
            spies.append(
                subprocess.Popen(
                    [str(BIN / argv[0]), *argv[1:]],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        return spies

    @staticmethod
    def stop(spies: list[subprocess.Popen[bytes]]) -> None:
        for s in spies:
            s.send_signal(2)  # SIGINT: py-spy writes its output and exits
        for s in spies:
            try:
                s.wait(30)
            except subprocess.TimeoutExpired:
                s.kill()


# ---------------------------------------------------------------- the run


_profiler: Profiler | None = None


async def timed(name: str, call: Awaitable[Any]) -> Any:
    print(f"[bench] {name} ...", flush=True)
    spies = _profiler.start(name.replace(" ", "_")) if _profiler else []
    t = time.perf_counter()
    try:
        return await call
    finally:
        print(f"[bench] {name}: {time.perf_counter() - t:.1f} s", flush=True)
        Profiler.stop(spies)


async def run(args: argparse.Namespace, sizes: Sizes) -> dict[str, Any]:
    results: dict[str, Any] = {}
    notes: dict[str, str] = {}
    global _profiler
    dep = Deployment(args.pg, args.api_workers, args.workers, args.pool_max)
    only = set(args.only.split(",")) if args.only else None

    def wanted(phase: str) -> bool:
        return only is None or phase in only

    try:
        print("[bench] start deployment ...", flush=True)
        await dep.start()
        _profiler = Profiler(args.profile, dep)
        # Under uvicorn's 5 s keep-alive: a pooled connection is never one the server closed.
        conn_limit = aiohttp.TCPConnector(limit=SINGLE_CLIENTS + 8, keepalive_timeout=2)
        async with aiohttp.ClientSession(connector=conn_limit) as session:
            api = Api(session, dep.base, dep.secret)
            meter = await make_meter(api, "bench_tokens")
            cus = await make_customer(api)
            probe_meter = await make_meter(api, "bench_probe")
            probe_cus = await make_customer(api)
            conn = await asyncpg.connect(pg_dsn(dep.db_url))
            try:
                account = await conn.fetchval("SELECT account_id FROM meters WHERE id = $1", meter)
            finally:
                await conn.close()
            # Warm-up: connection pools, parser/validation caches, every process.
            for w in range(4 * args.api_workers):
                await api.gql(
                    RECORD_MANY,
                    {
                        "i": [
                            event("bench_tokens", cus, f"w{w}-{i}", iso(datetime.now(UTC)))
                            for i in range(100)
                        ]
                    },
                )

            n_ingest = INGEST_CLIENTS * sizes.ingest_batches * BATCH
            eps = await raw_copy(dep, account, meter, cus, n_ingest)
            results["raw_copy_eps"] = round(eps)

            if wanted("ingest"):
                total, elapsed, lag = await timed(
                    "ingest batches + lag",
                    ingest_batches(
                        api, cus, sizes.ingest_batches, probe_meter, probe_cus, sizes.min_lag_probes
                    ),
                )
                dep.check_alive()
                results["ingest_batch_eps"] = round(total / elapsed)
                results["ingest_ratio"] = round(results["ingest_batch_eps"] / eps, 3)
                p50, p95, _ = ms_pcts(lag)
                results["lag_p50_ms"], results["lag_p95_ms"] = p50, p95
                results["lag_probes"] = len(lag)

            if wanted("unique_ingest"):
                await make_meter(api, "bench_users", "UNIQUE_COUNT", valuePayloadKey="user")
                users_cus = await make_customer(api)
                await timed(
                    "UNIQUE_COUNT vs SUM ingest",
                    unique_vs_sum(dep, api, cus, users_cus, sizes, probe_meter, probe_cus, results),
                )
                dep.check_alive()
                notes["unique_count_ingest_vs_sum"] = (
                    f"{UNIQUE_ROUNDS} rounds, each the ingest phase's batches (same sizes, same "
                    "lag probe) for the SUM meter then for a UNIQUE_COUNT meter (20,000 distinct "
                    "users), back to back, every round starting with nothing pending: the median "
                    "of the rounds' ratios (each in ..._rounds); ingest_batch_eps_unique_count "
                    "and ingest_batch_eps_sum_paired are the medians of each meter's rounds"
                )

            if wanted("alerts"):
                lat, total, elapsed = await timed(
                    "alert latency under ingest load",
                    alerts_under_load(dep, api, cus, sizes, probe_meter, probe_cus),
                )
                dep.check_alive()
                p50, p95, _ = ms_pcts(lat)
                results["alert_latency_p50_ms"], results["alert_latency_p95_ms"] = p50, p95
                results["alert_probes"] = len(lat)
                results["alert_load_eps"] = round(total / elapsed)
                notes["alert_latency_p95_ms"] = (
                    "recordMeterEvent accepted -> its billing_alert_triggers row visible "
                    "(asyncpg poll every 10 ms), a new customer-scoped alert of threshold 1 per "
                    "probe, while the ingest phase's load runs (alert_load_eps)"
                )

            if wanted("single"):
                serve = dep.serve_pid()
                cpu0, redis0 = tree_cpu_seconds(serve), await redis_counts(dep)
                n, elapsed, lat = await timed(
                    "single events", single_events(api, cus, sizes.single_seconds)
                )
                cpu1, redis1 = tree_cpu_seconds(serve), await redis_counts(dep)
                dep.check_alive()
                p50, _, p99 = ms_pcts(lat)
                results["single_rps"] = round(n / elapsed)
                results["single_api_cpu_us"] = round((cpu1 - cpu0) / n * 1e6) if n else None
                if n:
                    results["single_redis_evals"] = round((redis1[0] - redis0[0]) / n, 3)
                    results["single_redis_cpu_us"] = round((redis1[1] - redis0[1]) / n * 1e6)
                notes["single_api_cpu_us"] = (
                    "user + system CPU of the meterbill serve processes (from /proc) during the "
                    "single phase, per recordMeterEvent: less noisy than rps on shared cores; "
                    "single_redis_evals / _cpu_us: redis-server's EVAL calls and CPU per request"
                )
                results["single_p50_ms"], results["single_p99_ms"] = p50, p99

            if wanted("bulk"):
                b = await timed(
                    "bulk endpoint",
                    bulk(api, cus, sizes.bulk_requests, sizes.bulk_events_per_request),
                )
                if isinstance(b, str):
                    results["bulk_eps"] = results["bulk_ratio"] = None
                    notes["bulk_eps"] = notes["bulk_ratio"] = b
                else:
                    results["bulk_eps"] = round(b[0] / b[1])
                    results["bulk_ratio"] = round(results["bulk_eps"] / eps, 3)
                dep.check_alive()

            if wanted("summary"):
                lat, info = await timed("summaries", summaries(dep, api, account, sizes))
                p50, _, p99 = ms_pcts(lat)
                results["summary_p50_ms"], results["summary_p99_ms"] = p50, p99
                results.update(info)
                notes["summary_p50_ms"] = (
                    "events COPY'd into meter_events as aggregated; minute and hour rollups by "
                    "INSERT ... SELECT with the worker's fold (SUM/COUNT add, LAST = greatest "
                    "(timestamp, id)); harness checks the API's 30 days add up to the raw sum"
                )

            if wanted("unique"):
                lat, info = await timed(
                    "UNIQUE_COUNT summaries", unique_summaries(dep, api, account, sizes)
                )
                p50, _, p99 = ms_pcts(lat)
                results["unique_count_summary_p50_ms"] = p50
                results["unique_count_summary_p99_ms"] = p99
                results.update(info)
                notes["unique_count_summary_p50_ms"] = (
                    "meterEventSummaries (no window) of a UNIQUE_COUNT meter over one UTC "
                    "calendar month, one customer with all summary_events events and 100,000 "
                    "distinct values (a meter without dimension keys: the month's count row); "
                    "events COPY'd as aggregated with their first-seen day and month rows and "
                    "counts by INSERT ... SELECT as the worker's claim adds them; the harness "
                    "checks the API's count equals count(DISTINCT) of the raw events; "
                    "unique_count_day_windows_p50_ms: DAY windows of the same month (30 day "
                    "count rows)"
                )

            hooks = only is not None and "webhooks" in only
            credit = only is not None and "grants" in only
            if wanted("upcoming") or wanted("finalize") or wanted("dashboard") or hooks or credit:
                seed = await seed_prices(api)
            if wanted("upcoming"):
                lat, info = await timed(
                    "upcoming invoice", upcoming_invoice(dep, api, account, seed, sizes)
                )
                p50, _, p99 = ms_pcts(lat)
                results["upcoming_p50_ms"], results["upcoming_p99_ms"] = p50, p99
                results.update(info)
                notes["upcoming_p50_ms"] = (
                    "upcomingInvoice over HTTP, sequential, for the seed's subscription (3 seats "
                    "+ graduated usage) with a 28-day current period of usage COPY'd + rolled up "
                    "like summaries; harness checks usage quantity and total against raw events"
                )

            if wanted("finalize") or wanted("dashboard"):
                # Stops the deployment's own worker(s): the measured ones are started per round.
                out = await timed(
                    "close + finalize + collect", finalize_throughput(dep, api, seed, sizes)
                )
                results.update(out)
                notes["finalize_sps_1w"] = (
                    "wall-clock subscriptions whose first (5 s) period has ended, created through "
                    "the API with no worker running; then N `meterbill worker` processes with "
                    "MB_INVOICE_GRACE_PERIOD=0: cycle invoices PAID (charged pm_card_visa) per "
                    "second, counted in the database (polls every 50 ms): steady state, the "
                    "invoices paid between the first poll with >= 10% paid and the first with "
                    ">= 90% (finalize_sps_first_paid_*: from the first poll with any paid to "
                    "the last paid; finalize_sps_from_spawn_*: all n over the time from "
                    "spawning the workers; finalize_worker_cpu_s_*: each worker's CPU seconds)"
                )

            if hooks:
                out = await timed("webhook delivery", webhook_delivery_numbers(dep, sizes))
                results.update(out)
                out = await timed(
                    "finalize with webhooks", finalize_with_webhooks(dep, api, seed, sizes)
                )
                results.update(out)
                notes["webhook_latency_p50_ms"] = (
                    "bench/webhook_delivery.py: one WebhookLoop in the bench process, a local "
                    "aiohttp receiver process; customers created at 50/s, committed -> first "
                    "request at the receiver; webhook_throughput: 2x that many queued events "
                    "drained to one endpoint"
                )
                notes["finalize_sps_hooks_two"] = (
                    "1 worker, finalize_sps as finalize_sps_1w, two endpoints subscribed to "
                    "every event ENABLED (two) or DISABLED (none), rounds interleaved; all "
                    "runs listed"
                )

            if credit:
                out = await timed(
                    "finalize with credit grants", finalize_with_grants(dep, api, seed, sizes)
                )
                results.update(out)
                notes["finalize_sps_grants_three"] = (
                    "1 worker, finalize_sps as finalize_sps_1w, every customer with usage in "
                    "the closing period (400 cents) and three credit grants paying it (three) "
                    "or none (none), rounds interleaved; all runs listed; worker_cpu_ms: the "
                    "worker's CPU per invoice between the 10% and the 90% polls"
                )

            if wanted("dashboard"):
                out = await timed("dashboard statements", dashboard_statements(dep))
                results.update(out)
                notes["dashboard_sql_statements"] = (
                    "in-process app, asyncpg Connection query methods counted (BEGIN/COMMIT "
                    "included, pool reset on release excluded); the schema has no upcoming-total "
                    "field on Subscription, so the query has none (upcomingInvoice is per "
                    "subscription)"
                )
            dep.check_alive()
    except BaseException:
        print(dep.tail_logs(), file=sys.stderr)
        raise
    finally:
        await dep.stop()
    results["notes"] = notes
    return results


TARGETS = {
    "ingest_batch_eps": (">=", 15_000),
    "ingest_ratio": (">=", 0.15),
    "bulk_eps": (">=", 40_000),
    "bulk_ratio": (">=", 0.4),
    "single_rps": (">=", 1_500),
    "single_p99_ms": ("<=", 100),
    "lag_p95_ms": ("<=", 2_000),
    "summary_p50_ms": ("<=", 20),
    "unique_count_summary_p50_ms": ("<=", 20),
    "unique_count_ingest_vs_sum": (">=", 0.7),
    "alert_latency_p95_ms": ("<=", 2_000),
    "upcoming_p50_ms": ("<=", 15),
    "finalize_sps_1w": (">=", 500),
    "dashboard_sql_statements": ("<=", 10),
}
ORDER = [
    "raw_copy_eps",
    "ingest_batch_eps",
    "ingest_ratio",
    "single_rps",
    "single_p50_ms",
    "single_p99_ms",
    "single_api_cpu_us",
    "lag_p50_ms",
    "lag_p95_ms",
    "summary_p50_ms",
    "summary_p99_ms",
    "unique_count_summary_p50_ms",
    "unique_count_summary_p99_ms",
    "ingest_batch_eps_unique_count",
    "ingest_batch_eps_sum_paired",
    "unique_count_ingest_vs_sum",
    "alert_latency_p50_ms",
    "alert_latency_p95_ms",
    "upcoming_p50_ms",
    "upcoming_p99_ms",
    "finalize_sps_1w",
    "finalize_sps_2w",
    "dashboard_sql_statements",
    "bulk_eps",
    "bulk_ratio",
]


def verdict(key: str, value: Any) -> str:
    if key not in TARGETS:
        return ""
    op, target = TARGETS[key]
    if value is None:
        return f"{op} {target:,}: not measured"
    ok = value >= target if op == ">=" else value <= target
    return f"{op} {target:,}: {'met' if ok else 'MISSED'}"


def markdown(result: dict[str, Any], command: str, label: str) -> str:
    m = result["machine"]
    r = result["results"]
    lines = [
        f"### {result['date']} — {result['size']}{' — ' + label if label else ''}",
        "",
        f"`{command}`  ",
        f"machine: {m['nproc']} cores, {m['memory_gib']} GiB, {m['cpu']}; Python {m['python']}; "
        f"load average before: {m['loadavg_before']}  ",
        f"setup: {result['setup']}  ",
        "The load generator (aiohttp, one process) runs on the same cores as the API, the "
        "worker and PostgreSQL.",
        "",
        "| metric | value | target |",
        "| --- | ---: | --- |",
    ]
    for k in ORDER:
        v = r.get(k)
        shown = "null" if v is None else (f"{v:,}" if isinstance(v, int | float) else str(v))
        lines.append(f"| {k} | {shown} | {verdict(k, v)} |")
    notes = r.get("notes", {})
    if notes:
        lines.append("")
        for k, why in sorted(notes.items()):
            lines.append(f"- {k}: {why}")
    extra = {k: v for k, v in r.items() if k not in ORDER and k != "notes"}
    if extra:
        lines.append(f"- also: {json.dumps(extra)}")
    return "\n".join(lines) + "\n\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--smoke", action="store_true", help="tiny sizes, seconds (CI)")
    size.add_argument("--quick", action="store_true", help="1,000,000 events; minutes")
    ap.add_argument("--json", metavar="FILE", help="write the results as JSON")
    ap.add_argument(
        "--results",
        metavar="FILE",
        help="append the markdown table here (default bench/RESULTS.md; --smoke: nowhere)",
    )
    ap.add_argument("--label", default="", help="a note for the RESULTS.md heading")
    ap.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--api-workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--workers", type=int, default=1, help="meterbill worker processes")
    ap.add_argument(
        "--only",
        help="comma-separated phases: ingest,unique_ingest,alerts,single,bulk,summary,unique,"
        "upcoming,finalize,dashboard,webhooks,grants "
        "(raw copy always; dashboard needs finalize's subscriptions)",
    )
    ap.add_argument("--profile", metavar="DIR", help="py-spy the API and worker per phase")
    ap.add_argument("--pool-max", type=int, default=20, help="MB_DB_POOL_MAX per process")
    args = ap.parse_args()
    sizes = SMOKE if args.smoke else QUICK if args.quick else FULL
    command = "python bench/run.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    mach = machine()
    mach["postgresql"] = asyncio.run(server_settings(args.pg))
    t0 = time.perf_counter()
    try:
        results = asyncio.run(run(args, sizes))
    except (BenchError, OSError, subprocess.CalledProcessError, asyncpg.PostgresError) as e:
        print(f"bench: FAILED: {e}", file=sys.stderr)
        return 1
    out = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "size": sizes.name,
        "command": command,
        "machine": mach,
        "setup": (
            f"meterbill serve --workers {args.api_workers}, {args.workers} x meterbill worker, "
            f"MB_DB_POOL_MAX={args.pool_max}, PostgreSQL {args.pg.rsplit('@', 1)[-1]}, "
            f"own redis-server; sizes {asdict(sizes)}"
        ),
        "seconds": round(time.perf_counter() - t0, 1),
        "results": results,
    }
    print(json.dumps(out["results"], indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    results_file = args.results or (None if args.smoke else str(HERE / "RESULTS.md"))
    if results_file:
        path = Path(results_file)
        if not path.exists():
            path.write_text("# Benchmark results (bench/run.py)\n\n")
        with path.open("a") as f:
            f.write(markdown(out, command, args.label))
    print(f"bench: done in {out['seconds']} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
