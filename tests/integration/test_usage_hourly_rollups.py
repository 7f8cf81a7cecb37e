"""Hour rollups (both backends): every hour rollup stays the merge of its minute rollups
through aggregation in small batches and cancels, and summaries / period usage read from
hours + minutes give exactly the answer of the minutes alone and of the raw events, for SUM,
COUNT and LAST, dimension filters and groups, ranges starting mid-hour and mid-minute."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from meterbill.billing.aggregation import (
    Rollup,
    dimensions_match,
    fold_all,
    merge,
    minute_bucket,
    summarize,
    value_of,
)
from meterbill.db.models import MeterEvent, UsageRollup, UsageRollupHourly
from meterbill.services import catalog, usage
from meterbill.services.accounts import create_account
from meterbill.services.now import utcnow
from meterbill.services.usage.aggregate import hour_bucket, rollup_of

_Key = tuple[datetime, str]


async def _setup(aggregation: str) -> tuple[str, str, str]:
    account, _ = await create_account("Hourly")
    spec = catalog.MeterSpec("Tokens", "tokens", aggregation, dimension_keys=["region", "tier"])
    meter = await catalog.create_meter(account.id, spec)
    customer = await catalog.create_customer(account.id, catalog.CustomerSpec(name="c"))
    return account.id, meter.id, customer.id


def _events(
    rng: random.Random, cus: str, t0: datetime, n: int, tag: str, hours: int = 26, dims: bool = True
) -> list[Any]:
    """n events over `hours` hours from t0, some sharing a timestamp (LAST ties go to arrival
    order), values with decimals, dimension sets of zero to two keys (if dims)."""
    out = []
    stamps: list[datetime] = []
    for i in range(n):
        if stamps and rng.random() < 0.15:
            ts = rng.choice(stamps)
        else:
            ts = t0 + timedelta(microseconds=rng.randrange(hours * 3600 * 10**6))
            stamps.append(ts)
        payload: dict[str, Any] = {"customer_id": cus, "value": str(rng.randrange(1, 5000) / 8)}
        if dims and rng.random() < 0.8:
            payload["region"] = rng.choice(["eu", "us"])
        if dims and rng.random() < 0.6:
            payload["tier"] = rng.choice(["free", "pro"])
        out.append(usage.EventInput("tokens", payload, f"{tag}-{i}", ts))
    return out


async def _drain_small() -> None:
    # Small batches: one minute's and one hour's events are spread over many transactions.
    while await usage.aggregate_batch(limit=23):
        pass


async def _hours_are_merged_minutes(meter: str) -> None:
    want: dict[tuple[str, datetime, str], Rollup] = defaultdict(Rollup.empty)
    for r in await UsageRollup.filter(meter_id=meter):
        k = (r.customer_id, hour_bucket(r.bucket), r.dimensions_key)
        want[k] = merge(want[k], rollup_of(r))
    got = {
        (r.customer_id, hour_bucket(r.bucket), r.dimensions_key): rollup_of(r)
        for r in await UsageRollupHourly.filter(meter_id=meter)
    }
    assert want and got == dict(want)


async def _minute_buckets(meter: str, cus: str) -> list[tuple[datetime, str, Rollup]]:
    return [
        (r.bucket, r.dimensions_key, rollup_of(r))
        for r in await UsageRollup.filter(meter_id=meter, customer_id=cus)
    ]


async def _event_buckets(meter: str, cus: str) -> list[tuple[datetime, str, Rollup]]:
    """The raw ACCEPTED events folded per minute: the truth the rollups must give."""
    folded: dict[_Key, list[tuple[Decimal, datetime, int]]] = defaultdict(list)
    rows = await MeterEvent.filter(meter_id=meter, customer_id=cus, status="ACCEPTED")
    for e in rows:
        folded[(minute_bucket(e.timestamp), e.dimensions_key)].append(
            (Decimal(e.value), e.timestamp, e.id)
        )
    return [(m, d, fold_all(evs)) for (m, d), evs in folded.items()]


async def _check_summaries(
    account: str, meter: str, cus: str, formula: str, start: datetime, end: datetime, window
) -> None:
    minutes, events = await _minute_buckets(meter, cus), await _event_buckets(meter, cus)
    cases: list[tuple[dict[str, str], list[str]]] = [
        ({}, []),
        ({}, ["region"]),
        ({}, ["tier", "region"]),
        ({"region": "eu"}, []),
        ({"region": "us", "tier": "pro"}, ["tier"]),
    ]
    for flt, group_by in cases:
        got = await usage.summaries(account, meter, cus, start, end, window, flt, group_by)

        def ref(buckets: list[tuple[datetime, str, Rollup]]) -> list[Any]:
            kept = [b for b in buckets if dimensions_match(b[1], flt)]  # noqa: B023
            return summarize(formula, kept, start, end, window, group_by)  # noqa: B023

        assert got == ref(minutes) == ref(events), (start, end, window, flt, group_by)


async def _period_reference(meter: str, cus: str, start: datetime, end: datetime) -> Rollup:
    total = Rollup.empty()
    for e in await MeterEvent.filter(meter_id=meter, customer_id=cus, status="ACCEPTED"):
        if start <= e.timestamp < end:
            total = merge(total, fold_all([(Decimal(e.value), e.timestamp, e.id)]))
    return total


@pytest.mark.parametrize("formula", ["SUM", "COUNT", "LAST"])
async def test_hours_plus_minutes_equal_minutes_and_events(db, formula):
    rng = random.Random(f"hourly-{formula}")
    account, meter, cus = await _setup(formula)
    day0 = utcnow().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)
    t0 = day0 + timedelta(hours=7, minutes=13, seconds=5)
    first = _events(rng, cus, t0, 300, "a")
    assert set(await _statuses(account, first)) == {"ACCEPTED"}
    await _drain_small()
    # Cancels of aggregated events rebuild their minute and hour; one pending cancel.
    for ev in rng.sample(first, 40):
        await usage.cancel_event(account, "tokens", ev.identifier)
    second = _events(rng, cus, t0, 200, "b")
    assert set(await _statuses(account, second)) == {"ACCEPTED"}
    await usage.cancel_event(account, "tokens", second[0].identifier)
    await _drain_small()
    for ev in rng.sample(second[1:], 20):
        await usage.cancel_event(account, "tokens", ev.identifier)
    await _hours_are_merged_minutes(meter)

    h = timedelta(hours=1)
    m = timedelta(minutes=1)
    ranges = [
        (day0, day0 + timedelta(days=2), "DAY"),
        (day0 + 8 * h, day0 + 20 * h, "HOUR"),
        (day0, day0 + 3 * timedelta(days=1), None),
        (t0.replace(second=0) + 4 * m, day0 + 31 * h + 17 * m, None),  # mid-hour both ends
        (day0 + 9 * h + 5 * m, day0 + 9 * h + 50 * m, None),  # inside one hour
        (day0 + 9 * h + 5 * m, day0 + 10 * h + 50 * m, None),  # no whole hour
        (day0 + 10 * h, day0 + 12 * h + 1 * m, None),  # whole hours, then one minute
    ]
    for start, end, window in ranges:
        await _check_summaries(account, meter, cus, formula, start, end, window)

    bounds = [t0 + timedelta(microseconds=rng.randrange(26 * 3600 * 10**6)) for _ in range(12)]
    bounds += [day0 + 9 * h, day0 + 9 * h + 30 * m, t0]
    for _ in range(30):
        a, b = sorted(rng.sample(bounds, 2))
        want = value_of(formula, await _period_reference(meter, cus, a, b))
        assert await usage.period_usage(account, meter, cus, a, b) == want, (a, b)
    whole = value_of(formula, await _period_reference(meter, cus, day0, day0 + 3 * 24 * h))
    assert whole > 0


async def _statuses(account: str, events: list[Any]) -> list[str]:
    return [r.status for r in await usage.record_events(account, events)]


async def test_cancel_of_an_hours_only_event_removes_the_hour(db):
    account, meter, cus = await _setup("LAST")
    ts = utcnow().replace(minute=10, second=0, microsecond=0) - timedelta(hours=3)
    events = [
        usage.EventInput("tokens", {"customer_id": cus, "value": v}, ident, ts + dt)
        for v, ident, dt in [(5, "x", timedelta()), (7, "y", timedelta(minutes=20))]
    ]
    await usage.record_events(account, events)
    await usage.drain()
    hour = hour_bucket(ts)
    end = hour + timedelta(hours=1)
    assert await usage.period_usage(account, meter, cus, hour, end) == 7
    # The later event was the hour's LAST: its cancel makes the earlier one the LAST.
    await usage.cancel_event(account, "tokens", "y")
    row = await UsageRollupHourly.get(meter_id=meter, customer_id=cus, bucket=hour)
    assert (row.count, Decimal(row.last_value)) == (1, 5)
    assert await usage.period_usage(account, meter, cus, hour, end) == 5
    await usage.cancel_event(account, "tokens", "x")
    assert not await UsageRollupHourly.filter(meter_id=meter).exists()
    assert not await UsageRollup.filter(meter_id=meter).exists()
    assert await usage.period_usage(account, meter, cus, hour, end) == 0


async def test_concurrent_workers_and_cancels_keep_hours_exact(db):
    # On PostgreSQL two drains split a backlog in tiny batches while cancels rebuild minutes
    # of the same two hours (SQLite serializes them). Few cancels, all done before the drains
    # are: a later rebuild cannot repair an hour that lost a fold's delta.
    rng = random.Random("concurrent")
    account, meter, cus = await _setup("SUM")
    t0 = utcnow().replace(minute=0, second=0, microsecond=0) - timedelta(hours=30)
    old = _events(rng, cus, t0, 100, "old", hours=2, dims=False)
    assert set(await _statuses(account, old)) == {"ACCEPTED"}
    await usage.drain()
    new = _events(rng, cus, t0, 900, "new", hours=2, dims=False)
    assert set(await _statuses(account, new)) == {"ACCEPTED"}
    canceled = rng.sample(old, 10)

    async def cancels() -> None:
        for ev in canceled:
            await usage.cancel_event(account, "tokens", ev.identifier)

    await asyncio.gather(usage.drain(500, 3), usage.drain(500, 3), cancels())
    await usage.drain()
    await _hours_are_merged_minutes(meter)
    end = t0 + timedelta(hours=2)
    want = await _period_reference(meter, cus, t0, end)
    assert await usage.period_usage(account, meter, cus, t0, end) == want.sum
    assert want.count == 990
