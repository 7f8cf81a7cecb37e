"""meterEventSummaries and period usage (data flow 3): read from rollups
(db/stores/usage_reads), never from a whole range of raw events; raw events only for the
partial minutes at a period's ends."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from tortoise import connections

from meterbill.billing.aggregation import (
    Rollup,
    SummaryRow,
    ceil_minute,
    check_alignment,
    check_row_limit,
    is_distinct,
    merge,
    minute_bucket,
    summarize,
    value_of,
    window_count,
)
from meterbill.billing.errors import BadUserInput
from meterbill.db import stores
from meterbill.db.models import Meter
from meterbill.services.now import as_utc
from meterbill.services.usage.known import customer_exists, meter_definition


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
    buckets = await stores.current().usage_reads.rollups(
        account_id,
        meter.id,
        meter.aggregation,
        customer_id,
        as_utc(start),
        as_utc(end),
        window,
        flt,
    )
    # Rollups are read by account and customer, so usage found proves the customer is the
    # account's; only an empty answer must tell an unknown customer (no rows) from a quiet one.
    if not buckets and not await customer_exists(account_id, customer_id):
        return []
    return summarize(meter.aggregation, buckets, start, end, window, group_by)


async def period_usage(
    account_id: str, meter_id: str, customer_id: str, start: datetime, end: datetime
) -> Decimal:
    """meter_period_usage of the account's meter; an unknown (or foreign) meter has none."""
    meter = await meter_definition(account_id, meter_id)
    if meter is None:
        return Decimal(0)
    return await meter_period_usage(meter, customer_id, start, end)


async def meter_period_usage(
    meter: Any,
    customer_id: str,
    start: datetime,
    end: datetime,
    *,
    final: bool = False,
    unfolded: bool = False,
) -> Decimal:
    """The meter's aggregation over [start, end) for one customer, all dimensions: whole
    hours and minutes from rollups; a partial minute at either end (periods need not start on
    a minute) from its raw events, so the boundaries are exact to the microsecond.

    `unfolded` (an invoice made now): also the events of the whole minutes not yet
    aggregated into rollups. `final` (a subscription cancelled now at `end`): that, and
    [start, end] with the events at `end` itself."""
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
    lo, hi = ceil_minute(start), minute_bucket(end)
    total = Rollup.empty()
    if final or (unfolded and lo < hi):
        minutes = (lo, hi) if lo < hi and start < end else None
        total = await stores.current().usage_reads.unaggregated(
            account_id, meter_id, customer_id, end if final else None, minutes
        )
        if start >= end:
            return value_of(meter.aggregation, total)
    reads = stores.current().usage_reads
    if lo < hi:
        # One row per dimension set (PostgreSQL merges them in exact NUMERIC).
        for _, _, rollup in await reads.rollups(
            account_id, meter_id, meter.aggregation, customer_id, lo, hi, None, {}
        ):
            total = merge(total, rollup)
        edges = [(start, lo), (hi, end)]
    else:
        edges = [(start, end)]
    for a, b in edges:
        if a < b:
            total = merge(total, await reads.raw(account_id, meter_id, customer_id, a, b))
    return value_of(meter.aggregation, total)
