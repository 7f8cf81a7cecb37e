"""Aggregation against the real database (both backends): exactly-once folding, cancels of
pending events, period usage."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

from meterbill.db.models import MeterEvent
from meterbill.services import usage
from meterbill.services.now import utcnow
from meterbill.services.usage.aggregate import waiting
from tests.integration.usage_support import event, record, rollup_sum, setup_meter


async def test_running_the_job_twice_counts_once(db):
    account, meter, cus = await setup_meter()
    ts = utcnow() - timedelta(minutes=1)
    await record(account, [event(cus, "0.1", ts) for _ in range(10)])
    # Two runs at once and one after: each event is folded by exactly one of them.
    await asyncio.gather(usage.drain(), usage.drain())
    await usage.drain()
    assert await rollup_sum(meter) == (Decimal(1), 10)
    assert not await MeterEvent.filter(meter_id=meter, id__in=waiting()).exists()


async def test_small_batches_across_buckets(db):
    account, meter, cus = await setup_meter()
    base = utcnow().replace(second=0, microsecond=0) - timedelta(minutes=30)
    await record(account, [event(cus, i, base + timedelta(seconds=7 * i)) for i in range(200)])
    while await usage.aggregate_batch(limit=13):
        pass
    assert await rollup_sum(meter) == (Decimal(sum(range(200))), 200)
    end = base + timedelta(minutes=30)
    assert await usage.period_usage(account, meter, cus, base, end) == sum(range(200))


async def test_cancel_of_a_pending_event_is_never_counted(db):
    account, meter, cus = await setup_meter()
    ts = utcnow()
    await record(account, [event(cus, 3, ts, "p"), event(cus, 4, ts, "q")])
    canceled = await usage.cancel_event(account, "tokens", "p")
    assert canceled.status == "CANCELED"
    # Taken back from the workers before any folded it: "q" alone still waits, no rollup yet.
    pending = MeterEvent.filter(meter_id=meter, id__in=waiting())
    assert await pending.values_list("identifier", flat=True) == ["q"]
    assert await rollup_sum(meter) == (Decimal(0), 0)
    await usage.drain()
    assert await rollup_sum(meter) == (Decimal(4), 1)


async def test_period_usage_is_exact_at_the_boundaries(db):
    account, meter, cus = await setup_meter()
    t0 = utcnow().replace(second=0, microsecond=0) - timedelta(hours=2)
    await record(
        account,
        [
            event(cus, 1, t0 + timedelta(seconds=10)),  # before the period
            event(cus, 2, t0 + timedelta(seconds=20)),  # first, partial minute
            event(cus, "0.5", t0 + timedelta(minutes=30)),
            event(cus, 4, t0 + timedelta(minutes=59, seconds=59)),  # last, partial minute
            event(cus, 8, t0 + timedelta(hours=1, seconds=1)),  # at the end: excluded
        ],
    )
    await usage.drain()
    start, end = t0 + timedelta(seconds=20), t0 + timedelta(hours=1, seconds=1)
    assert await usage.period_usage(account, meter, cus, start, end) == Decimal("6.5")
    # Within a single minute.
    inner = t0 + timedelta(seconds=15), t0 + timedelta(seconds=25)
    assert await usage.period_usage(account, meter, cus, *inner) == 2
    assert await usage.period_usage(account, meter, cus, end, start) == 0
    # Another account reads nothing.
    other, _, _ = await setup_meter()
    assert await usage.period_usage(other, meter, cus, start, end) == 0


async def test_period_usage_last_and_count(db):
    account, meter, cus = await setup_meter("LAST")
    t0 = utcnow().replace(second=0, microsecond=0) - timedelta(hours=1)
    await record(account, [event(cus, 5, t0 + timedelta(minutes=5)), event(cus, 3, t0)])
    await usage.drain()
    assert await usage.period_usage(account, meter, cus, t0, t0 + timedelta(hours=1)) == 5
    account, meter, cus = await setup_meter("COUNT")
    await record(account, [event(cus, None, t0) for _ in range(3)])
    await usage.drain()
    assert await usage.period_usage(account, meter, cus, t0, t0 + timedelta(hours=1)) == 3


async def test_a_slots_job_folds_events_committed_after_its_first_drain(db):
    # Each process asks for its slot's job once; an event committed in the same slot after
    # the job's first drain must still be folded by that job, not wait for the sweep.
    account, meter, cus = await setup_meter()
    ts = utcnow() - timedelta(minutes=1)
    await record(account, [event(cus, 1, ts, "a")])
    job = asyncio.create_task(usage.drain_slot(utcnow().timestamp() + 0.9))
    while await MeterEvent.filter(meter_id=meter, id__in=waiting()).exists():  # noqa: ASYNC110 - polls the database
        await asyncio.sleep(0.01)
    await record(account, [event(cus, 2, ts, "b")])
    assert not job.done()
    assert await job == 2
    assert await rollup_sum(meter) == (Decimal(3), 2)
