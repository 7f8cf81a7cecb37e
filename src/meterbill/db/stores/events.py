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
from meterbill.db.models import MeterEvent, MeterEventPending
from meterbill.db.usage_sql import identifier_key

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
