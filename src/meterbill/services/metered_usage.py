"""Metered quantities for invoices: one (metered_quantity, through the usage pipeline's
period_usage), or many (meter, customer, period) at once for a batch of subscriptions
(period_usages): whole hours from the hour rollups, the other whole minutes from the minute
rollups, the partial minutes at the period ends from raw events (on PostgreSQL one
statement each for the whole batch: db/stores/usage_reads), each answer equal to
period_usage's, which reads the same parts.

tests/integration/test_billing_batch.py checks the two agree on the same data."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple, Protocol

from meterbill.billing.aggregation import (
    Rollup,
    ceil_minute,
    hour_split,
    is_distinct,
    measures_for,
    merge,
    minute_bucket,
    value_of,
)
from meterbill.db import stores
from meterbill.db.stores.usage_reads import Span
from meterbill.services.now import as_utc
from meterbill.services.usage import meter_period_usage


class MeterRef(Protocol):
    """A meter as billing needs it: a Meter, or the plain plans.MeterRow."""

    @property
    def id(self) -> str: ...
    @property
    def account_id(self) -> str: ...
    @property
    def aggregation(self) -> str: ...


async def metered_quantity(
    meter: MeterRef,
    customer_id: str,
    start: datetime,
    end: datetime,
    *,
    final: bool = False,
    unfolded: bool = False,
) -> Decimal:
    """The meter's aggregation over the period [start, end): whole minutes from rollups,
    the minutes a period boundary cuts through from raw events (exact to the microsecond);
    `final`, `unfolded`: as meter_period_usage's."""
    total = await meter_period_usage(meter, customer_id, start, end, final=final, unfolded=unfolded)
    return plain_quantity(total)


def plain_quantity(d: Decimal) -> Decimal:
    # NUMERIC(40, 12) reads back as 3000.000000000000; invoices show 3000.
    return d.quantize(Decimal(1)) if d == d.to_integral_value() else d.normalize()


class UsageRequest(NamedTuple):
    meter: MeterRef
    customer_id: str
    start: datetime
    end: datetime


async def period_usages(requests: Sequence[UsageRequest]) -> list[Decimal]:
    """metered_quantity() of each request, in order."""
    if not requests:
        return []
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
    hours: list[Span] = []
    minutes: list[Span] = []
    edges: list[Span] = []
    for k, r in enumerate(requests):
        start, end = as_utc(r.start), as_utc(r.end)
        if start >= end:
            continue
        key = (k, r.meter.account_id, r.meter.id, r.customer_id)
        lo, hi = ceil_minute(start), minute_bucket(end)
        if lo < hi:
            hs, he = hour_split(lo, hi)
            if hs < he:
                hours.append((*key, hs, he))
            minutes += [(*key, a, b) for a, b in ((lo, hs), (he, hi)) if a < b]
            edges += [(*key, a, b) for a, b in ((start, lo), (hi, end)) if a < b]
        else:
            edges.append((*key, start, end))
    reads = stores.current().usage_reads
    for hourly, spans in ((True, hours), (False, minutes)):
        measures = measures_for({requests[s[0]].meter.aggregation for s in spans})
        for k, rollup in await reads.span_rollups(hourly, spans, measures):
            totals[k] = merge(totals[k], rollup)
    for k, rollup in await reads.span_events(edges):
        totals[k] = merge(totals[k], rollup)
    pairs = zip(requests, totals, strict=True)
    return [plain_quantity(value_of(r.meter.aggregation, t)) for r, t in pairs]
