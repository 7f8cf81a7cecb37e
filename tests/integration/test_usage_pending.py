"""The pending table (meter_events_pending): every path that stores events gives each new
event exactly one pending row in the same statement or transaction, a duplicate identifier
none; the worker's claim takes them away; a cancel racing a worker's claim rebuilds its
bucket only once that worker's fold has committed (PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

from tortoise import connections

from meterbill.billing.aggregation import minute_bucket
from meterbill.db import stores
from meterbill.db.models import MeterEvent, MeterEventPending, UsageRollup, UsageRollupHourly
from meterbill.db.usage_sql import Row
from meterbill.services import usage
from meterbill.services.now import utcnow
from meterbill.services.usage.aggregate import hour_bucket, waiting
from tests import services as svc
from tests.integration.usage_support import event, record, rollup_sum, setup_meter


async def _pending_identifiers(account: str) -> list[str]:
    qs = MeterEvent.filter(account_id=account, id__in=waiting()).order_by("identifier")
    return list(await qs.values_list("identifier", flat=True))


async def test_each_stored_event_is_pending_once_and_duplicates_never(db):
    account, meter, cus = await setup_meter()
    ts = utcnow() - timedelta(minutes=2)
    # recordMeterEvents (on PostgreSQL bulk's unnest INSERT), a duplicate within the batch.
    got = await record(
        account, [event(cus, 1, ts, "a"), event(cus, 2, ts, "b"), event(cus, 4, ts, "a")]
    )
    assert got == ["ACCEPTED", "ACCEPTED", "DUPLICATE"]
    assert await record(account, [event(cus, 8, ts, "a"), event(cus, 16, ts, "c")]) == [
        "DUPLICATE",
        "ACCEPTED",
    ]
    # recordMeterEvent's general path, then (PostgreSQL: meter and customer now known) its
    # shared-statement path.
    for ident in ("d", "d", "b"):
        await usage.record_events(account, [event(cus, 32, ts, ident)], batch=False)
    for ident in ("e", "e", "c"):
        await usage.record_event(account, event(cus, 64, ts, ident))
    # The bulk endpoint's insert: a new identifier twice, an old one.
    rows: list[Row] = [
        (i, meter, cus, ident, "tokens", "128", ts, "", None)
        for i, ident in enumerate(("f", "f", "a"))
    ]
    assert await stores.current().events.insert(account, utcnow(), rows) in (None, {"f"})

    assert await _pending_identifiers(account) == ["a", "b", "c", "d", "e", "f"]
    events = await MeterEvent.filter(account_id=account).values_list("id", flat=True)
    assert len(events) == 6
    assert await MeterEventPending.filter(event_id__in=events).count() == 6
    await usage.drain()
    assert await _pending_identifiers(account) == []
    assert await rollup_sum(meter) == (Decimal(1 + 2 + 16 + 32 + 64 + 128), 6)


async def test_a_pending_row_is_folded_even_if_its_event_row_is_gone(db):
    # Nothing deletes an unfolded event (retention waits for the fold), but an operator
    # might. PostgreSQL: the pending row carries what the fold reads (meter_events is
    # partitioned; no join by id), so the event still counts. SQLite reads the event: the
    # claim takes such a row away and folds nothing for it. Either way the row goes.
    account, meter, cus = await setup_meter()
    ts = utcnow() - timedelta(minutes=2)
    await record(account, [event(cus, 1, ts, "a"), event(cus, 2, ts, "gone"), event(cus, 4, ts)])
    await MeterEvent.filter(account_id=account, identifier="gone").delete()
    ids = await MeterEvent.filter(account_id=account).values_list("id", flat=True)
    assert await MeterEventPending.filter(event_id__gte=min(ids)).count() == 3
    assert await usage.aggregate_batch(limit=10) == 3
    assert not await MeterEventPending.filter(event_id__gte=min(ids)).exists()
    pg = connections.get("default").capabilities.dialect == "postgres"
    assert await rollup_sum(meter) == ((Decimal(7), 3) if pg else (Decimal(5), 2))


async def _until_waiting_on_locks(n: int) -> None:
    """Until n sessions of this database wait for a lock (bounded)."""
    conn = connections.get("default")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        rows = await conn.execute_query_dict(
            "SELECT count(*) AS n FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        if rows[0]["n"] >= n:
            return
        assert loop.time() < deadline, f"fewer than {n} sessions wait for a lock"
        await asyncio.sleep(0.02)


async def test_cancel_waits_for_the_worker_holding_its_event(db):
    # A worker has claimed the pending event (its pending row deleted, not yet committed) and
    # waits for the minute rollup, locked here. A cancel of that event must not take "its
    # pending row is still there" for "never folded": its delete waits for the worker, finds
    # nothing once the worker commits, and rebuilds the minute and hour without the event.
    svc.require_pg()
    account, meter, cus = await setup_meter()
    ts = utcnow().replace(second=30, microsecond=0) - timedelta(minutes=5)
    await record(account, [event(cus, 1, ts, "kept")])
    await usage.drain()
    await record(account, [event(cus, 10, ts, "canceled")])

    client = connections.get("default")
    async with client.acquire_connection() as blocker:
        lock = blocker.transaction()
        await lock.start()
        await blocker.execute(
            "SELECT 1 FROM usage_rollups WHERE meter_id = $1 AND bucket = $2 FOR UPDATE",
            meter,
            minute_bucket(ts),
        )
        worker = asyncio.create_task(usage.aggregate_batch())
        await _until_waiting_on_locks(1)
        cancel = asyncio.create_task(usage.cancel_event(account, "tokens", "canceled"))
        await _until_waiting_on_locks(2)
        await lock.rollback()
    assert await worker == 1
    assert (await cancel).status == "CANCELED"

    assert await rollup_sum(meter) == (Decimal(1), 1)
    hour = await UsageRollupHourly.get(meter_id=meter, bucket=hour_bucket(ts))
    assert (Decimal(hour.sum), hour.count) == (Decimal(1), 1)
    assert await _pending_identifiers(account) == []


async def test_cancel_gives_way_to_a_fold_inserting_the_rollup_it_rebuilds(db):
    # A cancel found no minute rollup to lock, and a worker's fold inserts that row before
    # the cancel's rebuild writes it: the rebuild must not fail on the unique key (INTERNAL)
    # but wait for the fold's commit, then rebuild under that row's lock. The window is
    # opened by hand: both events are folded, their rollups removed, and the "worker" is an
    # open transaction that has inserted the minute's row (kept's value) and not committed.
    svc.require_pg()
    account, meter, cus = await setup_meter()
    ts = utcnow().replace(second=30, microsecond=0) - timedelta(minutes=5)
    await record(account, [event(cus, 1, ts, "kept"), event(cus, 10, ts, "canceled")])
    await usage.drain()
    await UsageRollup.filter(meter_id=meter).delete()
    await UsageRollupHourly.filter(meter_id=meter).delete()

    client = connections.get("default")
    async with client.acquire_connection() as fold:
        tx = fold.transaction()
        await tx.start()
        await fold.execute(
            "INSERT INTO usage_rollups (account_id, meter_id, customer_id, bucket, "
            "dimensions_key, sum, count, last_value, last_ts, last_seq) "
            "VALUES ($1, $2, $3, $4, '', 1, 1, NULL, NULL, NULL)",
            account,
            meter,
            cus,
            minute_bucket(ts),
        )
        cancel = asyncio.create_task(usage.cancel_event(account, "tokens", "canceled"))
        await _until_waiting_on_locks(1)
        await tx.commit()
    assert (await cancel).status == "CANCELED"
    assert await rollup_sum(meter) == (Decimal(1), 1)
    hour = await UsageRollupHourly.get(meter_id=meter, bucket=hour_bucket(ts))
    assert (Decimal(hour.sum), hour.count) == (Decimal(1), 1)
