"""An invoice made at once (cancel now with invoiceNow, ALWAYS_INVOICE) bills the span of a
metered price changed during the period (services/usage_spans) with the span's events the
worker has not folded yet, at the old price, and each event once (contract "money", issue
13). No worker runs here: events stay pending until a test drains them."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from tortoise import connections
from tortoise.transactions import in_transaction

from meterbill.billing import invoice as inv
from meterbill.billing.price_rules import PriceInput
from meterbill.db.models import InvoiceLine, MeterEvent, Subscription, TestClock
from meterbill.db.usage_sql import is_postgres
from meterbill.services import (
    catalog,
    prices,
    subscription_changes,
    subscriptions,
    usage,
    usage_spans,
)
from meterbill.services.accounts import create_account
from meterbill.services.test_clocks import create_test_clock
from meterbill.services.usage import EventInput, record_events
from meterbill.services.usage.aggregate import waiting


def utc(*a: int) -> datetime:
    return datetime(*a, tzinfo=UTC)  # type: ignore[misc]


@dataclass
class Setup:
    account: str
    clock: str
    ten: str  # metered, 10c a unit
    twenty: str  # metered, 20c a unit
    seat: str  # licensed, 1000 a month


async def _setup() -> Setup:
    account = (await create_account("Spans"))[0].id
    meter = await catalog.create_meter(account, catalog.MeterSpec("Calls", "calls", "SUM"))
    product = await catalog.create_product(account, "Calls", None)
    ids = []
    for kw in (
        {"unit_amount": 10, "usage_type": "METERED", "meter_id": meter.id},
        {"unit_amount": 20, "usage_type": "METERED", "meter_id": meter.id},
        {"unit_amount": 1000},
    ):
        pricing = PriceInput(currency="usd", interval="MONTH", **kw)  # type: ignore[arg-type]
        ids.append(
            (await prices.create_price(account, prices.PriceRequest(product.id, None, pricing))).id
        )
    clock = await create_test_clock(account, utc(2026, 4, 1), "spans")
    return Setup(account, clock.id, *ids)


async def _subscribe(s: Setup, *items: tuple[str, int | None]) -> Subscription:
    spec = catalog.CustomerSpec(name="c", payment_method="pm_card_visa", test_clock_id=s.clock)
    cus = await catalog.create_customer(s.account, spec)
    req = subscriptions.SubscriptionRequest(
        cus.id, [subscriptions.ItemRequest(p, q) for p, q in items]
    )
    return await subscriptions.create_subscription(s.account, req)


async def _at(s: Setup, now: datetime) -> None:
    # Within April: no period closes, so the clock's time is all that moves.
    await TestClock.filter(id=s.clock).update(frozen_time=now)


async def _record(s: Setup, cus: str, *events: tuple[int, datetime]) -> None:
    got = await record_events(
        s.account,
        [EventInput("calls", {"customer_id": cus, "value": v}, None, t) for v, t in events],
    )
    assert [r.status for r in got] == ["ACCEPTED"] * len(events)


async def _swap(s: Setup, sub: Subscription, price: str, behavior: str, **seats: int) -> None:
    items = await subscriptions.items_of(s.account, [sub.id])
    changes = [
        subscription_changes.ItemChange(id=i.id, price_id=price)
        for i in items
        if i.price.usage_type == "METERED"
    ] + [
        subscription_changes.ItemChange(id=i.id, quantity=seats["seats"])
        for i in items
        if i.price.usage_type == "LICENSED" and "seats" in seats
    ]
    req = subscription_changes.UpdateRequest(sub.id, None, changes, behavior)
    await subscription_changes.update_subscription(s.account, req)


async def _metered_lines(invoice_id: str) -> list[tuple[str | None, str, int, int]]:
    lines = await InvoiceLine.filter(invoice_id=invoice_id, usage_type="METERED")
    return sorted((ln.price_id, ln.type, int(Decimal(ln.quantity)), ln.amount) for ln in lines)


async def _pending(account: str) -> int:
    return await MeterEvent.filter(account_id=account, id__in=waiting()).count()


async def test_cancel_now_bills_the_unfolded_events_of_a_changed_price_at_it(db):
    s = await _setup()
    sub = await _subscribe(s, (s.ten, None))
    await _at(s, utc(2026, 4, 10))
    await _record(s, sub.customer_id, (100, utc(2026, 4, 5)))
    await _at(s, utc(2026, 4, 16))
    await _swap(s, sub, s.twenty, "CREATE_PRORATIONS")
    await _at(s, utc(2026, 4, 20))
    # After the change: late in the old price's span, at the change instant (the new
    # price's), and later; then cancelled now, none of it folded.
    await _record(
        s,
        sub.customer_id,
        (30, utc(2026, 4, 12)),
        (50, utc(2026, 4, 16)),
        (20, utc(2026, 4, 18, 12)),
    )
    assert await _pending(s.account) == 4
    await subscriptions.cancel(s.account, sub.id, False, True)
    final = await Subscription.get(id=sub.id)
    assert final.status == "CANCELED"
    assert await _metered_lines(str(final.latest_invoice_id)) == sorted(
        [(s.ten, "PRORATION", 130, 1300), (s.twenty, "SUBSCRIPTION", 70, 1400)]
    )
    # The worker folds them afterwards: once each.
    assert await usage.drain() == 4
    assert await _pending(s.account) == 0


async def test_always_invoice_bills_the_unfolded_events_of_the_old_price(db):
    s = await _setup()
    sub = await _subscribe(s, (s.ten, None), (s.seat, 1))
    await _at(s, utc(2026, 4, 16))
    await _record(s, sub.customer_id, (100, utc(2026, 4, 5)), (40, utc(2026, 4, 16)))
    # A price swap with a seat added, invoiced at once: the span [Apr 1, Apr 16) bills the
    # 100 at 10c; the 40 at the change instant is the new price's, on the next invoice.
    await _swap(s, sub, s.twenty, "ALWAYS_INVOICE", seats=2)
    after = await Subscription.get(id=sub.id)
    assert await _metered_lines(str(after.latest_invoice_id)) == [(s.ten, "PRORATION", 100, 1000)]
    assert await _pending(s.account) == 2
    await usage.drain()
    up = await subscriptions.upcoming_invoice(s.account, sub.id)
    assert up is not None
    assert [(d.price_id, d.quantity, d.amount) for d in up.lines if d.usage_type == "METERED"] == [
        (s.twenty, Decimal(40), 800)
    ]


def _span(price: str, units: int) -> inv.LineDraft:
    # A span line as subscription_changes pends it (its amount is priced again).
    return inv.LineDraft(
        "PRORATION",
        "METERED",
        "Calls",
        price,
        None,
        Decimal(units),
        None,
        10 * units,
        utc(2026, 4, 1),
        utc(2026, 4, 16),
    )


async def test_a_span_read_for_an_invoice_made_now_holds_its_pending_events(db):
    # The span's pending events are read raw and locked before its rollups are read, until
    # the invoice's transaction ends: a worker folding meanwhile skips them (PostgreSQL) or
    # waits (SQLite), so none counts both raw and in a rollup.
    s = await _setup()
    sub = await _subscribe(s, (s.ten, None))
    await _at(s, utc(2026, 4, 20))
    await _record(s, sub.customer_id, (100, utc(2026, 4, 5)), (30, utc(2026, 4, 15, 23, 59)))
    pg = is_postgres(connections.get("default"))
    started, done = asyncio.Event(), asyncio.Event()
    left_pending: list[int] = []

    async def worker() -> None:
        await started.wait()
        await usage.aggregate_batch()
        left_pending.append(await _pending(s.account))
        done.set()

    task = asyncio.create_task(worker())  # outside the transaction: its own connection
    async with in_transaction():
        [lines] = await usage_spans.reprice([(sub.customer_id, [_span(s.ten, 0)])], unfolded=True)
        started.set()
        if pg:  # skips the held rows at once
            await asyncio.wait_for(done.wait(), 30)
        else:  # waits for the database lock
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), 0.3)
            assert not done.is_set()
        again = await usage_spans.reprice([(sub.customer_id, [_span(s.ten, 0)])], unfolded=True)
    await task
    assert [(d.quantity, d.amount) for d in lines] == [(Decimal(130), 1300)]
    assert again == [lines]
    # PostgreSQL: the worker ran during the transaction and left both; SQLite: after it.
    assert left_pending == [2 if pg else 0]
    await usage.drain()
    assert await usage_spans.reprice([(sub.customer_id, [_span(s.ten, 0)])]) == [lines]


async def test_cancels_racing_folds_bill_each_span_event_once(db):
    s = await _setup()
    subs = [await _subscribe(s, (s.ten, None)) for _ in range(6)]
    await _at(s, utc(2026, 4, 16))
    for sub in subs:
        await _swap(s, sub, s.twenty, "CREATE_PRORATIONS")
    await _at(s, utc(2026, 4, 20))
    # 40 events a customer in the span (each in its own minute) and 10 after the change,
    # all pending; folded in small batches while every subscription is cancelled now.
    for sub in subs:
        span = [(1, utc(2026, 4, 15, 23, 59 - k)) for k in range(40)]
        now = [(1, utc(2026, 4, 19, 12, k)) for k in range(10)]
        await _record(s, sub.customer_id, *span, *now)

    async def fold() -> None:
        for _ in range(1000):
            if not await usage.aggregate_batch(7):
                return

    await asyncio.gather(
        fold(),
        *(subscriptions.cancel(s.account, sub.id, False, True) for sub in subs),
        fold(),
    )
    for sub in subs:
        final = await Subscription.get(id=sub.id)
        assert await _metered_lines(str(final.latest_invoice_id)) == sorted(
            [(s.ten, "PRORATION", 40, 400), (s.twenty, "SUBSCRIPTION", 10, 200)]
        )
    await usage.drain()
    assert await _pending(s.account) == 0
