"""Raw event storage over time (issue 18): finding events by identifier, keeping the storage
ready for the timestamps ingest is about to write, and retention.

PostgreSQL: meter_events is partitioned by timestamp, one partition per UTC week
(db/partitions.py); identifiers are unique per account in meter_event_ids for DEDUPE_WINDOW;
retention drops whole partitions. SQLite: one table with its unique (account, identifier)
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

# Identifiers stay unique at least this long after they were received (contract: "Unique
# per account for at least 35 days"): a day more, so no boundary case sits on the edge.
DEDUPE_WINDOW = timedelta(days=36)
# Partitions made ahead of the wall clock by housekeeping, and kept behind it for late
# events (35 days, plus the week in progress).
AHEAD = timedelta(days=28)
BEHIND = MAX_AGE + timedelta(days=7)
# One retention step deletes at most this many rows per statement (SQLite's events,
# PostgreSQL's identifier rows) and spends at most BUDGET seconds: housekeeping runs every
# minute, so a step keeps no lock for long and the rest is the next step's.
BATCH = 5_000
BUDGET = 5.0


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
            'SELECT event_id, "timestamp" FROM meter_event_ids '
            "WHERE account_id = $1 AND identifier = ANY($2::text[])",
            [account_id, list(identifiers)],
        )
        if not rows:
            return []
        # The timestamps prune the scan to the partitions holding these events.
        qs = MeterEvent.filter(
            account_id=account_id,
            id__in=[r["event_id"] for r in rows],
            timestamp__in=list({r["timestamp"] for r in rows}),
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
        gone = await _delete_batches(
            client,
            "DELETE FROM meter_event_ids WHERE (account_id, identifier) IN ("
            "SELECT account_id, identifier FROM meter_event_ids WHERE received_at < $1 "
            "LIMIT $2)",
            [now - DEDUPE_WINDOW, BATCH],
        )
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


async def _delete_batches(client: Any, sql: str, params: list[Any]) -> int:
    """Run a DELETE of at most BATCH rows until it deletes fewer or BUDGET is spent."""
    total = 0
    started = time.monotonic()
    while time.monotonic() - started < BUDGET:
        n, _ = await client.execute_query(sql, params)
        total += n
        if n < BATCH:
            break
    return total
