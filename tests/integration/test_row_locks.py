"""Row locks that money depends on really are taken (tests/unit/test_row_lock_queries.py
keeps the ORM pattern that silently dropped them out of the code). Each test holds a
transaction open at the point where a concurrent writer would do harm, lets that writer run
for up to half a second, then finishes: with the lock the writer waits or skips; without it
the answer is wrong. On SQLite the writer waits for the database lock either way."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from tortoise.transactions import in_transaction

from meterbill.billing.aggregation import Rollup, merge, minute_bucket
from meterbill.db import stores
from meterbill.db.models import Customer, CustomerBalanceTransaction
from meterbill.services import catalog, usage
from meterbill.services.lifecycle import balances
from meterbill.services.now import utcnow
from tests.integration.usage_support import event, record, setup_meter

HOLD = 0.5  # seconds the first transaction waits for the concurrent one


async def _race(
    first: Callable[[], Awaitable[Any]],
    then: Callable[[], Awaitable[Any]],
    concurrent: Callable[[], Awaitable[Any]],
) -> tuple[Any, Any]:
    """In one transaction: first(), then up to HOLD s for concurrent() (its own task and
    transaction, started after first()), then then(). (then's result, concurrent's result)."""
    started, done = asyncio.Event(), asyncio.Event()

    async def other() -> Any:
        await started.wait()
        try:
            return await concurrent()
        finally:
            done.set()

    # Created outside the transaction: a task copies its creator's context, and with it
    # the open transaction's connection.
    task = asyncio.create_task(other())
    async with in_transaction():
        await first()
        started.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), HOLD)
        result = await then()
    return result, await task


async def test_concurrent_balance_changes_of_one_customer_both_count(db):
    account, _, _ = await setup_meter()
    cus = await catalog.create_customer(account, catalog.CustomerSpec(name="Balance"))
    now = utcnow()

    async def adjust(amount: int) -> Any:
        return await balances.adjust(account, cus.id, amount, "usd", None, now)

    async def adjust_in_own_transaction() -> Any:
        async with in_transaction():
            return await adjust(-50)

    await _race(lambda: adjust(-100), lambda: asyncio.sleep(0), adjust_in_own_transaction)

    assert (await Customer.get(id=cus.id)).balance == -150
    endings = await CustomerBalanceTransaction.filter(customer_id=cus.id).values_list(
        "amount", "ending_balance"
    )
    assert sorted(endings) == [(-100, -100), (-50, -150)]


async def test_a_final_invoice_read_holds_the_pending_events_it_counts(db):
    # cancel-now (services/usage/summaries.meter_period_usage(final=True)) counts the pending
    # events of whole minutes raw, then the rollups: a worker must not fold those events
    # in between, or they count twice.
    account, meter, cus = await setup_meter()
    ts = utcnow().replace(second=30, microsecond=0) - timedelta(minutes=5)
    await record(account, [event(cus, 7, ts, "pending")])
    lo, hi = minute_bucket(ts) - timedelta(hours=1), minute_bucket(ts) + timedelta(minutes=1)
    reads = stores.current().usage_reads
    held: list[Rollup] = []

    async def read_pending() -> None:
        held.append(await reads.unaggregated(account, meter, cus, hi, (lo, hi)))

    async def read_rollups() -> list[Any]:
        return await reads.rollups(account, meter, "SUM", cus, lo, hi, None, {})

    buckets, _ = await _race(read_pending, read_rollups, usage.aggregate_batch)
    total = held[0]
    for _, _, r in buckets:
        total = merge(total, r)
    assert total.sum == Decimal(7)
    await usage.drain()  # the worker folds it once the read has committed
    after = await reads.rollups(account, meter, "SUM", cus, lo, hi, None, {})
    assert sum(r.sum for _, _, r in after) == Decimal(7)
