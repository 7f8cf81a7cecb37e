"""Redis SIGKILLed while four clients stream usage into real `meterbill serve` + `meterbill
worker` processes on PostgreSQL: every request still answers, no event is lost or counted
twice, everything is aggregated once Redis is back, and replays stay duplicates."""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from tests import services as svc
from tests.processes import VENV_BIN, Meterbill, OwnRedis, wait_for

STREAM_S, KILL_AT_S, DOWN_S, CLIENTS, MAX_LOOPS = 12.0, 3.0, 4.0, 4, 400
VALUES = ("1.25", "0.5", "3.75", "2", "0.01")
BATCH = """mutation($i: [MeterEventInput!]!) { recordMeterEvents(input: $i) {
  accepted duplicates rejected results { status } userErrors { code } } }"""
ONE = """mutation($i: MeterEventInput!) { recordMeterEvent(input: $i) {
  duplicate userErrors { code } } }"""
SUMMARY = """query($m: ID!, $c: ID!, $s: DateTime!, $e: DateTime!) {
  meterEventSummaries(meterId: $m, customerId: $c, startTime: $s, endTime: $e) {
    aggregatedValue } }"""
METER = """mutation { createMeter(input: {displayName: "Tokens", eventName: "tokens",
  aggregation: SUM}) { meter { id } } }"""
CUSTOMER = "mutation { createCustomer(input: {}) { customer { id } } }"


class Stream:
    """What the client threads sent and what meterbill answered."""

    def __init__(self, mb: Meterbill, secret: str, customer: str):
        self.mb, self.secret, self.customer = mb, secret, customer
        self.lock = threading.Lock()
        self.sent, self.accepted, self.total = 0, 0, Decimal(0)
        self.failures: list[str] = []
        self.batches: list[list[dict[str, Any]]] = []
        self.stamps: list[float] = []  # when each request was sent

    def client(self, k: int, stop_at: float) -> None:
        headers = {"Authorization": f"Bearer {self.secret}"}
        with httpx.Client(base_url=str(self.mb.http.base_url), timeout=15) as http:
            for i in range(MAX_LOOPS):
                if time.monotonic() >= stop_at:
                    return
                single = i % 5 == 4
                events: list[dict[str, Any]] = [
                    {"eventName": "tokens", "identifier": f"c{k}-{i}-{j}", "payload": {
                        "customer_id": self.customer, "value": VALUES[(i + j) % len(VALUES)]}}
                    for j in range(1 if single else 50)
                ]  # fmt: skip
                variables = {"i": events[0] if single else events}
                body = {"query": ONE if single else BATCH, "variables": variables}
                stamp, failure = time.monotonic(), ""
                try:
                    self._check(http.post("/graphql", json=body, headers=headers), single)
                except Exception as exc:  # noqa: BLE001 - recorded, asserted on below
                    failure = f"{type(exc).__name__}: {exc}"
                with self.lock:
                    self.sent += len(events)
                    self.stamps.append(stamp)
                    if failure:
                        self.failures.append(failure)
                        continue
                    self.accepted += len(events)
                    self.total += sum(Decimal(e["payload"]["value"]) for e in events)
                    if not single and len(self.batches) < 3:
                        self.batches.append(events)
                time.sleep(0.04)  # <= 100 requests/s in all: under the key's rate limit

    @staticmethod
    def _check(r: httpx.Response, single: bool) -> None:
        assert r.status_code == 200 and not r.json().get("errors"), f"{r.status_code} {r.text}"
        out = r.json()["data"]["recordMeterEvent" if single else "recordMeterEvents"]
        if single:
            assert out == {"duplicate": False, "userErrors": []}, out
        else:
            assert (out["duplicates"], out["rejected"], out["userErrors"]) == (0, 0, []), out
            assert {x["status"] for x in out["results"]} == {"ACCEPTED"}, out


class Workers:
    """`meterbill worker`, restarted whenever it exits as docker-compose's `restart:
    unless-stopped` would; the test asserts it never had to."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log, self.restarts, self.stopping = env, log, 0, threading.Event()
        self.proc = self._spawn()
        threading.Thread(target=self._supervise, daemon=True).start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        out, cmd = self.log.open("ab"), [str(VENV_BIN / "meterbill"), "worker"]
        return subprocess.Popen(cmd, env=self.env, stdout=out, stderr=out)

    def _supervise(self) -> None:
        while not self.stopping.wait(0.2):
            if self.proc.poll() is not None:
                self.restarts += 1
                self.proc = self._spawn()

    def close(self) -> None:
        self.stopping.set()
        time.sleep(0.3)  # the supervisor has seen the flag: it starts no other
        self.proc.terminate()  # arq lets running jobs finish first
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


async def event_rows(url: str) -> int:
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        return int(await conn.fetchval("SELECT count(*) FROM meter_events"))
    finally:
        await conn.close()


def test_redis_killed_mid_stream_loses_and_doubles_nothing(tmp_path: Path) -> None:
    server = svc.require_pg()
    svc.require_redis()  # the machine's Redis stays untouched: this test kills its own
    redis, workers = OwnRedis(tmp_path), None
    mb = Meterbill(tmp_path, {"MB_REDIS_URL": redis.url, "MB_LOG_LEVEL": "WARNING"})
    name, mb.env["MB_DATABASE_URL"] = svc.create_pg_database(server)
    try:
        redis.start()
        migrate = [str(VENV_BIN / "meterbill"), "migrate"]
        subprocess.run(migrate, env=mb.env, check=True, capture_output=True, timeout=60)
        mb.start()
        secret = mb.create_account()
        workers = Workers(mb.env, tmp_path / "worker.log")

        def data(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
            r = mb.gql(secret, query, variables)
            assert r.status_code == 200 and not r.json().get("errors"), r.text
            return dict(r.json()["data"])

        meter = data(METER)["createMeter"]["meter"]["id"]
        customer = data(CUSTOMER)["createCustomer"]["customer"]["id"]
        now, hour = datetime.now(UTC).replace(second=0, microsecond=0), timedelta(hours=1)
        span = {"m": meter, "c": customer, "s": str(now - hour), "e": str(now + hour)}

        def aggregated() -> Decimal:
            rows = data(SUMMARY, span)["meterEventSummaries"]
            return sum((Decimal(r["aggregatedValue"]) for r in rows), Decimal(0))

        def readyz() -> int:
            return mb.http.get("/readyz").status_code

        stream = Stream(mb, secret, customer)
        stop = time.monotonic() + STREAM_S
        threads = [threading.Thread(target=stream.client, args=(k, stop)) for k in range(CLIENTS)]
        for t in threads:
            t.start()
        time.sleep(KILL_AT_S)
        redis.close()  # SIGKILL: the queued jobs and the rate-limit buckets are gone with it
        killed = time.monotonic()
        wait_for(lambda: readyz() == 503, "/readyz 503 while Redis is down", 3)
        time.sleep(max(0.0, killed + DOWN_S - time.monotonic()))
        redis.start()  # the same port, empty
        back = time.monotonic()
        wait_for(lambda: readyz() == 200, "/readyz 200 once Redis is back", 30)
        for t in threads:
            t.join(60)  # each call times out after 15 s and the loop stops at `stop`
        ended = time.monotonic()
        during = sum(1 for s in stream.stamps if killed <= s < back)
        assert stream.failures == [], stream.failures[:5]
        assert during > 0 and stream.accepted == stream.sent > 0

        expected = stream.total
        wait_for(lambda: aggregated() == expected, f"summaries to total {expected}", 60, 0.25)
        done = time.monotonic()
        assert asyncio.run(event_rows(mb.env["MB_DATABASE_URL"])) == stream.accepted
        replays = [data(BATCH, {"i": b})["recordMeterEvents"] for b in stream.batches]
        counts = {(r["accepted"], r["duplicates"], r["rejected"]) for r in replays}
        assert len(replays) == 3 and counts == {(0, 50, 0)}, replays
        time.sleep(1)  # room for a wrongly enqueued re-aggregation to show up
        assert aggregated() == expected
        assert asyncio.run(event_rows(mb.env["MB_DATABASE_URL"])) == stream.accepted
        assert mb.alive(), "meterbill serve died"
        # The worker rides out the outage itself (the supervisor only counts exits).
        assert workers.restarts == 0, "meterbill worker exited when Redis went away"
        print(
            f"\nfault stream: {stream.sent} events in {len(stream.stamps)} calls, {stream.accepted}"
            f" accepted (total {expected}), {50 * len(replays)} replays DUPLICATE; {during} calls"
            f" in the {back - killed:.1f} s outage; aggregated {done - back:.1f} s after Redis came"
            f" back, {done - ended:.1f} s after the last call; worker restarts {workers.restarts}"
        )
    finally:
        if workers is not None:
            workers.close()
        mb.close()
        redis.close()
        svc.drop_pg_database(server, name)
