"""meterEventSummaries and period usage (data flow 3): read from rollups, never from a whole
range of raw events. A range reads its whole hours from the hour rollups and only the minutes
of a partial hour at either end from the minute rollups: an hour rollup is the merge of its
minutes, and merging is associative, so the answer is the one the minutes alone would give."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tortoise import connections
from tortoise.expressions import Subquery

from meterbill.billing.aggregation import (
    LIKE_ESCAPE,
    Rollup,
    SummaryRow,
    check_alignment,
    check_row_limit,
    dimension_filter_patterns,
    dimension_filter_substrings,
    fold_all,
    hour_bucket,
    is_distinct,
    measures_for,
    merge,
    minute_bucket,
    summarize,
    value_of,
    window_count,
)
from meterbill.billing.errors import BadUserInput
from meterbill.db import stores
from meterbill.db.models import (
    Meter,
    MeterEvent,
    MeterEventPending,
    UsageRollup,
    UsageRollupHourly,
)
from meterbill.db.rollup_sql import ROLLUP_VALUE_COLUMNS, merge_rollups, rollup_from_row
from meterbill.db.usage_sql import HOUR_TABLE, MINUTE_TABLE, is_postgres
from meterbill.services.clock import as_utc
from meterbill.services.usage.known import customer_exists, meter_definition

_ROLLUP_COLS = ("bucket", "dimensions_key", *ROLLUP_VALUE_COLUMNS)


def _check_keys(meter: Meter, filter: Any, group_by: list[str]) -> Mapping[str, object]:
    keys = set(meter.dimension_keys)
    known = ", ".join(meter.dimension_keys) or "none"
    if filter is None:
        filter = {}
    if not isinstance(filter, Mapping):
        raise BadUserInput("filter must be a JSON object of {dimensionKey: value}", ("filter",))
    for k in filter:
        if k not in keys:
            msg = f"filter key {k!r} is not a dimension key of the meter ({known})"
            raise BadUserInput(msg, ("filter", str(k)))
    for i, k in enumerate(group_by):
        if k not in keys:
            msg = f"groupBy key {k!r} is not a dimension key of the meter ({known})"
            raise BadUserInput(msg, ("groupBy", str(i)))
    return filter


async def summaries(
    account_id: str,
    meter_id: str,
    customer_id: str,
    start: datetime,
    end: datetime,
    window: str | None,
    filter: Any = None,
    group_by: list[str] | None = None,
) -> list[SummaryRow]:
    """Rows as billing.aggregation.summarize makes them. An unknown (or foreign) meter or
    customer has no usage: no rows."""
    check_alignment(start, end, window)
    check_row_limit(window_count(start, end, window), 1)
    group_by = list(group_by or [])
    meter = await meter_definition(account_id, meter_id)
    if meter is None:
        return []
    flt = _check_keys(meter, filter, group_by)
    conn = connections.get("default")
    if is_distinct(meter.aggregation):
        if not await customer_exists(account_id, customer_id):
            return []
        key = (account_id, meter.id, customer_id)
        return await stores.current().uniques.summary(
            conn, key, as_utc(start), as_utc(end), window, flt, group_by, not meter.dimension_keys
        )
    if is_postgres(conn):
        buckets = await _window_rollups_pg(
            conn, account_id, meter, customer_id, start, end, window, flt
        )
    else:
        buckets = await _rollups_orm(account_id, meter.id, customer_id, start, end, flt)
    # Rollups are read by account and customer, so usage found proves the customer is the
    # account's; only an empty answer must tell an unknown customer (no rows) from a quiet one.
    if not buckets and not await customer_exists(account_id, customer_id):
        return []
    return summarize(meter.aggregation, buckets, start, end, window, group_by)


_Bucket = tuple[datetime, str, Rollup]


def _hour_split(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """(hs, he): [hs, he) are the whole hours in [start, end), start <= hs <= he <= end; the
    minutes of [start, hs) and [he, end) are the rest."""
    hs, he = hour_bucket(start), hour_bucket(end)
    if hs < start:
        hs += timedelta(hours=1)
    return (hs, he) if hs < he else (end, end)


def _edges(
    start: datetime, end: datetime, hs: datetime, he: datetime
) -> list[tuple[datetime, datetime]]:
    return [(a, b) for a, b in ((start, hs), (he, end)) if a < b]


async def _rollups_orm(
    account_id: str,
    meter_id: str,
    customer_id: str,
    start: datetime,
    end: datetime,
    flt: Mapping[str, object],
) -> list[_Bucket]:
    """(bucket, dimensions key, rollup) of [start, end) (whole minutes): hour rollups for
    the whole hours, minute rollups for the rest (SQLite, merged in Python)."""
    s, e = as_utc(start), as_utc(end)
    hs, he = _hour_split(s, e)
    ranges: list[tuple[Any, datetime, datetime]] = [(UsageRollupHourly, hs, he)]
    ranges += [(UsageRollup, a, b) for a, b in _edges(s, e, hs, he)]
    out: list[_Bucket] = []
    for model, a, b in ranges:
        if a >= b:
            continue
        qs = model.filter(
            account_id=account_id,
            meter_id=meter_id,
            customer_id=customer_id,
            bucket__gte=a,
            bucket__lt=b,
        )
        for sub in dimension_filter_substrings(flt):
            qs = qs.filter(dimensions_key__contains=sub)
        out += [
            (r["bucket"], r["dimensions_key"], rollup_from_row(r))
            for r in await qs.values(*_ROLLUP_COLS)
        ]
    return out


_STEP = {"HOUR": timedelta(hours=1), "DAY": timedelta(days=1)}


async def _window_rollups_pg(
    conn: Any,
    account_id: str,
    meter: Meter,
    customer_id: str,
    start: datetime,
    end: datetime,
    window: str | None,
    flt: Mapping[str, object],
) -> list[tuple[datetime, str, Rollup]]:
    """The rollups of [start, end) merged per (window, dimension set) by PostgreSQL, in
    exact NUMERIC: a month of DAY windows is 30 rows per dimension set to Python, merged from
    720 hour rollups (plus the minutes of a partial hour at either end) instead of 43,200
    minutes. Merging is associative, so summarize() over these equals summarize() over the
    minutes; each row's bucket is its window's start (date_bin from the aligned start), and
    without a window everything falls in the one window at start. Each measure merges by
    its rule, as billing.aggregation.merge does (db/rollup_sql)."""
    s, e = as_utc(start), as_utc(end)
    hs, he = _hour_split(s, e)
    step = _STEP[window] if window else e - s
    measures = measures_for([meter.aggregation])
    cols = ", ".join(["bucket", "dimensions_key", *(c for m in measures for c in m.columns)])
    params: list[Any] = [step, s, account_id, meter.id, customer_id]
    dims = ""
    for pattern in dimension_filter_patterns(flt):
        params.append(pattern)
        dims += f" AND dimensions_key LIKE ${len(params)} ESCAPE '{LIKE_ESCAPE}'"
    ranges = [(HOUR_TABLE, hs, he)] if hs < he else []
    ranges += [(MINUTE_TABLE, a, b) for a, b in _edges(s, e, hs, he)]
    parts = []
    for table, a, b in ranges:
        params += [a, b]
        parts.append(
            f"SELECT {cols} FROM {table} WHERE account_id = $3 AND meter_id = $4 AND "
            f"customer_id = $5 AND bucket >= ${len(params) - 1} AND bucket < ${len(params)}"
            f"{dims}"
        )
    sql = (
        "SELECT date_bin($1::interval, bucket, $2) AS w, dimensions_key AS d, "
        f"{merge_rollups(measures)} FROM ({' UNION ALL '.join(parts)}) r GROUP BY 1, 2"
    )
    rows = await conn.execute_query_dict(sql, params)
    return [(r["w"], r["d"], rollup_from_row(r)) for r in rows]


def _ceil_minute(ts: datetime) -> datetime:
    floor = minute_bucket(ts)
    return floor if floor == ts else floor + timedelta(minutes=1)


async def period_usage(
    account_id: str, meter_id: str, customer_id: str, start: datetime, end: datetime
) -> Decimal:
    """meter_period_usage of the account's meter; an unknown (or foreign) meter has none."""
    meter = await meter_definition(account_id, meter_id)
    if meter is None:
        return Decimal(0)
    return await meter_period_usage(meter, customer_id, start, end)


async def meter_period_usage(
    meter: Any, customer_id: str, start: datetime, end: datetime, *, final: bool = False
) -> Decimal:
    """The meter's aggregation over [start, end) for one customer, all dimensions: whole
    hours and minutes from rollups; a partial minute at either end (periods need not start on
    a minute) from its raw events, so the boundaries are exact to the microsecond.

    `final` (a subscription cancelled now at `end`): [start, end] with the events at `end`
    itself, and the events of the whole minutes not yet aggregated into rollups."""
    account_id, meter_id = meter.account_id, meter.id
    start, end = as_utc(start), as_utc(end)
    if start >= end and not final:
        return Decimal(0)
    if is_distinct(meter.aggregation):
        key = (account_id, meter_id, customer_id)
        conn = connections.get("default")
        # Only a Meter knows its dimension keys (billing's plain rows do not): with none,
        # a whole UTC month or day is one count row.
        one_set = getattr(meter, "dimension_keys", None) == []
        return Decimal(await stores.current().uniques.count(conn, key, start, end, one_set))
    lo, hi = _ceil_minute(start), minute_bucket(end)
    total = Rollup.empty()
    if final:
        total = await _unaggregated(account_id, meter_id, customer_id, start, end, lo, hi)
        if start >= end:
            return value_of(meter.aggregation, total)
    if lo < hi:
        conn = connections.get("default")
        if is_postgres(conn):
            # One row per dimension set, merged by PostgreSQL in exact NUMERIC.
            merged = await _window_rollups_pg(
                conn, account_id, meter, customer_id, lo, hi, None, {}
            )
        else:
            merged = await _rollups_orm(account_id, meter_id, customer_id, lo, hi, {})
        for _, _, rollup in merged:
            total = merge(total, rollup)
        edges = [(start, lo), (hi, end)]
    else:
        edges = [(start, end)]
    for a, b in edges:
        if a < b:
            events = await MeterEvent.filter(
                account_id=account_id,
                meter_id=meter_id,
                customer_id=customer_id,
                status="ACCEPTED",
                timestamp__gte=a,
                timestamp__lt=b,
            ).values_list("value", "timestamp", "id")
            total = merge(total, fold_all((Decimal(v), t, i) for v, t, i in events))
    return value_of(meter.aggregation, total)


async def _unaggregated(
    account_id: str,
    meter_id: str,
    customer_id: str,
    start: datetime,
    end: datetime,
    lo: datetime,
    hi: datetime,
) -> Rollup:
    """What [start, end) from rollups leaves out of [start, end]: the events at `end`, and
    the still-pending events of the whole minutes [lo, hi) (the partial minutes are read
    raw anyway)."""
    base = MeterEvent.filter(
        account_id=account_id, meter_id=meter_id, customer_id=customer_id, status="ACCEPTED"
    )
    rows = list(await base.filter(timestamp=end).values_list("value", "timestamp", "id"))
    if lo < hi and start < end:
        # Locked before the rollups are read (the caller's transaction): the aggregation's
        # claim skips them until commit, so none is counted both here and in a rollup.
        in_minutes = base.filter(timestamp__gte=lo, timestamp__lt=hi).values_list("id", flat=True)
        pending = (
            await MeterEventPending.filter(event_id__in=Subquery(in_minutes))
            .select_for_update()
            .values_list("event_id", flat=True)
        )
        if pending:
            # The range too: it prunes the scan to the partitions of [lo, hi) (PostgreSQL).
            waiting = base.filter(id__in=list(pending), timestamp__gte=lo, timestamp__lt=hi)
            rows += await waiting.values_list("value", "timestamp", "id")
    return fold_all((Decimal(v), t, i) for v, t, i in rows)
