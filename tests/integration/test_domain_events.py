"""Domain events (the outbox the webhook work delivers from): every state change of a
customer, subscription or invoice writes exactly one event row in its transaction; a change
that rolls back writes none; the billing clock's batches write one per invoice."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from tortoise.transactions import in_transaction

from meterbill.billing.errors import DomainError
from meterbill.db.models import DomainEvent, Invoice, Subscription
from meterbill.services import billing_steps, catalog, invoices, subscriptions, test_clocks
from meterbill.services.lifecycle import invoices as lifecycle_invoices
from meterbill.services.lifecycle import subscriptions as lifecycle_subscriptions
from meterbill.services.now import utcnow
from tests.integration.billing_setup import Catalog, make_catalog, subscribe_many

GRACE = 3600
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def grace() -> Iterator[None]:
    billing_steps.configure(GRACE)
    yield
    billing_steps.configure(None)


async def _types(account_id: str, object_id: str | None = None) -> list[str]:
    qs = DomainEvent.filter(account_id=account_id)
    if object_id is not None:
        qs = qs.filter(object_id=object_id)
    return [e.type for e in await qs.order_by("created_at", "id")]


async def _count(account_id: str) -> int:
    return await DomainEvent.filter(account_id=account_id).count()


async def _customer(cat: Catalog, pm: str | None, clock_id: str | None = None) -> str:
    spec = catalog.CustomerSpec(name="c", payment_method=pm, test_clock_id=clock_id)
    return (await catalog.create_customer(cat.account_id, spec)).id


async def _subscribe(cat: Catalog, customer_id: str, seats: int = 1) -> Subscription:
    req = subscriptions.SubscriptionRequest(
        customer_id=customer_id,
        items=[
            subscriptions.ItemRequest(cat.usage_price),
            subscriptions.ItemRequest(cat.license_price, seats),
        ],
    )
    return await subscriptions.create_subscription(cat.account_id, req)


async def test_customer_created_once_with_a_snapshot(db: Any) -> None:
    cat = await make_catalog("Events customer")
    clock = await test_clocks.create_test_clock(cat.account_id, T0, None)
    before = await _count(cat.account_id)
    cus = await _customer(cat, "pm_card_visa", clock.id)
    assert await _count(cat.account_id) == before + 1
    (row,) = await DomainEvent.filter(object_id=cus)
    data = orjson.loads(row.data)
    assert row.type == "customer.created"
    assert data["object"] == "customer" and data["id"] == cus
    assert data["defaultPaymentMethod"] == "pm_card_visa"
    assert data["createdAt"] == "2026-01-01T00:00:00Z"  # the clock's time, as the API says


async def test_subscription_create_and_first_invoice(db: Any) -> None:
    cat = await make_catalog("Events create")
    sub = await _subscribe(cat, await _customer(cat, "pm_card_visa"))
    assert await _types(cat.account_id, sub.id) == ["customer.subscription.created"]
    invoice = sub.latest_invoice_id
    assert invoice is not None
    assert await _types(cat.account_id, invoice) == [
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
    ]
    paid = await DomainEvent.get(object_id=invoice, type="invoice.paid")
    data = orjson.loads(paid.data)
    stored = await Invoice.get(id=invoice)
    assert (data["status"], data["number"], data["amountPaid"]) == (
        "PAID",
        stored.number,
        stored.amount_paid,
    )


async def test_a_declined_charge_fails_the_invoice_and_the_subscription_is_incomplete(
    db: Any,
) -> None:
    cat = await make_catalog("Events declined")
    sub = await _subscribe(cat, await _customer(cat, "pm_card_chargeDeclined"))
    invoice = sub.latest_invoice_id
    assert invoice is not None
    assert await _types(cat.account_id, invoice) == [
        "invoice.created",
        "invoice.finalized",
        "invoice.payment_failed",
    ]
    assert await _types(cat.account_id, sub.id) == [
        "customer.subscription.created",
        "customer.subscription.updated",
    ]
    updated = orjson.loads((await DomainEvent.get(object_id=sub.id, type__contains="upd")).data)
    assert updated["status"] == "INCOMPLETE"
    assert updated["previousAttributes"] == {"status": "ACTIVE"}
    # Paid out of band: the invoice is paid once, the subscription back to ACTIVE once.
    await invoices.pay_invoice(cat.account_id, invoice, out_of_band=True)
    assert (await _types(cat.account_id, invoice))[-1] == "invoice.paid"
    assert (await _types(cat.account_id, invoice)).count("invoice.paid") == 1
    assert await _types(cat.account_id, sub.id) == [
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.updated",
    ]
    # Refreshing again changes nothing and so announces nothing.
    before = await _count(cat.account_id)
    await invoices.refresh_subscription_status(sub.id)
    assert await _count(cat.account_id) == before


async def test_manual_moves_write_one_event_each_and_refused_ones_none(db: Any) -> None:
    cat = await make_catalog("Events moves")
    sub = await _subscribe(cat, await _customer(cat, None))  # no card: stays OPEN
    invoice = sub.latest_invoice_id
    assert invoice is not None
    await invoices.mark_uncollectible(cat.account_id, invoice)
    await invoices.void_invoice(cat.account_id, invoice)
    before = await _count(cat.account_id)
    with pytest.raises(DomainError):
        await invoices.void_invoice(cat.account_id, invoice)
    with pytest.raises(DomainError):
        await invoices.pay_invoice(cat.account_id, invoice, out_of_band=True)
    assert await _count(cat.account_id) == before
    assert await _types(cat.account_id, invoice) == [
        "invoice.created",
        "invoice.finalized",
        "invoice.marked_uncollectible",
        "invoice.voided",
    ]


async def test_seats_and_cancellation(db: Any) -> None:
    cat = await make_catalog("Events cancel")
    sub = await _subscribe(cat, await _customer(cat, "pm_card_visa"))
    item = next(
        i
        for i in await sub.items.all()
        if i.price_id == cat.license_price  # type: ignore[attr-defined]
    )
    await subscriptions.update_item(cat.account_id, item.id, 3, "NONE")
    await subscriptions.update_item(cat.account_id, item.id, 3, "NONE")  # no change, no event
    await subscriptions.cancel(cat.account_id, sub.id, at_period_end=True, invoice_now=False)
    other = await _subscribe(cat, await _customer(cat, "pm_card_visa"))
    await subscriptions.cancel(cat.account_id, other.id, at_period_end=False, invoice_now=False)
    assert await _types(cat.account_id, sub.id) == [
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.updated",
    ]
    seats, cancel = [
        orjson.loads(e.data)["previousAttributes"]
        for e in await DomainEvent.filter(object_id=sub.id, type__contains="upd").order_by(
            "created_at", "id"
        )
    ]
    assert seats == {"items": [{"id": item.id, "price": cat.license_price, "quantity": 1}]}
    assert cancel == {"cancelAtPeriodEnd": False}
    assert await _types(cat.account_id, other.id) == [
        "customer.subscription.created",
        "customer.subscription.deleted",
    ]
    deleted = orjson.loads((await DomainEvent.get(object_id=other.id, type__contains="del")).data)
    assert deleted["status"] == "CANCELED"


async def test_a_rolled_back_change_writes_no_event(db: Any) -> None:
    cat = await make_catalog("Events rollback")
    sub = await _subscribe(cat, await _customer(cat, None))
    invoice = sub.latest_invoice_id
    before = await _count(cat.account_id)

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with in_transaction():
            locked = await Subscription.get(id=sub.id)
            await lifecycle_subscriptions.cancel_now(locked, utcnow())
            raise Boom
    with pytest.raises(Boom):
        async with in_transaction():
            await lifecycle_invoices.move(await Invoice.get(id=invoice), "VOID", "void")
            raise Boom
    with pytest.raises(DomainError):  # a duplicate externalId rolls the customer back
        for _ in range(2):
            await catalog.create_customer(
                cat.account_id, catalog.CustomerSpec(name="x", external_id="dup")
            )
    assert await _count(cat.account_id) == before + 1  # the first customer only
    assert (await Subscription.get(id=sub.id)).status == "ACTIVE"
    assert (await Invoice.get(id=invoice)).status == "OPEN"


async def test_the_billing_clock_writes_one_event_per_invoice_and_change(db: Any) -> None:
    cat = await make_catalog("Events batch", interval="DAY")
    start = utcnow() - timedelta(days=1) + timedelta(seconds=30)
    subs = await subscribe_many(cat, 5, backdate=start)
    ending = await Subscription.get(id=subs[0])
    await subscriptions.cancel(cat.account_id, ending.id, at_period_end=True, invoice_now=False)
    before = await DomainEvent.filter(account_id=cat.account_id).values_list("id", flat=True)
    await billing_steps.run_due(start + timedelta(days=1, seconds=GRACE + 60))
    new = await DomainEvent.filter(account_id=cat.account_id).exclude(id__in=list(before))
    cycle = {
        i.id
        for i in await Invoice.filter(subscription_id__in=subs, billing_reason="SUBSCRIPTION_CYCLE")
    }
    assert len(cycle) == 5
    per_invoice = Counter((e.object_id, e.type) for e in new if e.object_id in cycle)
    want = {"invoice.created", "invoice.finalized", "invoice.paid"}
    assert per_invoice == Counter({(i, t): 1 for i in cycle for t in want})
    rest = [(e.object_id, e.type) for e in new if e.object_id not in cycle]
    assert rest == [(ending.id, "customer.subscription.deleted")]
    # A second pass has nothing to do and announces nothing.
    count = await _count(cat.account_id)
    await billing_steps.run_due(start + timedelta(days=1, seconds=GRACE + 60))
    assert await _count(cat.account_id) == count
