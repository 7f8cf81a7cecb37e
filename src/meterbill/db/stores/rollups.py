"""Rollup storage for the aggregation workers (services/usage/aggregate.py): fold pending
events into the minute and hour rollups, deleting their pending rows, in the caller's
transaction. PostgreSQL: several workers split the backlog with FOR UPDATE SKIP LOCKED and
one statement claims, folds per minute and per hour and upserts in exact NUMERIC
(db/usage_sql.py, its merge fragments from db/rollup_sql.py): no row goes through the
worker. SQLite: a single writer reads, merges in Python with Decimal
(billing/aggregation.merge), and writes back."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import defaultdict
from decimal import Decimal
from typing import Any

from meterbill.billing.aggregation import (
    Rollup,
    day_start,
    fold,
    hour_bucket,
    merge,
    minute_bucket,
    month_start,
)
from meterbill.db.alerts_sql import mark_checks_due
from meterbill.db.models import MeterEvent, MeterEventPending, UsageRollup, UsageRollupHourly
from meterbill.db.rollup_sql import ROLLUP_VALUE_COLUMNS, rollup_from_row
from meterbill.db.usage_sql import (
    CLAIMED_COLUMNS,
    RollupKey,
    Touched,
    UniqueKey,
    add_uniques,
    fold_pending_pg,
)

Deltas = dict[RollupKey, Rollup]


class RollupStore(ABC):
    @abstractmethod
    async def fold(self, conn: Any, limit: int) -> tuple[int, set[Touched]]:
        """Take up to `limit` pending events, oldest first, delete their pending rows and
        add their ACCEPTED events to the minute and the hour rollups (minutes first, each
        in key order: every writer locks in that order): (how many were taken, the
        (account, meter, customer) keys whose usage changed). The ACCEPTED events of
        UNIQUE_COUNT meters are added to their values' first-seen day rows
        (usage_unique_values; a value new to its day also to its month row) before the
        rollups, and the folded (meter, customer) pairs of meters with ACTIVE alerts are
        marked due an alert evaluation (alert_checks_due), in the same transaction."""


class PostgresRollups(RollupStore):
    async def fold(self, conn: Any, limit: int) -> tuple[int, set[Touched]]:
        return await fold_pending_pg(conn, limit)


class SqliteRollups(RollupStore):
    async def fold(self, conn: Any, limit: int) -> tuple[int, set[Touched]]:
        taken, rows = await _claim_sqlite(conn, limit)
        await add_uniques(conn, _unique_deltas(rows))
        minutes = _fold_minutes(rows)
        await mark_checks_due(conn, list({k[:3] for k in minutes}))
        await _merge_rollups_python(conn, UsageRollup, minutes)
        await _merge_rollups_python(conn, UsageRollupHourly, hour_deltas(minutes))
        return taken, {(k.account_id, k.meter_id, k.customer_id) for k in minutes}


def hour_deltas(minutes: Deltas) -> Deltas:
    """The minute deltas merged per hour: what the same events add to the hour rollups."""
    hours: Deltas = defaultdict(Rollup.empty)
    for k, r in minutes.items():
        hk = k._replace(bucket=hour_bucket(k.bucket))
        hours[hk] = merge(hours[hk], r)
    return hours


async def _claim_sqlite(conn: Any, limit: int) -> tuple[int, list[tuple[Any, ...]]]:
    # This transaction is SQLite's only writer: nothing to lock or skip.
    ids = (
        await MeterEventPending.all()
        .order_by("event_id")
        .limit(limit)
        .using_db(conn)
        .values_list("event_id", flat=True)
    )
    if not ids:
        return 0, []
    rows = await MeterEvent.filter(id__in=ids).using_db(conn).values_list(*CLAIMED_COLUMNS)
    await MeterEventPending.filter(event_id__in=ids).using_db(conn).delete()
    return len(ids), list(rows)


def _fold_minutes(rows: list[tuple[Any, ...]]) -> dict[RollupKey, Rollup]:
    deltas: dict[RollupKey, Rollup] = defaultdict(Rollup.empty)
    for eid, acct, meter, customer, dims, value, ts, status, _ in rows:
        # Only ACCEPTED events count (a canceled one takes its pending row away, but a
        # pending row whose event is gone has no row here).
        if status != "ACCEPTED":
            continue
        key = RollupKey(acct, meter, customer, minute_bucket(ts), dims)
        deltas[key] = fold(deltas[key], Decimal(value), ts, eid)
    return deltas


def _unique_deltas(rows: list[tuple[Any, ...]]) -> dict[UniqueKey, int]:
    """The events each value's day row gains (add_uniques derives the month rows)."""
    deltas: dict[UniqueKey, int] = defaultdict(int)
    for _, acct, meter, customer, dims, _, ts, status, unique in rows:
        if status == "ACCEPTED" and unique is not None:
            deltas[unique_keys(acct, meter, customer, dims, ts, unique)[0]] += 1
    return deltas


def unique_keys(
    account_id: str, meter_id: str, customer_id: str, dims: str, ts: Any, value: str
) -> tuple[UniqueKey, UniqueKey]:
    """The day and the month row one event of `value` at `ts` counts in."""
    day, month = (
        UniqueKey(account_id, meter_id, customer_id, grain, start(ts), value, dims)
        for grain, start in (("day", day_start), ("month", month_start))
    )
    return day, month


_RollupModel = type[UsageRollup] | type[UsageRollupHourly]


async def _merge_rollups_python(
    conn: Any, model: _RollupModel, deltas: dict[RollupKey, Rollup]
) -> None:
    if not deltas:
        return
    existing = await model.filter(
        meter_id__in=list({k.meter_id for k in deltas}),
        customer_id__in=list({k.customer_id for k in deltas}),
        bucket__in=list({k.bucket for k in deltas}),
    ).using_db(conn)
    by_key = {
        (r.meter_id, r.customer_id, minute_bucket(r.bucket), r.dimensions_key): r for r in existing
    }
    new: list[Any] = []
    for k, delta in deltas.items():
        row = by_key.get((k.meter_id, k.customer_id, k.bucket, k.dimensions_key))
        if row is None:
            new.append(model(**k._asdict(), **fields_of(delta)))
            continue
        for name, value in fields_of(merge(rollup_of(row), delta)).items():
            setattr(row, name, value)
        await row.save(using_db=conn, update_fields=list(fields_of(delta)))
    if new:
        await model.bulk_create(new, using_db=conn)


def fields_of(r: Rollup) -> dict[str, Any]:
    return {c: getattr(r, c) for c in ROLLUP_VALUE_COLUMNS}


def rollup_of(row: UsageRollup | UsageRollupHourly) -> Rollup:
    return rollup_from_row({c: getattr(row, c) for c in ROLLUP_VALUE_COLUMNS})
