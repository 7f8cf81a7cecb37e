"""Cancel now with invoiceNow (contract "money"): the final invoice bills every usage event
of the period up to and at the cancellation instant, aggregated or not yet."""

from __future__ import annotations

from tests import billing_helpers as b
from tests.api.money_support import money_invoices
from tests.billing_helpers import utc

RECORD = """mutation($i: MeterEventInput!) { recordMeterEvent(input: $i) {
  meterEvent { value } userErrors { field code message } } }"""
CANCEL = """mutation($i: CancelSubscriptionInput!) { cancelSubscription(input: $i) {
  subscription { id status latestInvoice { id } } userErrors { field code message } } }"""


async def _metered(tenant) -> tuple[str, str]:
    meter = await tenant.data(
        'mutation { createMeter(input: {displayName: "Calls", eventName: "calls", '
        "aggregation: SUM}) { meter { id } } }"
    )
    product = await tenant.data(
        'mutation { createProduct(input: {name: "Calls"}) { product { id } } }'
    )
    price = await b.price(
        tenant,
        {
            "productId": product["createProduct"]["product"]["id"],
            "currency": "usd",
            "unitAmount": 10,
            "recurring": {
                "interval": "MONTH",
                "usageType": "METERED",
                "meterId": meter["createMeter"]["meter"]["id"],
            },
        },
    )
    return meter["createMeter"]["meter"]["id"], price


async def _record(tenant, cus: str, value: int, at) -> None:
    d = await tenant.data(
        RECORD,
        {
            "i": {
                "eventName": "calls",
                "payload": {"customer_id": cus, "value": value},
                "timestamp": b.iso(at),
            }
        },
    )
    assert d["recordMeterEvent"]["userErrors"] == [], d


async def test_cancel_now_bills_usage_recorded_up_to_and_at_the_instant(tenant):
    _, price = await _metered(tenant)
    clock = await b.clock(tenant, utc(2026, 1, 1))
    cus = await b.customer(tenant, clock)
    sub = (await b.subscribe(tenant, {"customerId": cus, "items": [{"priceId": price}]}))[
        "subscription"
    ]
    await b.advance(tenant, clock, utc(2026, 1, 15, 10, 30))
    await _record(tenant, cus, 50, utc(2026, 1, 10))
    # At the cancellation instant, and cancelled right after recording: not yet aggregated.
    await _record(tenant, cus, 100, utc(2026, 1, 15, 10, 30))
    d = await tenant.data(CANCEL, {"i": {"subscriptionId": sub["id"], "invoiceNow": True}})
    assert d["cancelSubscription"]["userErrors"] == []
    assert d["cancelSubscription"]["subscription"]["status"] == "CANCELED"
    final = (await money_invoices(tenant, sub["id"]))[-1]
    assert final["billingReason"] == "SUBSCRIPTION_CANCEL"
    assert (final["total"], final["status"], final["amountPaid"]) == (1500, "PAID", 1500)
    lines = (await b.invoices(tenant, sub["id"]))[-1]["lines"]
    assert [(ln["quantity"], ln["amount"]) for ln in lines] == [("150", 1500)]


async def test_usage_after_the_instant_is_not_billed(tenant):
    _, price = await _metered(tenant)
    clock = await b.clock(tenant, utc(2026, 1, 1))
    cus = await b.customer(tenant, clock)
    sub = (await b.subscribe(tenant, {"customerId": cus, "items": [{"priceId": price}]}))[
        "subscription"
    ]
    await b.advance(tenant, clock, utc(2026, 1, 15, 10, 30))
    await _record(tenant, cus, 7, utc(2026, 1, 15, 10, 29, 59))
    await _record(tenant, cus, 1000, utc(2026, 1, 15, 10, 31))  # a minute ahead of the clock
    await tenant.data(CANCEL, {"i": {"subscriptionId": sub["id"], "invoiceNow": True}})
    final = (await money_invoices(tenant, sub["id"]))[-1]
    assert final["total"] == 70
