"""Set-up shared by the money tests: a seat price, a subscription on a test clock, the
customer's balance and its transactions."""

from __future__ import annotations

from typing import Any

from tests import billing_helpers as b

UPDATE_ITEM = """mutation($i: UpdateSubscriptionItemInput!) { updateSubscriptionItem(input: $i) {
  subscriptionItem { id quantity } userErrors { field code message } } }"""
BALANCE = """query($c: ID!) { customer(id: $c) { balance balanceCurrency
  balanceTransactions(first: 50) { edges { node { id type amount currency endingBalance
  description invoice { id } } } } } }"""
CREATE_TXN = """mutation($i: CreateCustomerBalanceTransactionInput!) {
  createCustomerBalanceTransaction(input: $i) {
    customerBalanceTransaction { id type amount currency endingBalance description }
    userErrors { field code message } } }"""
MONEY_FIELDS = "id status total amountDue amountPaid startingBalance endingBalance billingReason"


async def seat_price(tenant: Any, unit_amount: int, currency: str = "usd") -> str:
    d = await tenant.data('mutation { createProduct(input: {name: "Seats"}) { product { id } } }')
    return await b.price(
        tenant,
        {
            "productId": d["createProduct"]["product"]["id"],
            "currency": currency,
            "unitAmount": unit_amount,
            "recurring": {"interval": "MONTH"},
        },
    )


async def balance(tenant: Any, customer_id: str) -> dict[str, Any]:
    d = await tenant.data(BALANCE, {"c": customer_id})
    c = d["customer"]
    c["transactions"] = [e["node"] for e in c.pop("balanceTransactions")["edges"]]
    return dict(c)


async def money_invoices(tenant: Any, sub_id: str) -> list[dict[str, Any]]:
    """The subscription's invoices, oldest first, with their balance fields."""
    d = await tenant.data(
        "query($s: ID!) { invoices(subscriptionId: $s, first: 100) { edges { node { "
        f"{MONEY_FIELDS} }} }} }} }}",
        {"s": sub_id},
    )
    return [e["node"] for e in reversed(d["invoices"]["edges"])]


ATTACH = """mutation($c: ID!, $pm: String) { attachPaymentMethod(input: {customerId: $c,
  paymentMethod: $pm}) { customer { id } userErrors { field code message } } }"""
SETTINGS = """mutation($i: UpdateBillingSettingsInput!) { updateBillingSettings(input: $i) {
  billingSettings { paymentRetryDays subscriptionAfterRetries invoiceAfterRetries }
  userErrors { field code message } } }"""
DUNNING_FIELDS = "id status attemptCount nextPaymentAttempt amountDue amountPaid billingReason"


async def attach(tenant: Any, customer_id: str, pm: str) -> None:
    d = await tenant.data(ATTACH, {"c": customer_id, "pm": pm})
    assert d["attachPaymentMethod"]["userErrors"] == [], d


async def dunning_invoices(tenant: Any, sub_id: str) -> list[dict[str, Any]]:
    d = await tenant.data(
        "query($s: ID!) { invoices(subscriptionId: $s, first: 100) { edges { node { "
        f"{DUNNING_FIELDS} }} }} }} }}",
        {"s": sub_id},
    )
    return [e["node"] for e in reversed(d["invoices"]["edges"])]


async def status(tenant: Any, sub_id: str) -> str:
    d = await tenant.data("query($s: ID!) { subscription(id: $s) { status } }", {"s": sub_id})
    return str(d["subscription"]["status"])


async def event_types(tenant: Any, object_id: str) -> list[str]:
    """The types of the events recorded about `object_id` (sorted: events of one instant
    have no order among themselves)."""
    d = await tenant.data(
        "query($o: ID!) { events(objectId: $o, first: 100) { edges { node { type } } } }",
        {"o": object_id},
    )
    return sorted(e["node"]["type"] for e in d["events"]["edges"])
