"""Raw event storage over time (issue 18): finding events by identifier, keeping the storage
ready for the timestamps ingest is about to write, and retention.

PostgreSQL: meter_events is partitioned by timestamp, one partition per UTC week
(db/partitions.py); identifiers are unique per account in meter_event_ids (keyed by a 16-byte
digest of account and identifier) for DEDUPE_WINDOW; retention drops whole partitions and
sweeps identifier rows past the window. SQLite: one table with its unique (account, identifier)
key, as before; retention deletes in bounded batches. Both keep rollups, unique-value rows
and invoices for ever, and never remove an event a worker has not folded yet."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise import connections
from tortoise.expressions import Subquery
from tortoise.transactions import in_transaction

from meterbill.billing.events import MAX_AGE
from meterbill.db import partitions
from meterbill.db.models import Customer, Meter, MeterEvent, MeterEventPending
from meterbill.db.usage_sql import (
    EventRow,
    Row,
    dedupe_insert_ctes,
    event_row,
    identifier_key,
    insert_events,
)

# Identifiers stay unique at least this long after they were received (contract: "Unique
# per account for at least 35 days"): a day more, so no boundary case sits on the edge.
DEDUPE_WINDOW = timedelta(days=36)
# Partitions made ahead of the wall clock by housekeeping, and kept behind it for late
# events (35 days, plus the week in progress).
AHEAD = timedelta(days=28)
BEHIND = MAX_AGE + timedelta(days=7)
# One retention step deletes at most this many rows per statement (SQLite's events) and
# spends at most BUDGET seconds (also PostgreSQL's identifier sweep): housekeeping runs every
# minute, so a step keeps no lock for long and the rest is the next step's.
BATCH = 5_000
BUDGET = 5.0
# Identifier rows past DEDUPE_WINDOW go in a sweep of meter_event_ids every SWEEP_EVERY,
# SWEEP_PAGES blocks (8 kB each) per DELETE.
SWEEP_EVERY = timedelta(hours=12)
SWEEP_PAGES = 4_096


INSERTED, DUPLICATE, STALE = "INSERTED", "DUPLICATE", "STALE"


@dataclass(frozen=True)
class Pending:
    """An event whose meter and customer were remembered, not read: insert_guarded checks
    them in the same statement or transaction."""

    row: EventRow
    external_id: str | None  # the customer's external id when the meter maps by it


@dataclass(frozen=True)
class Outcome:
    status: str  # INSERTED | DUPLICATE (identifier taken) | STALE (meter or customer changed)
    event_id: int | None = None


@dataclass(frozen=True)
class Kept:
    """What one housekeeping step did."""

    created: int = 0  # partitions made ahead
    dropped: int = 0  # partitions dropped (PostgreSQL)
    events_deleted: int = 0  # events deleted (SQLite)
    identifiers_deleted: int = 0  # identifier rows past DEDUPE_WINDOW (PostgreSQL)


class EventStore(ABC):
    @abstractmethod
    async def ensure(self, timestamps: Iterable[datetime], now: datetime) -> None:
        """Make sure events with these timestamps can be stored (before the transaction
        that stores them: making a partition takes its own)."""

    @abstractmethod
    async def insert(
        self, account_id: str, created_at: datetime, rows: Sequence[Row]
    ) -> set[str] | None:
        """Store the events of `rows` whose identifier is new, each with its pending row,
        committed when this returns; the identifiers inserted, or None for "the first row
        of each identifier" (the usual case, cheaper to answer). Of equal identifiers the
        first row is tried; an identifier already taken (earlier, or by a concurrent insert,
        which is waited for) is skipped."""

    @abstractmethod
    async def insert_guarded(self, conn: Any, items: Sequence[Pending]) -> list[Outcome]:
        """insert() for events whose meter and customer were remembered: each is stored only
        if its meter still has that id, account, event name and is ACTIVE, and its customer
        that id, account, external id and no test clock (else STALE). Identifiers must be
        distinct per account within one call; an outcome per item in order."""

    @abstractmethod
    async def find(
        self, conn: Any, account_id: str, identifiers: Sequence[str], lock: bool = False
    ) -> list[MeterEvent]:
        """The events of these identifiers (on PostgreSQL: received in the dedupe window);
        lock: FOR UPDATE, in the caller's transaction."""

    @abstractmethod
    async def housekeep(self, now: datetime, retention_days: int) -> Kept:
        """One bounded step: make partitions ahead, remove raw events older than the
        retention (by timestamp and by arrival), and identifiers past the dedupe window.
        Idempotent; safe with several workers at once."""


class PostgresEvents(EventStore):
    def __init__(self) -> None:
        # Weeks known to have a partition (this process made or saw them). Only weeks near
        # the wall clock are remembered: a far-away week (a test clock) may be dropped by
        # another worker's retention, so it is looked up every time.
        self._known: set[datetime] = set()

    async def ensure(self, timestamps: Iterable[datetime], now: datetime) -> None:
        weeks = {partitions.week_start(t) for t in timestamps}
        missing = weeks - self._known
        if not missing:
            return
        client = connections.get("default")
        have = await partitions.existing(client)
        want = missing - have
        if want:
            await partitions.create_weeks(client, want, now)
        floor = partitions.week_start(now - BEHIND)
        self._known.update(w for w in missing if w >= floor)

    async def insert(
        self, account_id: str, created_at: datetime, rows: Sequence[Row]
    ) -> set[str] | None:
        await self.ensure((row[6] for row in rows), created_at)
        _, meters, customers, idents, names, values, stamps, dims, uniques = zip(*rows, strict=True)
        client = connections.get("default")
        async with client.acquire_connection() as conn:
            # One statement, autocommit: committed when it returns. Arrays, not rows: asyncpg
            # encodes one array per column far faster than a parameter per value.
            got = await conn.fetchval(
                _INSERT_PG,
                account_id,
                created_at,
                meters,
                customers,
                idents,
                names,
                values,
                stamps,
                dims,
                len(set(idents)),
                uniques,
            )
        return None if got is None else set(got)

    async def insert_guarded(self, conn: Any, items: Sequence[Pending]) -> list[Outcome]:
        rows = [p.row for p in items]
        params = [
            [r.account_id for r in rows],
            [r.meter_id for r in rows],
            [r.event_name for r in rows],
            [r.customer_id for r in rows],
            [p.external_id for p in items],
            [r.identifier for r in rows],
            [r.value for r in rows],
            [r.timestamp for r in rows],
            [r.dimensions_key for r in rows],
            [r.created_at for r in rows],
            [r.unique_value for r in rows],
        ]
        found = {
            int(r["k"]): r["id"] for r in await conn.execute_query_dict(_INSERT_GUARDED_PG, params)
        }
        return [_outcome(found, k) for k in range(1, len(items) + 1)]

    async def find(
        self, conn: Any, account_id: str, identifiers: Sequence[str], lock: bool = False
    ) -> list[MeterEvent]:
        rows = await conn.execute_query_dict(
            'SELECT event_id, "timestamp" FROM meter_event_ids WHERE key = ANY(ARRAY('
            f"SELECT {identifier_key('$1::text', 'i')} FROM unnest($2::text[]) i))",
            [account_id, list(identifiers)],
        )
        if not rows:
            return []
        # The timestamps prune the scan to the partitions holding these events; the
        # identifiers make the answer exact whatever the keys (ARCHITECTURE.md).
        qs = MeterEvent.filter(
            account_id=account_id,
            id__in=[r["event_id"] for r in rows],
            timestamp__in=list({r["timestamp"] for r in rows}),
            identifier__in=list(identifiers),
        ).using_db(conn)
        if lock:
            qs = qs.select_for_update()
        return list(await qs)

    async def housekeep(self, now: datetime, retention_days: int) -> Kept:
        client = connections.get("default")
        ahead = partitions.weeks_between(now - BEHIND, now + AHEAD)
        have = await partitions.existing(client)
        created = await partitions.create_weeks(client, set(ahead) - have, now)
        self._known.update(ahead)
        horizon = now - timedelta(days=retention_days)
        old = await partitions.droppable(client, horizon)
        old += await partitions.leftovers(client, horizon)
        dropped = await partitions.drop_weeks(client, old)
        self._known.difference_update(old)
        gone = await _sweep_identifiers(now)
        return Kept(created=len(created), dropped=dropped, identifiers_deleted=gone)


class SqliteEvents(EventStore):
    async def ensure(self, timestamps: Iterable[datetime], now: datetime) -> None:
        return None  # one table for every timestamp

    async def insert(
        self, account_id: str, created_at: datetime, rows: Sequence[Row]
    ) -> set[str] | None:
        events = [event_row(account_id, created_at, r) for r in rows]
        async with in_transaction() as tx:
            return set(await insert_events(tx, events))

    async def insert_guarded(self, conn: Any, items: Sequence[Pending]) -> list[Outcome]:
        rows = [p.row for p in items]
        async with in_transaction() as tx:
            meters = set(
                await Meter.filter(id__in=list({r.meter_id for r in rows}), status="ACTIVE")
                .using_db(tx)
                .values_list("id", "account_id", "event_name")
            )
            customers = {
                c["id"]: c
                for c in await Customer.filter(
                    id__in=list({r.customer_id for r in rows}), test_clock_id__isnull=True
                )
                .using_db(tx)
                .values("id", "account_id", "external_id")
            }
            ok: list[int] = []
            for k, p in enumerate(items, start=1):
                r, c = p.row, customers.get(p.row.customer_id)
                if (
                    (r.meter_id, r.account_id, r.event_name) in meters
                    and c is not None
                    and c["account_id"] == r.account_id
                    and (p.external_id is None or c["external_id"] == p.external_id)
                ):
                    ok.append(k)
            inserted = await insert_events(tx, [items[k - 1].row for k in ok])
        found: dict[int, int | None] = {k: inserted.get(items[k - 1].row.identifier) for k in ok}
        return [_outcome(found, k) for k in range(1, len(items) + 1)]

    async def find(
        self, conn: Any, account_id: str, identifiers: Sequence[str], lock: bool = False
    ) -> list[MeterEvent]:
        # SQLite's single writer needs no row lock; the unique key finds each.
        qs = MeterEvent.filter(account_id=account_id, identifier__in=list(identifiers))
        return list(await qs.using_db(conn))

    async def housekeep(self, now: datetime, retention_days: int) -> Kept:
        horizon = now - timedelta(days=retention_days)
        deleted = 0
        started = time.monotonic()
        while time.monotonic() - started < BUDGET:
            async with in_transaction() as conn:
                ids = (
                    await MeterEvent.filter(timestamp__lt=horizon, created_at__lt=horizon)
                    .exclude(id__in=Subquery(MeterEventPending.all().values("event_id")))
                    .limit(BATCH)
                    .using_db(conn)
                    .values_list("id", flat=True)
                )
                if ids:
                    await MeterEvent.filter(id__in=list(ids)).using_db(conn).delete()
            deleted += len(ids)
            if len(ids) < BATCH:
                break
        return Kept(events_deleted=deleted)


def _outcome(found: dict[int, Any], k: int) -> Outcome:
    """The k-th (1-based) item's outcome: absent = its check failed, None = a duplicate."""
    if k not in found:
        return Outcome(STALE)
    if found[k] is None:
        return Outcome(DUPLICATE)
    return Outcome(INSERTED, int(found[k]))


# Bulk's and recordMeterEvents' insert: it answers NULL when it inserted as many rows as the
# call has distinct identifiers ($10), i.e. the first of each (the usual case: one value to
# decode instead of a row per event); otherwise the identifiers it did insert.
_INSERT_PG = (
    "WITH src AS (SELECT $1::text AS a, m, c, i, n, v::numeric AS v, t, d, "
    "$2::timestamptz AS ca, uv, k FROM unnest("
    "$3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[], "
    "$9::text[], $11::text[]) WITH ORDINALITY AS u(m, c, i, n, v, t, d, uv, k)), "
    f"{dedupe_insert_ctes('src')}"
    # (array_agg of no rows is NULL too: hence the coalesce)
    "SELECT CASE WHEN count(*) = $10 THEN NULL "
    "ELSE coalesce(array_agg(identifier), '{}') END FROM ins"
)

# recordMeterEvent's insert of remembered meters and customers, checked in the statement.
_INSERT_GUARDED_PG = (
    """
WITH u AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                       $7::numeric[], $8::timestamptz[], $9::text[], $10::timestamptz[],
                       $11::text[])
    WITH ORDINALITY AS u(a, m, n, c, x, i, v, t, d, ca, uv, k)
), ok AS (
  SELECT u.* FROM u
  JOIN meters m ON m.id = u.m AND m.account_id = u.a AND m.event_name = u.n
                AND m.status = 'ACTIVE'
  JOIN customers c ON c.id = u.c AND c.account_id = u.a AND c.test_clock_id IS NULL
                   AND (u.x IS NULL OR c.external_id = u.x)
), """
    + dedupe_insert_ctes("ok")
    + """
SELECT ok.k, ins.id FROM ok LEFT JOIN ins ON ins.account_id = ok.a AND ins.identifier = ok.i
"""
)


async def _sweep_identifiers(now: datetime) -> int:
    """Delete the identifier rows received before now - DEDUPE_WINDOW: one pass over the
    hash partitions every SWEEP_EVERY, SWEEP_PAGES blocks per DELETE (a TID range scan: no
    index on received_at, ARCHITECTURE.md), for at most BUDGET seconds a step. Where the
    pass is (partition, next block) and when the next one is due live in the one row of
    meter_event_ids_sweep; each DELETE is its own transaction holding that row (another
    worker's step skips it), so no row lock lasts longer than one range. Rows are deleted
    only past the window (exact dedupe for DEDUPE_WINDOW), and at most about SWEEP_EVERY
    plus a pass's time after it."""
    cutoff = now - DEDUPE_WINDOW
    deleted = 0
    started = time.monotonic()
    while time.monotonic() - started < BUDGET:
        async with in_transaction() as conn:
            rows = await conn.execute_query_dict(
                "SELECT part, block, next_pass FROM meter_event_ids_sweep FOR UPDATE SKIP LOCKED"
            )
            if not rows:
                return deleted  # another worker is sweeping
            part, block, due = int(rows[0]["part"]), int(rows[0]["block"]), rows[0]["next_pass"]
            if (part, block) == (0, 0):
                # A clock set back (tests pin `now`) finds the next pass far ahead: due now.
                if now < due <= now + SWEEP_EVERY:
                    return deleted
                due = now + SWEEP_EVERY  # this pass starts
            table = f"{partitions.IDS_TABLE}_h{part}"
            pages = await conn.execute_query_dict(
                "SELECT pg_relation_size($1::regclass) / current_setting('block_size')::int AS n",
                [table],
            )
            if block < int(pages[0]["n"]):
                n, _ = await conn.execute_query(
                    f"DELETE FROM {table} WHERE ctid >= '({block},0)'::tid "
                    f"AND ctid < '({block + SWEEP_PAGES},0)'::tid AND received_at < $1",
                    [cutoff],
                )
                deleted += n
                block += SWEEP_PAGES
            else:  # this partition is done; after the last, the pass is
                part, block = (part + 1) % partitions.IDS_PARTITIONS, 0
            await conn.execute_query(
                "UPDATE meter_event_ids_sweep SET part = $1, block = $2, next_pass = $3",
                [part, block, due],
            )
            if (part, block) == (0, 0):
                return deleted
    return deleted
