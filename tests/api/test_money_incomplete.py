"""INCOMPLETE / INCOMPLETE_EXPIRED and SEND_INVOICE past due (contract "money")."""

from __future__ import annotations

from tests import billing_helpers as b
from tests.api.money_support import (
    CREATE_TXN,
    attach,
    balance,
    dunning_invoices,
    event_types,
    seat_price,
    status,
)
from tests.billing_helpers import utc

PAY = """mutation($i: ID!) { payInvoice(input: {id: $i}) { invoice { status }
  userErrors { field code message } } }"""
CANCEL = """mutation($i: CancelSubscriptionInput!) { cancelSubscription(input: $i) {
  subscription { status canceledAt } userErrors { field code message } } }"""


async def _declined_at_creation(tenant) -> tuple[str, str, dict]:
    price = await seat_price(tenant, 1000)
    clock = await b.clock(tenant, utc(2026, 1, 1, 9))
    cus = await b.customer(tenant, clock, pm="pm_card_chargeDeclined")
    res = await b.subscribe(tenant, {"customerId": cus, "items": [{"priceId": price}]})
    return clock, cus, res["subscription"]


async def test_declined_first_payment_is_incomplete_then_active_when_paid(tenant):
    clock, cus, sub = await _declined_at_creation(tenant)
    assert sub["status"] == "INCOMPLETE"
    first = (await dunning_invoices(tenant, sub["id"]))[0]
    # Not retried.
    assert (first["status"], first["attemptCount"], first["nextPaymentAttempt"]) == (
        "OPEN",
        1,
        None,
    )
    await b.advance(tenant, clock, utc(2026, 1, 2, 7))  # 22 hours later: still INCOMPLETE
    assert await status(tenant, sub["id"]) == "INCOMPLETE"
    await attach(tenant, cus, "pm_card_visa")
    d = await tenant.data(PAY, {"i": first["id"]})
    assert d["payInvoice"]["invoice"]["status"] == "PAID"
    assert await status(tenant, sub["id"]) == "ACTIVE"
    await b.advance(tenant, clock, utc(2026, 1, 3))  # past 23 hours: nothing expires
    assert await status(tenant, sub["id"]) == "ACTIVE"


async def test_incomplete_expires_after_23_hours_with_its_invoice_void(tenant):
    clock, _, sub = await _declined_at_creation(tenant)
    await b.advance(tenant, clock, utc(2026, 1, 2, 7, 59, 59))
    assert await status(tenant, sub["id"]) == "INCOMPLETE"
    await b.advance(tenant, clock, utc(2026, 1, 2, 8))  # created 09:00 + 23 h
    assert await status(tenant, sub["id"]) == "INCOMPLETE_EXPIRED"
    invs = await dunning_invoices(tenant, sub["id"])
    assert [i["status"] for i in invs] == ["VOID"]
    assert (await event_types(tenant, invs[0]["id"]))[-1] == "invoice.voided"
    assert await event_types(tenant, sub["id"]) == [
        "customer.subscription.created",
        "customer.subscription.updated",  # INCOMPLETE
        "customer.subscription.updated",  # INCOMPLETE_EXPIRED
    ]
    # Nothing more is billed.
    await b.advance(tenant, clock, utc(2026, 2, 2, 10))
    assert len(await dunning_invoices(tenant, sub["id"])) == 1
    assert await b.upcoming(tenant, sub["id"]) is None


async def test_cancelling_an_incomplete_subscription_voids_its_first_invoice(tenant):
    # Stripe: an incomplete subscription may be cancelled (now); its open first invoice is
    # voided, giving back what it took from the customer's balance.
    price = await seat_price(tenant, 1000)
    clock = await b.clock(tenant, utc(2026, 1, 1, 9))
    cus = await b.customer(tenant, clock, pm="pm_card_chargeDeclined")
    credit = {"customerId": cus, "amount": -400, "currency": "usd", "description": "goodwill"}
    assert (await tenant.data(CREATE_TXN, {"i": credit}))["createCustomerBalanceTransaction"][
        "userErrors"
    ] == []
    sub = (await b.subscribe(tenant, {"customerId": cus, "items": [{"priceId": price}]}))[
        "subscription"
    ]
    assert sub["status"] == "INCOMPLETE"
    [first] = await dunning_invoices(tenant, sub["id"])
    assert (first["status"], first["amountDue"]) == ("OPEN", 600)
    assert (await balance(tenant, cus))["balance"] == 0
    await b.advance(tenant, clock, utc(2026, 1, 1, 15))

    async def cancel(**kw: bool) -> dict:
        d = await tenant.data(CANCEL, {"i": {"subscriptionId": sub["id"], **kw}})
        return d["cancelSubscription"]

    # Only now, and with nothing to invoice or credit (nothing was paid): nothing changes.
    for field in ("atPeriodEnd", "invoiceNow", "prorate"):
        out = await cancel(**{field: True})
        assert [(e["field"], e["code"]) for e in out["userErrors"]] == [
            (["input", field], "INVALID")
        ], out
    assert await status(tenant, sub["id"]) == "INCOMPLETE"
    assert [i["status"] for i in await dunning_invoices(tenant, sub["id"])] == ["OPEN"]

    out = await cancel()
    assert out["userErrors"] == []
    assert out["subscription"] == {"status": "CANCELED", "canceledAt": "2026-01-01T15:00:00Z"}
    assert [i["status"] for i in await dunning_invoices(tenant, sub["id"])] == ["VOID"]
    assert (await balance(tenant, cus))["balance"] == -400
    assert await event_types(tenant, sub["id"]) == [
        "customer.subscription.created",
        "customer.subscription.deleted",
        "customer.subscription.updated",  # INCOMPLETE
    ]
    assert (await event_types(tenant, first["id"]))[-1] == "invoice.voided"
    assert (await cancel())["userErrors"][0]["code"] == "CONFLICT"  # already canceled
    # The expiry at 23 hours leaves it CANCELED; nothing more is billed.
    await b.advance(tenant, clock, utc(2026, 2, 2, 10))
    assert await status(tenant, sub["id"]) == "CANCELED"
    assert len(await dunning_invoices(tenant, sub["id"])) == 1
    assert await b.upcoming(tenant, sub["id"]) is None


async def test_send_invoice_subscription_is_past_due_after_its_due_date(tenant):
    price = await seat_price(tenant, 1000)
    clock = await b.clock(tenant, utc(2026, 1, 1))
    cus = await b.customer(tenant, clock, pm=None)
    sub = (
        await b.subscribe(
            tenant,
            {
                "customerId": cus,
                "collectionMethod": "SEND_INVOICE",
                "daysUntilDue": 10,
                "items": [{"priceId": price}],
            },
        )
    )["subscription"]
    assert sub["latestInvoice"]["dueDate"] == "2026-01-11T00:00:00Z"
    await b.advance(tenant, clock, utc(2026, 1, 10, 23))
    assert await status(tenant, sub["id"]) == "ACTIVE"
    await b.advance(tenant, clock, utc(2026, 1, 11, 1))
    assert await status(tenant, sub["id"]) == "PAST_DUE"
    first = (await dunning_invoices(tenant, sub["id"]))[0]
    assert (first["attemptCount"], first["nextPaymentAttempt"]) == (0, None)  # no attempts
    d = await tenant.data(
        "mutation($i: ID!) { payInvoice(input: {id: $i, paidOutOfBand: true}) { invoice "
        "{ status } userErrors { message } } }",
        {"i": first["id"]},
    )
    assert d["payInvoice"]["invoice"]["status"] == "PAID"
    assert await status(tenant, sub["id"]) == "ACTIVE"
