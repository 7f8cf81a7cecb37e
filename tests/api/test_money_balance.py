"""Customer balance (contract "money"): a downgrade's negative total is kept as credit and
taken by the next invoices (Stripe's figures), adjustments, voiding gives back, bad input."""

from __future__ import annotations

from tests import billing_helpers as b
from tests.api.money_support import (
    CREATE_TXN,
    UPDATE_ITEM,
    balance,
    money_invoices,
    seat_price,
)
from tests.billing_helpers import utc


async def test_downgrade_credit_is_kept_and_taken_by_the_next_invoices(tenant):
    # Stripe's example: 8 -> 3 seats of 10.00 on Jan 11 with ALWAYS_INVOICE: credit for 21/31
    # of 8 seats (-5419) and charge for 21/31 of 3 (2032) = -3387, kept as credit.
    price = await seat_price(tenant, 1000)
    clock = await b.clock(tenant, utc(2026, 1, 1))
    cus = await b.customer(tenant, clock)
    res = await b.subscribe(
        tenant, {"customerId": cus, "items": [{"priceId": price, "quantity": 8}]}
    )
    sub = res["subscription"]
    await b.advance(tenant, clock, utc(2026, 1, 11))
    d = await tenant.data(
        UPDATE_ITEM,
        {
            "i": {
                "itemId": sub["items"][0]["id"],
                "quantity": 3,
                "prorationBehavior": "ALWAYS_INVOICE",
            }
        },
    )
    assert d["updateSubscriptionItem"]["userErrors"] == []
    invs = await money_invoices(tenant, sub["id"])
    update = invs[-1]
    assert update["billingReason"] == "SUBSCRIPTION_UPDATE"
    assert (update["total"], update["amountDue"], update["status"]) == (-3387, 0, "PAID")
    assert (update["startingBalance"], update["endingBalance"]) == (0, -3387)
    bal = await balance(tenant, cus)
    assert (bal["balance"], bal["balanceCurrency"]) == (-3387, "usd")
    assert [(t["type"], t["amount"], t["endingBalance"]) for t in bal["transactions"]] == [
        ("INVOICE_CREDIT", -3387, -3387)
    ]
    assert bal["transactions"][0]["invoice"]["id"] == update["id"]

    # The upcoming invoice shows what the balance will take.
    up = await b.upcoming(tenant, sub["id"])
    assert (up["total"], up["amountDue"]) == (3000, 0)

    await b.advance(tenant, clock, utc(2026, 2, 1, 2))
    feb = (await money_invoices(tenant, sub["id"]))[-1]
    assert (feb["total"], feb["startingBalance"], feb["amountDue"], feb["endingBalance"]) == (
        3000,
        -3387,
        0,
        -387,
    )
    assert feb["status"] == "PAID"
    await b.advance(tenant, clock, utc(2026, 3, 1, 2))
    mar = (await money_invoices(tenant, sub["id"]))[-1]
    assert (mar["total"], mar["startingBalance"], mar["amountDue"], mar["endingBalance"]) == (
        3000,
        -387,
        2613,
        0,
    )
    assert (mar["status"], mar["amountPaid"]) == ("PAID", 2613)
    bal = await balance(tenant, cus)
    assert bal["balance"] == 0
    # Newest first; they sum to the balance.
    assert [(t["type"], t["amount"]) for t in bal["transactions"]] == [
        ("APPLIED_TO_INVOICE", 387),
        ("APPLIED_TO_INVOICE", 3000),
        ("INVOICE_CREDIT", -3387),
    ]
    assert sum(t["amount"] for t in bal["transactions"]) == bal["balance"]


async def test_adjustment_credit_pays_part_of_the_next_invoice_and_void_gives_it_back(tenant):
    price = await seat_price(tenant, 1000)
    clock = await b.clock(tenant, utc(2026, 4, 1))
    cus = await b.customer(tenant, clock, pm=None)  # invoices stay OPEN
    d = await tenant.data(
        CREATE_TXN,
        {"i": {"customerId": cus, "amount": -400, "currency": "usd", "description": "goodwill"}},
    )
    txn = d["createCustomerBalanceTransaction"]
    assert txn["userErrors"] == []
    assert txn["customerBalanceTransaction"]["type"] == "ADJUSTMENT"
    assert txn["customerBalanceTransaction"]["endingBalance"] == -400
    res = await b.subscribe(tenant, {"customerId": cus, "items": [{"priceId": price}]})
    first = (await money_invoices(tenant, res["subscription"]["id"]))[0]
    assert (first["total"], first["startingBalance"], first["amountDue"]) == (1000, -400, 600)
    assert (first["endingBalance"], first["status"]) == (0, "OPEN")
    assert (await balance(tenant, cus))["balance"] == 0
    d = await tenant.data(
        "mutation($i: ID!) { voidInvoice(input: {id: $i}) { invoice { status } "
        "userErrors { message } } }",
        {"i": first["id"]},
    )
    assert d["voidInvoice"]["invoice"]["status"] == "VOID"
    bal = await balance(tenant, cus)
    assert bal["balance"] == -400
    # All at the clock's one instant: their order among themselves is not defined.
    assert sorted((t["type"], t["amount"]) for t in bal["transactions"]) == [
        ("ADJUSTMENT", -400),  # the credit given
        ("ADJUSTMENT", -400),  # the void gives back what the invoice took
        ("APPLIED_TO_INVOICE", 400),
    ]


async def test_bad_balance_transactions_name_the_field_and_change_nothing(tenant, other_tenant):
    cus = await b.customer(tenant, None)
    ok = await tenant.data(CREATE_TXN, {"i": {"customerId": cus, "amount": 250, "currency": "usd"}})
    assert ok["createCustomerBalanceTransaction"]["userErrors"] == []

    async def errors(inp):
        d = await tenant.data(CREATE_TXN, {"i": {"customerId": cus, **inp}})
        out = d["createCustomerBalanceTransaction"]
        assert out["customerBalanceTransaction"] is None
        return [(e["field"], e["code"]) for e in out["userErrors"]]

    assert await errors({"amount": 0, "currency": "usd"}) == [(["input", "amount"], "INVALID")]
    assert await errors({"amount": 100, "currency": "eur"}) == [(["input", "currency"], "INVALID")]
    assert await errors({"amount": 100, "currency": "USD"}) == [(["input", "currency"], "INVALID")]
    assert await errors({"amount": 100, "currency": "usd", "description": "x" * 501}) == [
        (["input", "description"], "INVALID")
    ]
    foreign = await b.customer(other_tenant, None)
    assert await errors({"customerId": foreign, "amount": 100, "currency": "usd"}) == [
        (["input", "customerId"], "NOT_FOUND")
    ]
    bal = await balance(tenant, cus)
    assert (bal["balance"], len(bal["transactions"])) == (250, 1)
    assert (await balance(other_tenant, foreign))["balance"] == 0
