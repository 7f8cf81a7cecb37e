"""MAX and UNIQUE_COUNT meters against the real database (both backends): folding by
several runs, every read path (summaries with windows, filter, groupBy; period usage of any
range), cancels. Events are on a test clock's customer so that they span whole UTC months
at fixed instants."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from meterbill.billing.aggregation import dimension_text
from meterbill.db.models import MeterEvent, UsageUniqueValue
from meterbill.services import catalog, test_clocks, usage
from meterbill.services.accounts import create_account
from meterbill.services.usage import EventInput, record_events

NOW = datetime(2025, 4, 2, 12, 0, tzinfo=UTC)


async def setup(aggregation: str, dims: list[str] | None = None) -> tuple[str, str, str]:
    account, _ = await create_account("MaxUnique")
    spec = catalog.MeterSpec(
        "Users", "users", aggregation, value_payload_key="user", dimension_keys=dims or []
    )
    meter = await catalog.create_meter(account.id, spec)
    clock = await test_clocks.create_test_clock(account.id, NOW, None)
    cus = await catalog.create_customer(
        account.id, catalog.CustomerSpec(name="c", test_clock_id=clock.id)
    )
    return account.id, meter.id, cus.id


def ev(cus: str, value: object, ts: datetime, ident: str | None = None, **dims: object):
    return EventInput("users", {"customer_id": cus, "user": value, **dims}, ident, ts)


async def record(account: str, events: list[EventInput]) -> list[str]:
    out = []
    for lo in range(0, len(events), 1000):
        out += [r.status for r in await record_events(account, events[lo : lo + 1000])]
    return out


async def summary(account, meter, cus, start, end, window=None, filter=None, group_by=None):
    rows = await usage.summaries(account, meter, cus, start, end, window, filter, group_by)
    return [(r.start, r.value, r.dimensions) for r in rows]


async def test_max_everywhere(db):
    account, meter, cus = await setup("MAX", ["region"])
    h = datetime(2025, 4, 1, 10, tzinfo=UTC)
    events = [
        ev(cus, 3, h + timedelta(minutes=1), region="eu"),
        ev(cus, "7.5", h + timedelta(minutes=2), "big", region="us"),
        ev(cus, -2, h + timedelta(minutes=61), region="eu"),
        ev(cus, 4, h + timedelta(minutes=62, seconds=30), region="eu"),
    ]
    assert await record(account, events) == ["ACCEPTED"] * 4
    # Several runs fold concurrently, in small batches: max of maxes.
    await asyncio.gather(usage.drain(batch=1), usage.drain(batch=1))
    end = h + timedelta(hours=2)
    assert await summary(account, meter, cus, h, end) == [(h, Decimal("7.5"), {})]
    hourly = await summary(account, meter, cus, h, end, "HOUR")
    assert [v for _, v, _ in hourly] == [Decimal("7.5"), Decimal(4)]
    eu = await summary(account, meter, cus, h, end, filter={"region": "eu"})
    assert [v for _, v, _ in eu] == [Decimal(4)]
    grouped = await summary(account, meter, cus, h, end, group_by=["region"])
    assert [(v, d) for _, v, d in grouped] == [
        (Decimal(4), {"region": "eu"}),
        (Decimal("7.5"), {"region": "us"}),
    ]
    # A range whose ends cut minutes: the partial minutes come from raw events.
    cut = h + timedelta(minutes=62, seconds=10)
    assert await usage.period_usage(account, meter, cus, h, cut) == Decimal("7.5")
    assert await usage.period_usage(account, meter, cus, cut, end) == Decimal(4)
    # Canceling the largest event rebuilds its minute and hour: the next largest is the max.
    await usage.cancel_event(account, "users", "big")
    assert await summary(account, meter, cus, h, end) == [(h, Decimal(4), {})]
    assert await usage.period_usage(account, meter, cus, h, end) == Decimal(4)
    assert await usage.period_usage(account, meter, cus, h, h + timedelta(minutes=1)) == 0


@pytest.mark.parametrize("dims", [["region"], []])
async def test_unique_count_is_exact_over_every_grain(db, dims):
    """Random values over Feb 27 - Apr 2 (whole months, days and partial days), counted by
    every path and compared with the distinct values of the raw events. Without dimension
    keys a whole month or day is read from its count row."""
    account, meter, cus = await setup("UNIQUE_COUNT", dims)
    rnd = random.Random(16)
    start = datetime(2025, 2, 27, 12, 0, tzinfo=UTC)
    span = int((NOW - start).total_seconds())
    truth: list[tuple[datetime, str, str]] = []
    events = []
    for i in range(1500):
        ts = start + timedelta(seconds=rnd.randrange(span))
        value: object = rnd.choice([f"u{rnd.randrange(120)}", rnd.randrange(40), "5", 5.0])
        region = rnd.choice(["eu", "us"])
        truth.append((ts, region, dimension_text(value)))
        events.append(ev(cus, value, ts, f"e{i}", region=region))
    assert set(await record(account, events)) == {"ACCEPTED"}
    # Two runs at once, small batches: each event folded once, values counted once.
    await asyncio.gather(usage.drain(batch=97), usage.drain(batch=97))
    assert await UsageUniqueValue.filter(meter_id=meter, grain="month").count() > 0

    def expect(a, b, region=None):
        return len({v for t, r, v in truth if a <= t < b and region in (None, r)})

    ranges = [
        (datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC)),
        (datetime(2025, 2, 27, 12, 5, tzinfo=UTC), datetime(2025, 4, 2, 0, 7, tzinfo=UTC)),
        (datetime(2025, 3, 10, 3, tzinfo=UTC), datetime(2025, 3, 12, 5, tzinfo=UTC)),
        (datetime(2025, 3, 10, 3, 1, tzinfo=UTC), datetime(2025, 3, 10, 3, 2, tzinfo=UTC)),
    ]
    for a, b in ranges:
        assert await summary(account, meter, cus, a, b) == [(a, Decimal(expect(a, b)), {})]
        assert await usage.period_usage(account, meter, cus, a, b) == expect(a, b)
        if not dims:
            continue
        eu = await summary(account, meter, cus, a, b, filter={"region": "eu"})
        assert eu == [(a, Decimal(expect(a, b, "eu")), {})]
        grouped = await summary(account, meter, cus, a, b, group_by=["region"])
        # Grouped, only the groups seen in the range have rows.
        assert grouped == [
            (a, Decimal(expect(a, b, r)), {"region": r}) for r in ("eu", "us") if expect(a, b, r)
        ]
        assert await usage.period_usage(account, meter, cus, a, b) == expect(a, b)
    # Microsecond period ends (billing periods need not start on a minute).
    a = datetime(2025, 3, 3, 7, 15, 30, 250_000, tzinfo=UTC)
    b = datetime(2025, 3, 31, 23, 59, 59, 1, tzinfo=UTC)
    assert await usage.period_usage(account, meter, cus, a, b) == expect(a, b)
    day = datetime(2025, 3, 1, tzinfo=UTC)
    days = await summary(account, meter, cus, day, day + timedelta(days=5), "DAY")
    assert [v for _, v, _ in days] == [
        expect(day + timedelta(days=i), day + timedelta(days=i + 1)) for i in range(5)
    ]
    one_day = (day + timedelta(days=3), day + timedelta(days=4))
    assert await usage.period_usage(account, meter, cus, *one_day) == expect(*one_day)
    # Cancels of folded events keep the counts exact (a value goes when its last event does).
    for k in range(0, 1500, 7):
        await usage.cancel_event(account, "users", f"e{k}")
        truth[k] = (truth[k][0], truth[k][1], "")
    truth[:] = [t for t in truth if t[2]]
    for a, b in [ranges[0], one_day, ranges[2]]:
        assert await usage.period_usage(account, meter, cus, a, b) == expect(a, b)
    days = await summary(account, meter, cus, day, day + timedelta(days=5), "DAY")
    assert [v for _, v, _ in days] == [
        expect(day + timedelta(days=i), day + timedelta(days=i + 1)) for i in range(5)
    ]
    hours = await summary(account, meter, cus, day, day + timedelta(hours=30), "HOUR")
    assert [v for _, v, _ in hours] == [
        expect(day + timedelta(hours=i), day + timedelta(hours=i + 1)) for i in range(30)
    ]


async def test_a_value_counts_once_across_minutes_and_until_all_its_events_are_canceled(db):
    account, meter, cus = await setup("UNIQUE_COUNT")
    t = datetime(2025, 3, 20, 8, 0, tzinfo=UTC)
    events = [
        ev(cus, "alice", t, "a1"),
        ev(cus, "alice", t + timedelta(minutes=3), "a2"),
        ev(cus, "alice", t + timedelta(days=1), "a3"),
        ev(cus, "bob", t + timedelta(hours=2), "b1"),
        ev(cus, 7, t, "n1"),
        ev(cus, "7", t + timedelta(minutes=1), "n2"),  # compared as strings: the same value
        ev(cus, "7.0", t + timedelta(minutes=1), "n3"),  # another string
    ]
    assert set(await record(account, events)) == {"ACCEPTED"}
    await usage.drain()
    month = (datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC))
    assert await usage.period_usage(account, meter, cus, *month) == 4
    for ident in ("a1", "a2"):
        await usage.cancel_event(account, "users", ident)
    assert await usage.period_usage(account, meter, cus, *month) == 4  # a3 still counts
    # [t, t + 1 h) no longer holds alice: 7 and "7.0" are left.
    assert await usage.period_usage(account, meter, cus, t, t + timedelta(hours=1)) == 2
    await usage.cancel_event(account, "users", "a3")
    assert await usage.period_usage(account, meter, cus, *month) == 3
    assert await summary(account, meter, cus, *month) == [(month[0], Decimal(3), {})]
    assert not await UsageUniqueValue.filter(meter_id=meter, value="alice").exists()
    # A canceled value recorded again counts again.
    assert await record(account, [ev(cus, "alice", t + timedelta(days=2), "a4")]) == ["ACCEPTED"]
    await usage.drain()
    assert await usage.period_usage(account, meter, cus, *month) == 4


async def test_unique_count_events_without_the_value_are_rejected_naming_it(db):
    account, meter, cus = await setup("UNIQUE_COUNT")
    t = datetime(2025, 3, 20, 8, 0, tzinfo=UTC)
    bad = [
        EventInput("users", {"customer_id": cus}, "x1", t),
        ev(cus, "", t, "x2"),
        ev(cus, {"id": 1}, t, "x3"),
        ev(cus, "u" * 201, t, "x4"),
    ]
    results = await record_events(account, bad)
    assert [r.status for r in results] == ["REJECTED"] * 4
    assert [(e.code, e.field) for r in results for e in r.errors] == [
        ("REQUIRED", ("input", "0", "payload", "user")),
        ("INVALID", ("input", "1", "payload", "user")),
        ("INVALID", ("input", "2", "payload", "user")),
        ("INVALID", ("input", "3", "payload", "user")),
    ]
    assert "UNIQUE_COUNT" in results[0].errors[0].message
    assert not await MeterEvent.filter(meter_id=meter).exists()
