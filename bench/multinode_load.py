"""The client side of bench/multinode.py: the catalog, clocks, customers and subscriptions
made over the API of both nodes, and the load itself. A request that gets no complete
answer (the node died, the connection broke, a 5xx) is sent again, same body and so the same
identifiers, to the other node: what a client behind a load balancer does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import orjson

from bench.multinode_plan import (
    EVENT_NAME,
    LICENSE_AMOUNT,
    START,
    UNIT_AMOUNT,
    Plan,
    Request,
    Tally,
)

ALIASES = 25  # mutations per document (the API allows 30 aliases)
BATCH = """mutation($i: [MeterEventInput!]!) { recordMeterEvents(input: $i) {
  results { identifier status } userErrors { code message } } }"""
ATTEMPTS = 30


class Api:
    """GraphQL on the API nodes with one key; `node` picks which."""

    def __init__(self, bases: list[str], secret: str) -> None:
        self.bases = bases
        self.clients = [
            httpx.AsyncClient(
                base_url=b, timeout=120, headers={"Authorization": f"Bearer {secret}"}
            )
            for b in bases
        ]

    async def gql(self, query: str, variables: dict[str, Any] | None = None, node: int = 0) -> Any:
        body = {"query": query, "variables": variables or {}}
        for attempt in range(ATTEMPTS):
            client = self.clients[(node + attempt) % len(self.clients)]
            try:
                r = await client.post("/graphql", json=body)
            except httpx.TransportError:
                await asyncio.sleep(0.2)
                continue
            if r.status_code == 429:
                await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
                continue
            out = r.json()
            if r.status_code != 200 or out.get("errors"):
                raise RuntimeError(f"{r.status_code}: {r.text[:500]}")
            for payload in out["data"].values():
                if isinstance(payload, dict) and payload.get("userErrors"):
                    raise RuntimeError(f"userErrors: {payload['userErrors']}")
            return out["data"]
        raise RuntimeError(f"no answer after {ATTEMPTS} attempts")

    async def close(self) -> None:
        for c in self.clients:
            await c.aclose()


@dataclass
class Setup:
    meter: str
    usage_price: str
    license_price: str
    clocks: list[str]
    customers: list[str]  # by plan index
    subscriptions: list[str]  # by plan index
    usage_secret: str


async def _aliased(api: Api, docs: list[str], parallel: int = 4) -> list[dict[str, Any]]:
    """Run documents over both nodes, `parallel` in flight; answers in order."""
    sem = asyncio.Semaphore(parallel)

    async def one(k: int, doc: str) -> dict[str, Any]:
        async with sem:
            return dict(await api.gql(doc, node=k % 2))

    return list(await asyncio.gather(*(one(k, d) for k, d in enumerate(docs))))


async def make_setup(api: Api, plan: Plan) -> Setup:
    made = await api.gql(
        """mutation($e: String!) {
          createMeter(input: {displayName: "Tokens", eventName: $e, aggregation: SUM}) {
            meter { id } userErrors { code } }
          createProduct(input: {name: "Tokens"}) { product { id } } }""",
        {"e": EVENT_NAME},
    )
    meter = made["createMeter"]["meter"]["id"]
    prod = made["createProduct"]["product"]["id"]
    usage = await api.gql(
        """mutation($p: ID!, $m: ID!, $a: BigInt!) { createPrice(input: {productId: $p,
        currency: "usd", unitAmount: $a, recurring: {interval: MONTH, usageType: METERED,
        meterId: $m}}) { price { id } userErrors { field code message } } }""",
        {"p": prod, "m": meter, "a": UNIT_AMOUNT},
    )
    lic = await api.gql(
        """mutation($p: ID!, $a: BigInt!) { createPrice(input: {productId: $p, currency: "usd",
        unitAmount: $a, recurring: {interval: MONTH}}) { price { id } userErrors { code } } }""",
        {"p": prod, "a": LICENSE_AMOUNT},
    )
    key = await api.gql(
        """mutation { createApiKey(input: {name: "load", scopes: [USAGE_WRITE]}) {
        secret userErrors { code } } }"""
    )
    usage_price = usage["createPrice"]["price"]["id"]
    license_price = lic["createPrice"]["price"]["id"]
    clocks = []
    for c in range(plan.clocks):
        out = await api.gql(
            """mutation($t: DateTime!, $n: String!) { createTestClock(input: {frozenTime: $t,
            name: $n}) { testClock { id } userErrors { code } } }""",
            {"t": START.isoformat(), "n": f"multinode-{c}"},
        )
        clocks.append(out["createTestClock"]["testClock"]["id"])
    docs = []
    for lo in range(0, plan.subscriptions, ALIASES):
        parts = [
            f'c{i}: createCustomer(input: {{name: "mn {i}", paymentMethod: "pm_card_visa", '
            f'testClockId: "{clocks[plan.clock_of(i)]}"}}) '
            "{ customer { id } userErrors { code } }"
            for i in range(lo, min(lo + ALIASES, plan.subscriptions))
        ]  # fmt: skip
        docs.append("mutation { " + "\n".join(parts) + " }")
    customers = [
        v["customer"]["id"] for out in await _aliased(api, docs) for v in out.values()
    ]  # fmt: skip
    docs = []
    for lo in range(0, plan.subscriptions, ALIASES):
        parts = [
            f's{i}: createSubscription(input: {{customerId: "{customers[i]}", items: '
            f'[{{priceId: "{license_price}", quantity: 1}}, {{priceId: "{usage_price}"}}]}}) '
            "{ subscription { id status } userErrors { code message } }"
            for i in range(lo, min(lo + ALIASES, plan.subscriptions))
        ]  # fmt: skip
        docs.append("mutation { " + "\n".join(parts) + " }")
    subs = [v["subscription"] for out in await _aliased(api, docs) for v in out.values()]
    assert {s["status"] for s in subs} == {"ACTIVE"}, {s["status"] for s in subs}
    return Setup(
        meter, usage_price, license_price, clocks, customers, [s["id"] for s in subs],
        key["createApiKey"]["secret"],
    )  # fmt: skip


async def advance_clocks(api: Api, clocks: list[str], to: datetime) -> None:
    """Advance every clock (the mutations spread over both nodes); returns at once."""
    doc = """mutation($c: ID!, $t: DateTime!) { advanceTestClock(input: {testClockId: $c,
      frozenTime: $t}) { testClock { status } userErrors { code message } } }"""
    await asyncio.gather(
        *(api.gql(doc, {"c": c, "t": to.isoformat()}, node=k % 2) for k, c in enumerate(clocks))
    )


async def clocks_ready(api: Api, clocks: list[str]) -> dict[str, int]:
    parts = [f'k{k}: testClock(id: "{c}") {{ status }}' for k, c in enumerate(clocks)]
    out = await api.gql("{ " + " ".join(parts) + " }")
    statuses: dict[str, int] = {}
    for v in out.values():
        statuses[v["status"]] = statuses.get(v["status"], 0) + 1
    return statuses


# ---------------------------------------------------------------- the load


def bodies(plan: Plan, setup: Setup) -> list[tuple[str, bytes]]:
    """Each request's body, encoded once before the clock starts: (content type, bytes)."""
    out = []
    for r in plan.requests:
        events = [plan.events[i] for i in r.events]
        if r.kind == "bulk":
            lines = [
                orjson.dumps({"event_name": EVENT_NAME, "identifier": e.identifier,
                              "timestamp": e.timestamp.isoformat(),
                              "payload": {"customer_id": setup.customers[e.customer],
                                          "value": e.value}})
                for e in events
            ]  # fmt: skip
            out.append(("application/x-ndjson", b"\n".join(lines) + b"\n"))
        else:
            inputs = [
                {"eventName": EVENT_NAME, "identifier": e.identifier,
                 "timestamp": e.timestamp.isoformat(),
                 "payload": {"customer_id": setup.customers[e.customer], "value": e.value}}
                for e in events
            ]  # fmt: skip
            body = {"query": BATCH, "variables": {"i": inputs}}
            out.append(("application/json", orjson.dumps(body)))
    return out


class Incomplete(Exception):
    """The node answered only part of a request (or not at all)."""


@dataclass
class LoadResult:
    tally: Tally
    seconds: float
    answered_by: list[int] = field(default_factory=lambda: [0, 0])  # event answers per node
    retried_requests: int = 0


class Load:
    """Sends the plan's requests in order with `concurrency` in flight."""

    def __init__(self, bases: list[str], secret: str, concurrency: int) -> None:
        headers = {"Authorization": f"Bearer {secret}"}
        self.clients = [httpx.AsyncClient(base_url=b, timeout=120, headers=headers) for b in bases]
        self.concurrency = concurrency
        self.sent_events = 0  # sends answered or given up so far (for the kill trigger)
        self.in_flight = [0, 0]  # requests on each node now
        self.mid_answer = [0, 0]  # requests on each node answered in part so far
        self.midway = [asyncio.Event(), asyncio.Event()]  # set while mid_answer[node] > 0

    async def _once(
        self, node: int, kind: str, ctype: str, body: bytes, n: int, tally: Tally
    ) -> None:
        client = self.clients[node]
        path = "/v1/meter_events" if kind == "bulk" else "/graphql"
        self.in_flight[node] += 1
        try:
            await self._stream(client, path, kind, ctype, body, tally, n)
        finally:
            self.in_flight[node] -= 1

    async def _stream(
        self,
        client: httpx.AsyncClient,
        path: str,
        kind: str,
        ctype: str,
        body: bytes,
        tally: Tally,
        n: int,
    ) -> None:
        got = 0
        async with client.stream("POST", path, content=body,
                                 headers={"Content-Type": ctype}) as r:  # fmt: skip
            if r.status_code == 429:
                await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
                raise Incomplete("429")
            if r.status_code != 200:
                raise Incomplete(f"HTTP {r.status_code}")
            if kind == "bulk":
                node = self.clients.index(client)
                try:
                    async for line in r.aiter_lines():
                        if line.strip():
                            row = orjson.loads(line)
                            tally.add(row["identifier"], row["status"])
                            got += 1
                            if got == 1:
                                self.mid_answer[node] += 1
                                self.midway[node].set()
                finally:
                    if got:
                        self.mid_answer[node] -= 1
                        if not self.mid_answer[node]:
                            self.midway[node].clear()
            else:
                out = orjson.loads(await r.aread())
                data = (out.get("data") or {}).get("recordMeterEvents")
                if out.get("errors") or not data or data["userErrors"]:
                    raise Incomplete(str(out)[:300])
                for row in data["results"]:
                    tally.add(row["identifier"], row["status"])
                    got += 1
        if got != n:
            raise Incomplete(f"{got} of {n} answers")

    async def _send(
        self, req: Request, ctype: str, body: bytes, node: int, tally: Tally, res: LoadResult
    ) -> None:
        for attempt in range(ATTEMPTS):
            target = (node + attempt) % 2
            try:
                await self._once(target, req.kind, ctype, body, len(req.events), tally)
                res.answered_by[target] += len(req.events)
                break
            except (httpx.TransportError, Incomplete):
                tally.failed_attempts += 1
                if attempt == 0:
                    res.retried_requests += 1
                await asyncio.sleep(0.05 * attempt)
        else:
            raise RuntimeError(f"request of {len(req.events)} events: no answer anywhere")
        self.sent_events += len(req.events)

    async def run(
        self,
        plan: Plan,
        encoded: list[tuple[str, bytes]],
        on_progress: Callable[[int], Awaitable[None]] | None = None,
    ) -> LoadResult:
        tally = Tally()
        res = LoadResult(tally, 0.0)
        queue: asyncio.Queue[int] = asyncio.Queue()
        for k in range(len(plan.requests)):
            queue.put_nowait(k)

        async def sender() -> None:
            while not queue.empty():
                k = queue.get_nowait()
                req, (ctype, body) = plan.requests[k], encoded[k]
                sends = [self._send(req, ctype, body, req.node, tally, res)]
                if req.twin:
                    sends.append(self._send(req, ctype, body, 1 - req.node, tally, res))
                await asyncio.gather(*sends)
                if on_progress is not None:
                    await on_progress(self.sent_events)

        t0 = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(self.concurrency)))
        res.seconds = time.perf_counter() - t0
        return res

    async def close(self) -> None:
        for c in self.clients:
            await c.aclose()
