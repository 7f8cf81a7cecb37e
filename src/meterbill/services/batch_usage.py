"""Period usage of many (meter, customer, period) at once, for billing a batch of
subscriptions: on PostgreSQL three statements for the whole batch (whole hours from the hour
rollups, the other whole minutes from the minute rollups, the partial minutes at the period
ends from raw events), each answer equal to usage.period_usage's, which reads the same
parts; SQLite (one writer, embedded, small) asks period_usage per request.

tests/integration/test_billing_batch.py checks the two agree on the same data."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from tortoise import connections

from meterbill.billing.aggregation import (
    Measure,
    Rollup,
    ceil_minute,
    fold,
    hour_split,
    is_distinct,
    measures_for,
    merge,
    minute_bucket,
    value_of,
)
from meterbill.db.rollup_sql import merge_rollups, rollup_from_row
from meterbill.db.usage_sql import HOUR_TABLE, MINUTE_TABLE, is_postgres
from meterbill.services.billing_usage import MeterRef, metered_quantity, plain_quantity
from meterbill.services.clock import as_utc


class UsageRequest(NamedTuple):
    meter: MeterRef
    customer_id: str
    start: datetime
    end: datetime


async def period_usages(requests: Sequence[UsageRequest]) -> list[Decimal]:
    """metered_quantity() of each request, in order."""
    if not requests:
        return []
    conn = connections.get("default")
    if not is_postgres(conn):
        return [await metered_quantity(r.meter, r.customer_id, r.start, r.end) for r in requests]
    # Distinct counts do not merge from rollups: each is counted on its own (an index
    # count of its period's first-seen rows).
    distinct = {
        k: await metered_quantity(r.meter, r.customer_id, r.start, r.end)
        for k, r in enumerate(requests)
        if is_distinct(r.meter.aggregation)
    }
    if distinct:
        rest = [k for k in range(len(requests)) if k not in distinct]
        others = await period_usages([requests[k] for k in rest])
        out = dict(distinct) | dict(zip(rest, others, strict=True))
        return [out[k] for k in range(len(requests))]
    totals = [Rollup.empty() for _ in requests]
    hours: list[tuple[int, datetime, datetime]] = []
    minutes: list[tuple[int, datetime, datetime]] = []
    edges: list[tuple[int, datetime, datetime]] = []
    for k, r in enumerate(requests):
        start, end = as_utc(r.start), as_utc(r.end)
        if start >= end:
            continue
        lo, hi = ceil_minute(start), minute_bucket(end)
        if lo < hi:
            hs, he = hour_split(lo, hi)
            if hs < he:
                hours.append((k, hs, he))
            minutes += [(k, a, b) for a, b in ((lo, hs), (he, hi)) if a < b]
            edges += [(k, a, b) for a, b in ((start, lo), (hi, end)) if a < b]
        else:
            edges.append((k, start, end))
    for table, spans in ((HOUR_TABLE, hours), (MINUTE_TABLE, minutes)):
        measures = measures_for({requests[k].meter.aggregation for k, _, _ in spans})
        for k, rollup in await _rollups(conn, table, requests, spans, measures):
            totals[k] = merge(totals[k], rollup)
    for k, value, ts, seq in await _edge_events(conn, requests, edges):
        totals[k] = fold(totals[k], value, ts, seq)
    pairs = zip(requests, totals, strict=True)
    return [plain_quantity(value_of(r.meter.aggregation, t)) for r, t in pairs]


def _key_arrays(
    requests: Sequence[UsageRequest], spans: list[tuple[int, datetime, datetime]]
) -> list[Any]:
    return [
        [k for k, _, _ in spans],
        [requests[k].meter.account_id for k, _, _ in spans],
        [requests[k].meter.id for k, _, _ in spans],
        [requests[k].customer_id for k, _, _ in spans],
        [a for _, a, _ in spans],
        [b for _, _, b in spans],
    ]


_SPANS = (
    "unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], "
    "$6::timestamptz[]) AS q(k, a, m, c, lo, hi)"
)


async def _rollups(
    conn: Any,
    table: str,
    requests: Sequence[UsageRequest],
    spans: list[tuple[int, datetime, datetime]],
    measures: tuple[Measure, ...],
) -> list[tuple[int, Rollup]]:
    """Each span's rollups (of `table`, minutes or hours) merged by PostgreSQL in exact
    NUMERIC: one row per span."""
    if not spans:
        return []
    sql = (
        f"SELECT q.k, {merge_rollups(measures, 'r.')} FROM {_SPANS} "
        f"JOIN {table} r ON r.account_id = q.a AND r.meter_id = q.m "
        "AND r.customer_id = q.c AND r.bucket >= q.lo AND r.bucket < q.hi GROUP BY q.k"
    )
    rows = await conn.execute_query_dict(sql, _key_arrays(requests, spans))
    return [(int(r["k"]), rollup_from_row(r)) for r in rows]


async def _edge_events(
    conn: Any, requests: Sequence[UsageRequest], spans: list[tuple[int, datetime, datetime]]
) -> list[tuple[int, Decimal, datetime, int]]:
    """Accepted raw events of the partial minutes (each span shorter than a minute)."""
    if not spans:
        return []
    sql = (
        f"SELECT q.k, e.value, e.timestamp, e.id FROM {_SPANS} "
        "JOIN meter_events e ON e.account_id = q.a AND e.meter_id = q.m "
        "AND e.customer_id = q.c AND e.status = 'ACCEPTED' "
        "AND e.timestamp >= q.lo AND e.timestamp < q.hi"
    )
    # Folding is a merge of one-event rollups: the order of the rows does not matter.
    rows = await conn.execute_query_dict(sql, _key_arrays(requests, spans))
    return [(int(r["k"]), Decimal(r["value"]), r["timestamp"], int(r["id"])) for r in rows]
