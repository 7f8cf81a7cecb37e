"""Soak: does ingest and reading stay flat as stored history grows? (issue 18; hours)

    .venv/bin/python bench/soak.py --events 100000000 --json bench/soak-100m.json
    .venv/bin/python bench/soak.py --events 2000000 --slice 500000   # minutes, a rehearsal

A fresh PostgreSQL database, redis-server, `meterbill serve` and `meterbill worker`, as
bench/run.py deploys them (its Deployment). Loads --events events through the bulk endpoint
(POST /v1/meter_events, NDJSON, --clients concurrent clients of --per-request lines) for
--customers customers (Zipf: the k-th sends 1/k of the first's), with random request-like
identifiers (0.1 % of the lines are resent lines of the same request: duplicates, counted
once) and timestamps that move through the last --days days with the load (the first events
the oldest, each up to an hour late).
After every --slice events it waits until the worker has folded everything (no pending
rows), then measures:

  eps               events/s accepted by the API during that slice (the worker folds
                    concurrently; its catch-up time after the slice is reported apart)
  summary_p50_ms    meterEventSummaries, DAY windows over --days days, one customer
  summary_p99_ms
  upcoming_p50_ms   upcomingInvoice of the seed's subscription (Alpaca: seats + usage),
                    whose customer takes its share of the events
  db_bytes          pg_database_size (and the largest tables with their indexes)
  wal_*_per_event   WAL bytes and full-page images written during the slice, per event,
                    and the checkpoints in it (requested ones: max_wal_size was reached)
  cpu_during_ingest the machine's CPU shares while the slice was loaded (/proc/stat: user,
                    system, iowait, steal, idle)
  blocks_per_event  per table (the six most read), blocks read from outside shared_buffers
                    (the OS cache or the disk) and found in them, per event, over the
                    slice's load and fold (pg_statio_user_tables; a partition dropped in
                    the slice takes its counts with it, so its table is undercounted)

--settle-seconds S waits (up to S) for this database's autovacuums to end before the reads,
so that a read measures the history, not a vacuum rewriting it alongside.

With --retention-during-load the workers run with MB_EVENT_RETENTION_DAYS=R from the
start and each slice's partitions are recorded as made ahead (below), so the oldest weeks
drop while the load goes on, as in production; the retention measure then only waits for them.
With --retention-days R, after the last slice the workers are restarted with
MB_EVENT_RETENTION_DAYS=R and the same measures are taken once the oldest raw events are
gone ("retention"). Retention counts on the wall clock and is at least 42 days, while the API
takes events at most 35 days old: --clock-days-ago N puts every customer on a test clock
frozen N days back, so the load's events are that much older (e.g. N = 60, R = 75: the
older half of 30 days is dropped); the partitions are recorded as made 28 days ahead of
their weeks, as production's housekeeping makes them (retention keeps a partition made after
its horizon).

--max-seconds and --min-free-gb (free space left on the database's disk) bound the run: when
one is reached the result so far is written with "complete": false and "stopped_by".

Writes one JSON object (--json): {"events_total", "slices": [...], "db_bytes", ...}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from meterbill.db import partitions
from meterbill.db.stores.events import AHEAD

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import (  # noqa: E402 - bench/ is not a package
    SUMMARY,
    UPCOMING,
    Api,
    BenchError,
    Deployment,
    gql_body,
    iso,
    machine,
    ms_pcts,
    pg_dsn,
    seed_prices,
    server_settings,
    subscribe,
)

CREATE_CUSTOMER = """mutation($i: CreateCustomerInput!) { createCustomer(input: $i) {
  customer { id } userErrors { message } } }"""
CREATE_CLOCK = """mutation($i: CreateTestClockInput!) { createTestClock(input: $i) {
  testClock { id } userErrors { message } } }"""
LINE = (
    '{"event_name":"%s","payload":{"customer_id":"%s","value":"%d"},'
    '"identifier":"req_%024x","timestamp":"%s"}\n'
)
# Tables with their indexes and TOAST; a partitioned table as the sum of its partitions.
SIZES = """
SELECT coalesce(p.relname, c.relname) AS name, sum(pg_total_relation_size(c.oid))::bigint
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
LEFT JOIN pg_inherits i ON i.inhrelid = c.oid LEFT JOIN pg_class p ON p.oid = i.inhparent
WHERE c.relkind = 'r' GROUP BY 1 ORDER BY 2 DESC LIMIT 8
"""
AUTOVACUUMS = """SELECT count(*) FROM pg_stat_activity
WHERE backend_type = 'autovacuum worker' AND datname = current_database()"""
# Cluster-wide (nothing else runs during a soak): what a slice cost in WAL and checkpoints.
WAL = """SELECT w.wal_bytes::bigint, w.wal_fpi, b.checkpoints_req, b.checkpoints_timed
FROM pg_stat_wal w, pg_stat_bgwriter b"""
# Blocks each table (with its indexes and TOAST; a partitioned one as the sum of its
# partitions) read from outside shared_buffers (the OS cache or the disk) and found in them.
BLOCKS = """
SELECT coalesce(p.relname, s.relname) AS name,
  sum(coalesce(s.heap_blks_read, 0) + coalesce(s.idx_blks_read, 0)
      + coalesce(s.toast_blks_read, 0) + coalesce(s.tidx_blks_read, 0))::bigint AS read,
  sum(coalesce(s.heap_blks_hit, 0) + coalesce(s.idx_blks_hit, 0)
      + coalesce(s.toast_blks_hit, 0) + coalesce(s.tidx_blks_hit, 0))::bigint AS hit
FROM pg_statio_user_tables s LEFT JOIN pg_inherits i ON i.inhrelid = s.relid
LEFT JOIN pg_class p ON p.oid = i.inhparent GROUP BY 1
"""
# An estimate: the statistics' live-row counts (no ANALYZE needed, but backends report
# them some seconds late). count(*) of tens of GB every slice would read the whole table
# through the OS cache and evict the next slice's hot pages.
RAW_EVENTS = """SELECT sum(s.n_live_tup)::bigint FROM pg_inherits i
JOIN pg_stat_user_tables s ON s.relid = i.inhrelid
WHERE i.inhparent = 'meter_events'::regclass"""
RESEND_EVERY = 1000  # one line in a thousand is sent twice in its request


async def customer(api: Api, name: str, clock: str | None, pm: str | None = None) -> str:
    spec: dict[str, Any] = {"name": name}
    if clock:
        spec["testClockId"] = clock
    if pm:
        spec["paymentMethod"] = pm
    d = await api.gql(CREATE_CUSTOMER, {"i": spec})
    if d["createCustomer"]["userErrors"]:
        raise BenchError(str(d))
    return str(d["createCustomer"]["customer"]["id"])


class Load:
    """Request bodies: random customers, values 1..9, timestamps over the last `days` days
    (second precision, ISO), identifiers like a client's request ids."""

    def __init__(self, event_name: str, customers: list[str], days: int, seed: int):
        self.event_name, self.customers, self.days = event_name, customers, days
        self.rng = random.Random(seed)
        # Zipf (s = 1) over the customers: a few large ones and a long tail, as an API's
        # traffic is; the k-th customer sends 1/k of the first's.
        acc, self.cum = 0.0, []
        for k in range(1, len(customers) + 1):
            acc += 1 / k
            self.cum.append(acc)

    def body(self, lines: int, now: datetime, progress: float) -> tuple[bytes, int]:
        """(NDJSON, number of distinct events in it). Time moves with the load: at
        `progress` p of the run the events are p of the way through the `days`, up to an
        hour late, as a client sends them (the oldest partitions hold the first events)."""
        rng, out, span = self.rng, [], self.days * 86400 - 120
        base = now - timedelta(days=self.days) + timedelta(seconds=60)
        at = int(progress * span)
        n = 0
        who = rng.choices(self.customers, cum_weights=self.cum, k=lines)
        while len(out) < lines:
            ts = iso(base + timedelta(seconds=max(0, at - rng.randrange(3600))))
            cus = who[n]
            line = LINE % (
                self.event_name,
                cus,
                rng.randrange(1, 10),
                rng.getrandbits(96),
                ts,
            )
            out.append(line)
            n += 1
            if n % RESEND_EVERY == 0 and len(out) < lines:
                out.append(line)
        return "".join(out).encode(), n


async def pending(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM meter_events_pending"))


async def wait_folded(conn: asyncpg.Connection, dep: Deployment, limit: float) -> float:
    t0 = time.perf_counter()
    # EXISTS, not count(*): polling a count of millions of rows every second would take CPU
    # from the fold it waits for.
    while await conn.fetchval("SELECT EXISTS (SELECT 1 FROM meter_events_pending)"):
        dep.check_alive()
        if time.perf_counter() - t0 > limit:
            raise BenchError(f"worker did not fold the backlog within {limit} s")
        await asyncio.sleep(1)
    return time.perf_counter() - t0


async def latencies(api: Api, body: bytes, n: int) -> list[float]:
    for _ in range(3):
        await api.post_raw(body)
    out = []
    for _ in range(n):
        t = time.perf_counter()
        await api.post_raw(body)
        out.append(time.perf_counter() - t)
    return out


async def settle(conn: asyncpg.Connection, limit: float) -> tuple[float, int]:
    """Wait up to `limit` s for autovacuum to finish: reads taken while it rewrites the big
    tables measure the vacuum, not the history. (seconds waited, workers still running)"""
    t0 = time.perf_counter()
    while True:
        busy = int(await conn.fetchval(AUTOVACUUMS))
        if not busy or time.perf_counter() - t0 >= limit:
            return time.perf_counter() - t0, busy
        await asyncio.sleep(1)


async def blocks(conn: asyncpg.Connection) -> dict[str, tuple[int, int]]:
    return {r["name"]: (r["read"], r["hit"]) for r in await conn.fetch(BLOCKS)}


def blocks_per_event(
    before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]], events: int
) -> dict[str, dict[str, float]]:
    """Per table, the blocks read from outside shared_buffers and found in them per event
    over a slice (ingest and fold), the six most read first."""
    out = {}
    for name, (read, hit) in after.items():
        r0, h0 = before.get(name, (0, 0))
        out[name] = {
            "read": round((read - r0) / max(events, 1), 3),
            "hit": round((hit - h0) / max(events, 1), 2),
        }
    top = sorted(out.items(), key=lambda kv: -kv[1]["read"])[:6]
    return dict(top)


def cpu_ticks() -> list[int]:
    """The machine's CPU ticks (/proc/stat): user, nice, system, idle, iowait, irq,
    softirq, steal."""
    with open("/proc/stat") as f:
        return [int(x) for x in f.readline().split()[1:9]]


def cpu_shares(t0: list[int], t1: list[int]) -> dict[str, float]:
    d = [b - a for a, b in zip(t0, t1, strict=True)]
    total = max(sum(d), 1)
    user, nice, system, idle, iowait, irq, softirq, steal = d
    return {
        "user": round((user + nice) / total, 3),
        "system": round((system + irq + softirq) / total, 3),
        "iowait": round(iowait / total, 3),
        "steal": round(steal / total, 3),
        "idle": round(idle / total, 3),
    }


async def backdate_partitions(conn: asyncpg.Connection) -> int:
    """Record each week's partition as made when production's housekeeping would have made
    it (AHEAD of its week) instead of during this run: retention keeps a partition made
    after its horizon (a week made on demand today for an old test clock), so without this
    nothing loaded in one run could ever be dropped."""
    rows = await conn.fetch(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'meter_events'::regclass"
    )
    for r in rows:
        start = partitions.start_of(r["relname"])
        if start is not None:
            made = (start - AHEAD).isoformat()
            await conn.execute(f"COMMENT ON TABLE {r['relname']} IS 'created {made}'")
    return len(rows)


class Soak:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.dep = Deployment(args.pg, args.api_workers, args.workers, args.pool_max)
        self.deadline = time.monotonic() + args.max_seconds
        self.result: dict[str, Any] = {
            "events_total": 0,
            "duplicates_sent": 0,
            "slices": [],
            "db_bytes": None,
            "complete": False,
        }

    def clock_now(self) -> datetime:
        return self.frozen if self.clock else datetime.now(UTC)

    def disk_ok(self) -> bool:
        """False once the database's disk has less than --min-free-gb left: the run stops
        there (and says so) instead of filling the machine's disk."""
        free = shutil.disk_usage(self.data_dir).free
        if free < self.args.min_free_gb * 2**30:
            self.result["stopped_by"] = f"disk: {free / 2**30:.1f} GiB free"
            return False
        return True

    async def measure(self, api: Api, conn: asyncpg.Connection) -> dict[str, Any]:
        a = self.args
        end = self.now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        start = end - timedelta(days=a.days + 1)
        s_body = gql_body(
            SUMMARY, {"m": self.meter, "c": self.probe, "s": iso(start), "e": iso(end), "w": "DAY"}
        )
        rows = (await api.post_raw(s_body))["meterEventSummaries"]
        if not rows:
            raise BenchError("summary: no DAY rows for the probe customer")
        waited, vacuums = await settle(conn, a.settle_seconds)
        s_p50, _, s_p99 = ms_pcts(await latencies(api, s_body, a.queries))
        u_p50, _, u_p99 = ms_pcts(
            await latencies(api, gql_body(UPCOMING, {"s": self.sub}), a.queries)
        )
        return {
            "summary_p50_ms": s_p50,
            "summary_p99_ms": s_p99,
            "upcoming_p50_ms": u_p50,
            "upcoming_p99_ms": u_p99,
            "summary_rows": len(rows),
            "settle_seconds": round(waited, 1),
            "autovacuums_at_reads": vacuums,
            "db_bytes": int(await conn.fetchval("SELECT pg_database_size(current_database())")),
            "raw_events_in_db_estimate": int(await conn.fetchval(RAW_EVENTS) or 0),
            "largest_tables_bytes": dict(await conn.fetch(SIZES)),
        }

    async def ingest(self, api: Api, load: Load, events: int) -> tuple[int, int, float]:
        """Send `events` distinct events; (accepted, duplicates, seconds)."""
        a = self.args
        todo = [events]

        async def client() -> tuple[int, int]:
            acc = dup = 0
            while todo[0] > 0 and time.monotonic() < self.deadline and self.disk_ok():
                lines = min(a.per_request, todo[0])
                todo[0] -= lines
                progress = (self.result["events_total"] + events - todo[0]) / a.events
                data, n = load.body(lines, self.clock_now(), min(progress, 1.0))
                if n < lines:
                    todo[0] += lines - n  # resent lines are not new events
                for res in await api.bulk(data):
                    if res.get("status") == "ACCEPTED":
                        acc += 1
                    elif res.get("status") == "DUPLICATE":
                        dup += 1
                    else:
                        raise BenchError(f"bulk line not accepted: {str(res)[:300]}")
            return acc, dup

        t0 = time.perf_counter()
        got = await asyncio.gather(*(client() for _ in range(a.clients)))
        return sum(g[0] for g in got), sum(g[1] for g in got), time.perf_counter() - t0

    async def run(self) -> dict[str, Any]:
        a, dep = self.args, self.dep
        await dep.start()
        conn_limit = aiohttp.TCPConnector(limit=a.clients + 8, keepalive_timeout=2)
        try:
            async with aiohttp.ClientSession(
                connector=conn_limit, timeout=aiohttp.ClientTimeout(total=600)
            ) as session:
                api = Api(session, dep.base, dep.secret)
                conn = await asyncpg.connect(pg_dsn(dep.db_url))
                try:
                    await self._run(api, conn)
                finally:
                    await conn.close()
        finally:
            await dep.stop()
        return self.result

    async def _run(self, api: Api, conn: asyncpg.Connection) -> None:
        a, res = self.args, self.result
        self.data_dir = await conn.fetchval("SHOW data_directory")
        seed = await seed_prices(api)
        self.meter = seed.meter
        self.clock = None
        if a.clock_days_ago:
            # Every customer on one test clock frozen that far back: events are accepted
            # for 35 days before the CLOCK's time, so the load's weeks are old enough for
            # the retention phase to drop (retention counts on the wall clock).
            frozen = datetime.now(UTC).replace(microsecond=0) - timedelta(days=a.clock_days_ago)
            d = await api.gql(CREATE_CLOCK, {"i": {"frozenTime": iso(frozen), "name": "soak"}})
            self.clock = d["createTestClock"]["testClock"]["id"]
            self.frozen = frozen
        self.now = self.clock_now()
        # The upcoming invoice's subscription: backdated so its period holds the load's days.
        self.probe = await customer(api, "Soak Alpaca", self.clock, "pm_card_visa")
        start = self.now.replace(second=0, microsecond=0) - timedelta(days=a.days - 1)
        self.sub = (
            await subscribe(
                api,
                seed,
                self.probe,
                3,
                backdateStartDate=iso(start),
                billingCycleAnchor=iso(start + timedelta(days=a.days)),
            )
        )["id"]
        customers = [self.probe]
        sem = asyncio.Semaphore(16)

        async def one(i: int) -> str:
            async with sem:
                return await customer(api, f"soak {i}", self.clock)

        customers += await asyncio.gather(*(one(i) for i in range(a.customers - 1)))
        load = Load(seed.event_name, customers, a.days, a.seed)
        if a.retention_during_load:
            # Production's shape: retention drops the oldest weeks while ingest goes on, so
            # the raw events stored stay about a retention's worth, not the whole load.
            self.dep.stop_workers()
            self.dep.spawn_workers(a.workers, {"MB_EVENT_RETENTION_DAYS": str(a.retention_days)})
        print(f"[soak] {len(customers)} customers; loading {a.events:,} events", flush=True)
        while res["events_total"] < a.events:
            n = min(a.slice, a.events - res["events_total"])
            wal0, blk0, cpu0 = await conn.fetchrow(WAL), await blocks(conn), cpu_ticks()
            acc, dup, secs = await self.ingest(api, load, n)
            wal1, cpu1 = await conn.fetchrow(WAL), cpu_ticks()
            res["events_total"] += acc
            res["duplicates_sent"] += dup
            backlog = await pending(conn)
            fold = await wait_folded(conn, self.dep, a.max_seconds)
            blk1 = await blocks(conn)
            if a.retention_during_load:
                await backdate_partitions(conn)
            row = {
                "events": res["events_total"],
                "eps": round(acc / secs),
                "seconds": round(secs, 1),
                "pending_at_slice_end": backlog,
                "worker_catch_up_seconds": round(fold, 1),
                "loadavg": [round(x, 2) for x in os.getloadavg()],
                "wal_bytes_per_event": round((wal1[0] - wal0[0]) / max(acc, 1)),
                "wal_fpi_per_event": round((wal1[1] - wal0[1]) / max(acc, 1), 3),
                "checkpoints_requested": wal1[2] - wal0[2],
                "checkpoints_timed": wal1[3] - wal0[3],
                "cpu_during_ingest": cpu_shares(cpu0, cpu1),
                "blocks_per_event": blocks_per_event(blk0, blk1, acc),
                **await self.measure(api, conn),
            }
            res["slices"].append(row)
            res["db_bytes"] = row["db_bytes"]
            print(f"[soak] {json.dumps(row)}", flush=True)
            self.write()
            if acc < n:
                self.result.setdefault("stopped_by", "--max-seconds")
                print(f"[soak] stopped: {self.result['stopped_by']}", flush=True)
                return
        if a.retention_days:
            await self.retention(api, conn)
        res["complete"] = True

    async def retention(self, api: Api, conn: asyncpg.Connection) -> None:
        """Workers restarted with MB_EVENT_RETENTION_DAYS: wait until no raw event is older
        than the retention plus one partition's span (a week), then measure again."""
        a, dep = self.args, self.dep
        before = int(await conn.fetchval("SELECT pg_database_size(current_database())"))
        await backdate_partitions(conn)
        if not a.retention_during_load:
            dep.stop_workers()
            dep.spawn_workers(a.workers, {"MB_EVENT_RETENTION_DAYS": str(a.retention_days)})
        cutoff = datetime.now(UTC) - timedelta(days=a.retention_days + 7)
        oldest = await conn.fetchval("SELECT min(timestamp) FROM meter_events")
        if oldest >= cutoff and not a.retention_during_load:
            raise BenchError("no stored event is old enough to drop: use --clock-days-ago")
        t0 = time.perf_counter()
        while await conn.fetchval("SELECT min(timestamp) FROM meter_events") < cutoff:
            dep.check_alive()
            if time.perf_counter() - t0 > 3600 or time.monotonic() > self.deadline:
                raise BenchError("retention did not drop the oldest events within an hour")
            await asyncio.sleep(2)
        self.result["retention"] = {
            "retention_days": a.retention_days,
            "seconds_to_drop": round(time.perf_counter() - t0, 1),
            "db_bytes_before": before,
            **await self.measure(api, conn),
        }
        print(f"[soak] retention {json.dumps(self.result['retention'])}", flush=True)

    def write(self) -> None:
        if self.args.json:
            Path(self.args.json).write_text(json.dumps(self.result, indent=2) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--events", type=int, default=100_000_000)
    ap.add_argument("--slice", type=int, default=10_000_000)
    ap.add_argument("--customers", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--per-request", type=int, default=5000)
    ap.add_argument("--queries", type=int, default=50, help="per latency measure")
    ap.add_argument(
        "--settle-seconds",
        type=float,
        default=0,
        help="before the reads, wait up to this long for running autovacuums to finish",
    )
    ap.add_argument("--retention-days", type=int, default=0)
    ap.add_argument(
        "--retention-during-load",
        action="store_true",
        help="workers run with --retention-days from the start: old weeks drop mid-load",
    )
    ap.add_argument(
        "--clock-days-ago",
        type=int,
        default=0,
        help="customers on a test clock frozen this many days ago (for --retention-days)",
    )
    ap.add_argument("--max-seconds", type=float, default=6 * 3600)
    ap.add_argument("--min-free-gb", type=float, default=8)
    ap.add_argument("--seed", type=int, default=18)
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--api-workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--pool-max", type=int, default=20)
    args = ap.parse_args()
    if args.retention_during_load and not (args.retention_days and args.clock_days_ago):
        ap.error("--retention-during-load needs --retention-days and --clock-days-ago")
    soak = Soak(args)
    soak.result["machine"] = machine()
    soak.result["machine"]["postgresql"] = asyncio.run(server_settings(args.pg))
    soak.result["command"] = "python bench/soak.py " + " ".join(sys.argv[1:])
    soak.result["date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    t0 = time.perf_counter()
    try:
        asyncio.run(soak.run())
    except (BenchError, OSError, asyncpg.PostgresError) as e:
        print(f"soak: FAILED: {e}", file=sys.stderr)
        soak.result["error"] = str(e)
        soak.write()
        return 1
    finally:
        soak.result["seconds"] = round(time.perf_counter() - t0, 1)
    slices = soak.result["slices"]
    if len(slices) >= 2:
        first, last = slices[0], slices[-1]
        soak.result["last_vs_first_eps"] = round(last["eps"] / first["eps"], 3)
        for k in ("summary_p50_ms", "upcoming_p50_ms"):
            soak.result[f"last_vs_first_{k}"] = round(last[k] / first[k], 3)
    soak.write()
    print(json.dumps({k: v for k, v in soak.result.items() if k != "slices"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
