"""Several nodes on real components (issue 18, item 4): 2 API nodes and 2 worker nodes,
each in its own network namespace, on PostgreSQL and Redis in a fifth, all on a private
subnet of the harness's own (10.77.0.0/24 by default; the load runs in the root namespace,
which holds the bridge's first address). Not part of CI: it needs root (`ip netns`).

    sudo .venv/bin/python bench/multinode.py [--events 100000] [--subscriptions 1000]
        [--phases clean,kill] [--kill-worker billing|load] [--json FILE]
    sudo .venv/bin/python bench/multinode.py --cleanup   # what a killed run left

Each phase, on its own account: 1,000 customers on 10 test clocks at 2026-01-01, each
with a subscription (500 cents a month licensed + 1 cent per unit metered); the clocks go to
Jan 31 12:00; 100,000 events with identifiers (bulk NDJSON and GraphQL batches over both API
nodes, 5 % replayed on the other node, every 25th request sent to both at once); once the
workers folded them, the clocks go past Feb 1 + the 1 h grace and both workers bill. Then
the checks (bench/multinode_plan.py), exact: per customer the events stored, the minute and
hour rollups equal what was sent, each identifier once; one invoice per subscription and
reason, PAID, the cycle's quantity and total from the sent usage; one domain event per
change. The `kill` phase SIGKILLs api1 at 40 % of the load while one of its bulk answers is
midway (clients send every failed request again to api2, same identifiers) and wrk1 once
billing has written its first invoices (or with --kill-worker load, together with api1).
Progress goes to stderr; the result is one JSON object on stdout (rates, CPU seconds per
node, what was killed when, the problems found); exits 1 on any problem. The README's
"Scaling" section has the measured figures."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg  # noqa: E402
import httpx  # noqa: E402

from bench.multinode_load import (  # noqa: E402
    Api,
    Load,
    advance_clocks,
    bodies,
    clocks_ready,
    make_setup,
)
from bench.multinode_net import API_PORT, DataNode, Net, Node, ns_cpu_seconds, remove_run, sh  # noqa: E402
from bench.multinode_plan import (  # noqa: E402
    BILLED_AT,
    LOADED_AT,
    InvoiceRow,
    event_counts,
    event_problems,
    invoice_problems,
    make_plan,
    tally_problems,
    usage_problems,
)

VENV_BIN = Path(sys.executable).parent
WAIT_S = 600  # any one wait (clocks, aggregation, billing) fails the run after this


def note(text: str) -> None:
    """Progress on stderr (stdout is the JSON result)."""
    print(f"{time.strftime('%H:%M:%S')} multinode: {text}", file=sys.stderr, flush=True)


def wait(check: Any, what: str, timeout: float = WAIT_S, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if out := check():
                return out
        except Exception:  # noqa: BLE001 - not up yet
            pass
        time.sleep(every)
    raise RuntimeError(f"timed out after {timeout} s waiting for {what}")


async def await_until(check: Any, what: str, every: float = 0.1) -> Any:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if out := await check():
            return out
        await asyncio.sleep(every)
    raise RuntimeError(f"timed out after {WAIT_S} s waiting for {what}")


class Cluster:
    def __init__(self, args: argparse.Namespace, run_id: str, logs: Path) -> None:
        self.net = Net(run_id, ipaddress.IPv4Network(args.subnet))
        self.data: DataNode | None = None
        self.nodes: dict[str, Node] = {}
        self.logs, self.args = logs, args

    def start(self) -> None:
        self.net.create()
        self.data = DataNode(self.net, self.args.fsync)
        self.data.start()
        env = {k: v for k, v in os.environ.items() if not k.startswith("MB_")}
        env.update(
            MB_DATABASE_URL=self.data.database_url,
            MB_REDIS_URL=self.data.redis_url,
            MB_SECRET_KEY=secrets.token_hex(32),
            MB_LOG_LEVEL="WARNING",
            MB_GRAPHIQL="false",
        )
        self.env = env
        wait(self.data.redis_answers, "redis-server in the data node", 30)
        migrate = [str(VENV_BIN / "meterbill"), "migrate"]
        subprocess.run(migrate, env=env, check=True, capture_output=True, timeout=300)
        mb = str(VENV_BIN / "meterbill")
        for role in ("api1", "api2"):
            addr = self.net.addresses[role]
            cmd = [mb, "serve", "--host", addr, "--port", str(API_PORT)]
            self.nodes[role] = Node(self.net, role, cmd, env, self.logs)
        for role in ("wrk1", "wrk2"):
            self.nodes[role] = Node(self.net, role, [mb, "worker"], env, self.logs)
        self.ensure_up()

    def ensure_up(self) -> None:
        """Every node running (a phase that killed some leaves them down)."""
        for node in self.nodes.values():
            if not node.alive():
                node.start()
        for role in ("api1", "api2"):
            wait(lambda r=role: httpx.get(self.base(r) + "/healthz").status_code == 200,
                 f"{role} /healthz", 120)  # fmt: skip

    def cpu(self) -> dict[str, float]:
        return {role: ns_cpu_seconds(self.net.ns(role)) for role, _ in self.net.roles}

    def cpu_since(self, before: dict[str, float]) -> dict[str, float | None]:
        """CPU seconds per node since `before`; None for a node killed meanwhile (what it
        used before its kill is gone with its /proc entry)."""
        now = self.cpu()
        return {r: round(now[r] - v, 1) if now[r] >= v else None for r, v in before.items()}

    def base(self, role: str) -> str:
        return f"http://{self.net.addresses[role]}:{API_PORT}"

    @property
    def pg_dsn(self) -> str:
        assert self.data is not None
        return self.data.database_url.replace("postgres://", "postgresql://", 1)

    def stop(self) -> None:
        for node in self.nodes.values():
            node.stop()
        if self.data is not None:
            self.data.stop()
        self.net.destroy()


async def _sample_active(conn: asyncpg.Connection, by: Counter[str], stop: asyncio.Event) -> None:
    """Every 20 ms: which node's backends are busy (client address = the node's namespace)."""
    while not stop.is_set():
        rows = await conn.fetch(
            "SELECT client_addr::text AS a FROM pg_stat_activity WHERE state = 'active' "
            "AND pid <> pg_backend_pid() AND client_addr IS NOT NULL"
        )
        for r in rows:
            by[r["a"].split("/")[0]] += 1
        await asyncio.sleep(0.02)


async def run_phase(c: Cluster, phase: str, args: argparse.Namespace) -> dict[str, Any]:
    killing = phase == "kill"
    out: dict[str, Any] = {"phase": phase, "loadavg_start": os.getloadavg()}
    made = subprocess.run(
        [str(VENV_BIN / "meterbill"), "accounts", "create", "--name", f"multinode {phase}"],
        env=c.env, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    account = json.loads(made.stdout.decode().strip().splitlines()[-1])
    api = Api([c.base("api1"), c.base("api2")], account["secret_key"])
    plan = make_plan(
        events=args.events, subscriptions=args.subscriptions, clocks=args.clocks,
        seed=args.seed, tag=f"{c.net.run_id}-{phase}",
    )  # fmt: skip
    conn = await asyncpg.connect(c.pg_dsn)
    address_role = {a: r for r, a in c.net.addresses.items()}
    try:
        t0 = time.perf_counter()
        note(f"{phase}: {plan.subscriptions} customers and subscriptions on {plan.clocks} clocks")
        setup = await make_setup(api, plan)
        await advance_clocks(api, setup.clocks, LOADED_AT)
        await await_until(
            lambda: _all_ready(api, setup.clocks), "clocks READY at Jan 31 12:00", 0.2
        )
        out["setup_s"] = round(time.perf_counter() - t0, 1)

        encoded = bodies(plan, setup)
        load = Load([c.base("api1"), c.base("api2")], setup.usage_secret, args.concurrency)
        unique_total = sum(len(r.events) for r in plan.requests)
        killed: dict[str, Any] = {}

        async def on_progress(sent: int) -> None:
            if killing and "api1" not in killed and sent >= args.kill_at * unique_total:
                killed["api1"] = {}
                # Wait (at most 3 s) for a bulk answer on api1 to be midway: its first
                # chunk committed and answered, the rest not yet. The cut then loses answers
                # of stored events, and the retry must see them as DUPLICATE.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(load.midway[0].wait(), 3)
                cut = {"requests_cut": load.in_flight[0], "answers_midway": load.mid_answer[0]}
                c.nodes["api1"].kill()
                killed["api1"] = {"after_event_sends": sent, **cut}
                if args.kill_worker == "load":
                    c.nodes["wrk1"].kill()
                    killed["wrk1"] = {"after_event_sends": sent}

        busy: Counter[str] = Counter()
        stop = asyncio.Event()
        sconn = await asyncpg.connect(c.pg_dsn)
        sampler = asyncio.create_task(_sample_active(sconn, busy, stop))
        cpu0, client0 = c.cpu(), time.process_time()
        note(f"{phase}: {plan.sends} event sends over both API nodes")
        res = await load.run(plan, encoded, on_progress)
        loaded = time.perf_counter()
        cpu_load = c.cpu_since(cpu0)
        cpu_load["client"] = round(time.process_time() - client0, 1)
        await load.close()
        await await_until(lambda: _none_pending(conn), "the workers to fold every event", 0.05)
        out["load"] = {
            "unique_events": len(plan.events),
            "event_sends": plan.sends,
            "requests": len(plan.requests),
            "seconds": round(res.seconds, 2),
            "sends_per_s": round(plan.sends / res.seconds),
            "unique_events_per_s": round(len(plan.events) / res.seconds),
            "answered_by_node": {"api1": res.answered_by[0], "api2": res.answered_by[1]},
            "retried_requests": res.retried_requests,
            "failed_attempts": res.tally.failed_attempts,
            "accepted": res.tally.count("ACCEPTED"),
            "duplicate": res.tally.count("DUPLICATE"),
            # Stored, but the ACCEPTED answer was cut by a kill (the retry said DUPLICATE).
            "accepted_answers_lost": len(plan.events) - res.tally.count("ACCEPTED"),
            "folded_all_s_after_last_answer": round(time.perf_counter() - loaded, 2),
            # Retried sends answered DUPLICATE beyond the plan's replays and twins: events a
            # killed node stored (and may have answered in part) before the retry.
            "retry_duplicates": res.tally.count("DUPLICATE") - (plan.sends - len(plan.events)),
            "pg_active_samples": _by_role(busy, address_role),
            "cpu_s": cpu_load,
        }
        busy.clear()

        cpu1 = c.cpu()
        t1 = time.perf_counter()
        note(f"{phase}: the clocks past the month end, both workers billing")
        await advance_clocks(api, setup.clocks, BILLED_AT)
        if killing and args.kill_worker == "billing":

            async def first_invoices() -> int:
                return int(
                    await conn.fetchval(
                        "SELECT count(*) FROM invoices WHERE account_id = $1 "
                        "AND billing_reason = 'SUBSCRIPTION_CYCLE'",
                        account["account_id"],
                    )
                )

            n = await await_until(first_invoices, "the first cycle invoice", 0.01)
            c.nodes["wrk1"].kill()
            killed["wrk1"] = {
                "after_cycle_invoices": n,
                "s_after_advance": round(time.perf_counter() - t1, 2),
            }
        await await_until(
            lambda: _billed(api, setup.clocks, conn, account["account_id"], plan.subscriptions),
            "every clock READY and every cycle invoice PAID",
            0.1,
        )
        out["billing"] = {
            "subscriptions": plan.subscriptions,
            "clocks": plan.clocks,
            "seconds": round(time.perf_counter() - t1, 2),
            "pg_active_samples": _by_role(busy, address_role),
            "cpu_s": c.cpu_since(cpu1),
        }
        stop.set()
        await sampler
        await sconn.close()
        if killed:
            out["killed"] = killed
            out["alive_after"] = [r for r, n in c.nodes.items() if n.alive()]
        note(f"{phase}: checks")
        out["problems"] = await checks(conn, account["account_id"], plan, setup, res, killing)
        out["loadavg_end"] = os.getloadavg()
    finally:
        await conn.close()
        await api.close()
    return out


def _by_role(busy: Counter[str], address_role: dict[str, str]) -> dict[str, int]:
    return {address_role.get(a, a): n for a, n in sorted(busy.items())}


async def _all_ready(api: Api, clocks: list[str]) -> bool:
    return await clocks_ready(api, clocks) == {"READY": len(clocks)}


async def _none_pending(conn: asyncpg.Connection) -> bool:
    return int(await conn.fetchval("SELECT count(*) FROM meter_events_pending")) == 0


async def _billed(api: Api, clocks: list[str], conn: asyncpg.Connection, account: str,
                  n: int) -> bool:  # fmt: skip
    paid = await conn.fetchval(
        "SELECT count(*) FROM invoices WHERE account_id = $1 "
        "AND billing_reason = 'SUBSCRIPTION_CYCLE' AND status = 'PAID'",
        account,
    )
    return int(paid) >= n and await _all_ready(api, clocks)


async def checks(
    conn: asyncpg.Connection, account: str, plan: Any, setup: Any, res: Any, killing: bool
) -> list[str]:
    """Every problem found; [] when the phase came out exact."""
    problems = tally_problems(plan, res.tally, clean=not killing)
    expected = {setup.customers[i]: v for i, v in plan.expected_usage().items()}

    async def per_customer(sql: str) -> dict[str, tuple[int, Decimal]]:
        rows = await conn.fetch(sql, account)
        return {r[0]: (int(r[1]), Decimal(r[2])) for r in rows}

    stored = await per_customer(
        "SELECT customer_id, count(*), sum(value) FROM meter_events "
        "WHERE account_id = $1 AND status = 'ACCEPTED' GROUP BY customer_id"
    )
    folded = {
        t: await per_customer(
            f"SELECT customer_id, sum(count), sum(sum) FROM {t} WHERE account_id = $1 "
            "GROUP BY customer_id"
        )
        for t in ("usage_rollups", "usage_rollups_hourly")
    }
    problems += usage_problems(expected, stored, folded)
    rows = await conn.fetch(
        "SELECT i.id, i.subscription_id, i.billing_reason, i.period_start, i.status, i.total, "
        "coalesce(sum(l.quantity::numeric) FILTER (WHERE l.usage_type = 'METERED'), 0) AS q "
        "FROM invoices i LEFT JOIN invoice_lines l ON l.invoice_id = i.id "
        "WHERE i.account_id = $1 GROUP BY i.id",
        account,
    )
    invoices = [
        InvoiceRow(r[1], r[2], r[3], r[4], int(r[5]), Decimal(r[6])) for r in rows
    ]  # fmt: skip
    usage = plan.expected_usage()
    by_sub = {setup.subscriptions[i]: usage.get(i, (0, 0))[1] for i in range(plan.subscriptions)}
    problems += invoice_problems(by_sub, invoices)
    events = event_counts(
        (r[0], r[1])
        for r in await conn.fetch(
            "SELECT type, object_id FROM domain_events WHERE account_id = $1", account
        )
    )
    problems += event_problems(
        events, set(setup.customers), set(setup.subscriptions), {str(r[0]) for r in rows}
    )
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--subscriptions", type=int, default=1000)
    ap.add_argument("--clocks", type=int, default=10)
    ap.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    ap.add_argument("--phases", default="clean,kill")
    ap.add_argument("--kill-at", type=float, default=0.4, help="share of the load sent")
    ap.add_argument("--kill-worker", choices=("billing", "load"), default="billing")
    ap.add_argument("--subnet", default="10.77.0.0/24")
    ap.add_argument("--fsync", action="store_true", help="PostgreSQL with fsync on")
    ap.add_argument("--seed", type=int, default=18)
    ap.add_argument("--json", help="also write the result here")
    ap.add_argument("--cleanup", action="store_true", help="remove what earlier runs left")
    ap.add_argument(
        "--keep-logs", action="store_true", help="keep the nodes' logs (kept on failure)"
    )
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/multinode.py needs root (ip netns, veth, a bridge)", file=sys.stderr)
        return 2
    if args.cleanup:
        print(json.dumps({"removed": remove_run()}))
        return 0
    for tool in ("ip", "runuser", "redis-server"):
        if not shutil.which(tool):
            print(f"bench/multinode.py needs {tool}", file=sys.stderr)
            return 2
    run_id = secrets.token_hex(2)
    logs = Path(tempfile.mkdtemp(prefix=f"multinode-logs-{run_id}-"))

    def stop_on_signal(signum: int, _frame: Any) -> None:
        # Whatever the main code is doing: SIGKILL everything in the run's namespaces and
        # delete them now, then unwind through the finally below (which finds little left).
        note(f"signal {signum}: removing run {run_id}")
        remove_run(run_id)
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop_on_signal)
    signal.signal(signal.SIGINT, stop_on_signal)
    cluster = Cluster(args, run_id, logs)
    result: dict[str, Any] = {"run_id": run_id, "cores": os.cpu_count(), "logs": str(logs)}
    result["args"] = {
        k: v for k, v in vars(args).items() if k not in ("json", "cleanup", "keep_logs")
    }
    try:
        t0 = time.perf_counter()
        note(f"run {run_id}: namespaces, PostgreSQL, Redis, 2 API and 2 worker nodes")
        cluster.start()
        result["start_s"] = round(time.perf_counter() - t0, 1)
        result["addresses"] = cluster.net.addresses
        result["phases"] = []
        for phase in args.phases.split(","):
            cluster.ensure_up()
            note(f"phase {phase}")
            result["phases"].append(asyncio.run(run_phase(cluster, phase, args)))
    finally:
        note("stopping the nodes, removing the namespaces")
        cluster.stop()
        if "phases" in result:
            result["ip_netns_left"] = sh("ip", "netns", "list").stdout.count(f"-{run_id}-")
    result["errors_logged"] = {
        f.stem: sum('"level": "ERROR"' in line for line in f.open(errors="replace"))
        for f in sorted(logs.glob("*.log"))
    }
    ok = all(not p["problems"] for p in result.get("phases", [])) and bool(result.get("phases"))
    result["ok"] = ok
    if ok and not args.keep_logs:
        shutil.rmtree(logs, ignore_errors=True)
        result["logs"] = None
    text = json.dumps(result, indent=2, default=str)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
