"""Minimum charge (contract "money"): an amount due below the currency's minimum is not
charged; the invoice is PAID with amountPaid 0 and the amount is carried to the next one."""

from __future__ import annotations

from meterbill.db.models import PaymentAttempt
from tests import billing_helpers as b
from tests.api.money_support import balance, money_invoices, seat_price
from tests.billing_helpers import utc


async def test_thirty_cents_are_carried_to_the_next_invoice(tenant):
    price = await seat_price(tenant, 30)
    clock = await b.clock(tenant, utc(2026, 1, 1))
    cus = await b.customer(tenant, clock)
    sub = (await b.subscribe(tenant, {"customerId": cus, "items": [{"priceId": price}]}))[
        "subscription"
    ]
    first = (await money_invoices(tenant, sub["id"]))[0]
    assert (first["total"], first["amountDue"], first["amountPaid"], first["status"]) == (
        30,
        30,
        0,
        "PAID",
    )
    assert await PaymentAttempt.filter(invoice_id=first["id"]).count() == 0
    bal = await balance(tenant, cus)
    assert bal["balance"] == 30
    assert [(t["type"], t["amount"]) for t in bal["transactions"]] == [("INVOICE_TOO_SMALL", 30)]

    await b.advance(tenant, clock, utc(2026, 2, 1, 2))
    feb = (await money_invoices(tenant, sub["id"]))[-1]
    assert (feb["total"], feb["startingBalance"], feb["amountDue"], feb["endingBalance"]) == (
        30,
        30,
        60,
        0,
    )
    assert (feb["status"], feb["amountPaid"]) == ("PAID", 60)
    assert (await balance(tenant, cus))["balance"] == 0


async def test_gbp_minimum_is_thirty_pence(tenant):
    price = await seat_price(tenant, 30, currency="gbp")
    cus = await b.customer(tenant, await b.clock(tenant, utc(2026, 1, 1)))
    sub = (await b.subscribe(tenant, {"customerId": cus, "items": [{"priceId": price}]}))[
        "subscription"
    ]
    first = (await money_invoices(tenant, sub["id"]))[0]
    assert (first["amountDue"], first["amountPaid"], first["status"]) == (30, 30, "PAID")
    assert (await balance(tenant, cus))["balance"] == 0
