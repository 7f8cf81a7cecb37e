"""meterEventSummaries and period usage (data flow 3): read from rollups, never from a whole
range of raw events."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tortoise import connections

from meterbill.billing.aggregation import (
    LIKE_ESCAPE,
    Rollup,
    SummaryRow,
    check_alignment,
    check_row_limit,
    dimension_filter_patterns,
    dimension_filter_substrings,
    fold_all,
    merge,
    minute_bucket,
    summarize,
    value_of,
    window_count,
)
from meterbill.billing.errors import BadUserInput
from meterbill.db.models import Customer, Meter, MeterEvent, UsageRollup
from meterbill.db.usage_sql import is_postgres
from meterbill.services.clock import as_utc
from meterbill.services.usage.aggregate import rollup_of

_ROLLUP_COLS = ("bucket", "dimensions_key", "sum", "count", "last_value", "last_ts", "last_seq")


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
    meter = await Meter.get_or_none(id=meter_id, account_id=account_id)
    if meter is None or not await Customer.exists(id=customer_id, account_id=account_id):
        return []
    flt = _check_keys(meter, filter, group_by)
    conn = connections.get("default")
    if is_postgres(conn):
        buckets = await _window_rollups_pg(
            conn, account_id, meter, customer_id, start, end, window, flt
        )
        return summarize(meter.aggregation, buckets, start, end, window, group_by)
    qs = UsageRollup.filter(
        account_id=account_id,
        meter_id=meter.id,
        customer_id=customer_id,
        bucket__gte=as_utc(start),
        bucket__lt=as_utc(end),
    )
    for s in dimension_filter_substrings(flt):
        qs = qs.filter(dimensions_key__contains=s)
    buckets = [
        (b, dims, Rollup(Decimal(s), int(c), _dec(lv), lt, ls))
        for b, dims, s, c, lv, lt, ls in await qs.values_list(*_ROLLUP_COLS)
    ]
    return summarize(meter.aggregation, buckets, start, end, window, group_by)


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
    """The minute rollups merged per (window, dimension set) by PostgreSQL, in exact NUMERIC:
    a month of DAY windows is 30 rows per dimension set to Python instead of 43,200.
    Merging is associative, so summarize() over these equals summarize() over the minutes;
    each row's bucket is its window's start (date_bin from the aligned start), and without
    a window everything falls in the one window at start. LAST keeps the value of the
    greatest (last_ts, last_seq, last_value), as billing.aggregation.merge does."""
    s, e = as_utc(start), as_utc(end)
    step = _STEP[window] if window else e - s
    last = (
        ", (array_agg(last_value ORDER BY last_ts DESC, last_seq DESC, last_value DESC) "
        "FILTER (WHERE last_ts IS NOT NULL))[1] AS lv, max(last_ts) AS lt, "
        "(array_agg(last_seq ORDER BY last_ts DESC, last_seq DESC, last_value DESC) "
        "FILTER (WHERE last_ts IS NOT NULL))[1] AS ls"
        if meter.aggregation == "LAST"
        else ""
    )
    params: list[Any] = [step, s, account_id, meter.id, customer_id, e]
    where = ""
    for pattern in dimension_filter_patterns(flt):
        params.append(pattern)
        where += f" AND dimensions_key LIKE ${len(params)} ESCAPE '{LIKE_ESCAPE}'"
    sql = (
        "SELECT date_bin($1::interval, bucket, $2) AS w, dimensions_key AS d, "
        f"sum(sum) AS s, sum(count) AS c{last} FROM usage_rollups "
        "WHERE account_id = $3 AND meter_id = $4 AND customer_id = $5 "
        f"AND bucket >= $2 AND bucket < $6{where} GROUP BY 1, 2"
    )
    rows = await conn.execute_query_dict(sql, params)
    return [
        (
            r["w"],
            r["d"],
            Rollup(
                Decimal(r["s"]),
                int(r["c"]),
                _dec(r.get("lv")),
                r.get("lt"),
                None if r.get("ls") is None else int(r["ls"]),
            ),
        )
        for r in rows
    ]


def _dec(v: Any) -> Decimal | None:
    return None if v is None else Decimal(v)


def _ceil_minute(ts: datetime) -> datetime:
    floor = minute_bucket(ts)
    return floor if floor == ts else floor + timedelta(minutes=1)


async def period_usage(
    account_id: str, meter_id: str, customer_id: str, start: datetime, end: datetime
) -> Decimal:
    """The meter's aggregation over [start, end) for one customer, all dimensions: whole
    minutes from rollups; a partial minute at either end (periods need not start on a
    minute) from its raw events, so the boundaries are exact to the microsecond."""
    meter = await Meter.get_or_none(id=meter_id, account_id=account_id)
    if meter is None:
        return Decimal(0)
    start, end = as_utc(start), as_utc(end)
    if start >= end:
        return Decimal(0)
    lo, hi = _ceil_minute(start), minute_bucket(end)
    total = Rollup.empty()
    if lo < hi:
        conn = connections.get("default")
        if is_postgres(conn):
            # One row per dimension set, merged by PostgreSQL in exact NUMERIC, instead of
            # every minute of the period (43,200 rows for a busy month) to Python.
            merged = await _window_rollups_pg(
                conn, account_id, meter, customer_id, lo, hi, None, {}
            )
            for _, _, rollup in merged:
                total = merge(total, rollup)
        else:
            rows = await UsageRollup.filter(
                account_id=account_id,
                meter_id=meter_id,
                customer_id=customer_id,
                bucket__gte=lo,
                bucket__lt=hi,
            )
            for row in rows:
                total = merge(total, rollup_of(row))
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
