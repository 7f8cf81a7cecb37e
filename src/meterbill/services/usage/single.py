"""recordMeterEvent on PostgreSQL without the ORM on the hot path.

The general path (record.record_events) costs five round trips and most of a request's CPU
for one event: meter query, customer query, BEGIN, INSERT, COMMIT, each through Tortoise's
query building and the pool's acquire + reset. Here instead:

- Meters and customers seen by earlier calls are remembered per process (`Directory`), so
  validation needs no query. A remembered entry is only a guess: the INSERT itself checks,
  in the same statement, that the meter still has that id, account, event name and is
  ACTIVE, and that the customer still has that id, account, external id and no test clock.
  A row that fails the check is not inserted and the call takes the general path, which
  answers exactly as before (e.g. INACTIVE) and refreshes the entry. A meter's aggregation,
  payload keys and dimension keys never change after creation (services/catalog.py only
  updates display_name and status), so they need no check.
- Concurrent calls of one process share one INSERT (`Writer`): while a statement runs, new
  events queue; when it returns, the queued ones go in the next statement. Each statement
  is its own implicit transaction, so a caller's event is committed when its future
  resolves: durable before the response, as before. With no concurrency the statement
  carries one event and waits for nothing.

Customers on a test clock (their "now" is the clock's) always take the general path."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from meterbill.db import stores
from meterbill.db.stores.events import Outcome, Pending

__all__ = ["Directory", "Outcome", "Pending", "Writer", "directory", "writer_for"]
from meterbill.services.usage.resolve import Found, MeterInfo, Resolver

# Bounds the memory of a process that sees many accounts; clearing costs only queries.
MAX_ENTRIES = 20_000
# Events per statement; more wait for the next one.
MAX_PER_STATEMENT = 500


class Directory:
    """(account, event name) -> meter and (account, mapping type, key) -> customer, as a
    Resolver last read them. Only ACTIVE meters and customers without a test clock."""

    def __init__(self) -> None:
        self.meters: dict[tuple[str, str], MeterInfo] = {}
        self.customers: dict[tuple[str, str, str], Found] = {}

    def learn(self, resolver: Resolver) -> None:
        account_id = resolver.account_id
        if len(self.meters) + len(resolver.meters) > MAX_ENTRIES:
            self.meters.clear()
        if len(self.customers) + len(resolver.customers) > MAX_ENTRIES:
            self.customers.clear()
        for name, m in resolver.meters.items():
            key = (account_id, name)
            if m is not None and m.definition.active:
                self.meters[key] = m
            else:
                self.meters.pop(key, None)
        for (mapping, ref), c in resolver.customers.items():
            if c is not None and c[2].test_clock_id is None:
                self.customers[(account_id, mapping, ref)] = c

    def resolver(self, account_id: str, event_name: str, payload: Any) -> Resolver | None:
        """A Resolver that knows this event's meter and customer, if both are remembered."""
        meter = self.meters.get((account_id, event_name))
        key = Resolver.customer_key(meter, payload)
        if meter is None or key is None:
            return None
        customer = self.customers.get((account_id, meter.mapping, key))
        if customer is None:
            return None
        out = Resolver(account_id)
        out.meters[event_name] = meter
        out.customers[(meter.mapping, key)] = customer
        return out

    def forget(self, account_id: str, event_name: str, mapping: str, ref: str) -> None:
        self.meters.pop((account_id, event_name), None)
        self.customers.pop((account_id, mapping, ref), None)


directory = Directory()


async def insert_checked(conn: Any, items: Sequence[Pending]) -> list[Outcome]:
    return await stores.current().events.insert_guarded(conn, items)


class RetryAlone(Exception):
    """The shared statement failed: each of its callers retries on its own, so one bad row
    (or a deadlock) fails only its own request."""


class Writer:
    """Queues events of concurrent calls and inserts them one statement at a time."""

    def __init__(self, conn: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.conn = conn
        self.loop = loop
        self.queue: list[tuple[Pending, asyncio.Future[Outcome]]] = []
        self.task: asyncio.Task[None] | None = None

    async def write(self, item: Pending) -> Outcome:
        fut: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self.queue.append((item, fut))
        if self.task is None:
            self.task = asyncio.create_task(self._drain())
        try:
            return await fut
        except RetryAlone:
            return (await insert_checked(self.conn, [item]))[0]

    async def _drain(self) -> None:
        try:
            while self.queue:
                batch: list[tuple[Pending, asyncio.Future[Outcome]]] = []
                later: list[tuple[Pending, asyncio.Future[Outcome]]] = []
                seen: set[tuple[str, str]] = set()
                for entry in self.queue:
                    key = (entry[0].row.account_id, entry[0].row.identifier)
                    # A second event with the same identifier goes in the next statement,
                    # where the first one's row makes it a duplicate.
                    if key in seen or len(batch) >= MAX_PER_STATEMENT:
                        later.append(entry)
                    else:
                        seen.add(key)
                        batch.append(entry)
                self.queue = later
                try:
                    outcomes = await insert_checked(self.conn, [p for p, _ in batch])
                except Exception as exc:  # noqa: BLE001 - handed to the callers
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(RetryAlone() if len(batch) > 1 else exc)
                    continue
                for (_, fut), outcome in zip(batch, outcomes, strict=True):
                    if not fut.done():
                        fut.set_result(outcome)
        finally:
            self.task = None


_writers: dict[tuple[int, int], Writer] = {}


def writer_for(conn: Any) -> Writer:
    """One writer per event loop and connection pool (tests run several of each; ids of
    dead ones may be reused, hence the identity check)."""
    loop = asyncio.get_running_loop()
    key = (id(loop), id(conn))
    w = _writers.get(key)
    if w is None or w.loop is not loop or w.conn is not conn:
        if len(_writers) > 16:
            _writers.clear()
        w = _writers[key] = Writer(conn, loop)
    return w
