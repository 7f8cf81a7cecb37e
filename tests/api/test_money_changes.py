"""updateSubscription, cancel with prorate, FLEXIBLE credits and backdating with an anchor
(contract "money")."""

from __future__ import annotations

from typing import Any

from tests import billing_helpers as b
from tests.api.money_support import balance, event_types, money_invoices, seat_price
from tests.billing_helpers import utc

UPDATE = """mutation($i: UpdateSubscriptionInput!) { updateSubscription(input: $i) {
  subscription { id status cancelAtPeriodEnd items { id quantity price { id } } }
  userErrors { field code message } } }"""
CANCEL = """mutation($i: CancelSubscriptionInput!) { cancelSubscription(input: $i) {
  subscription { id status latestInvoice { id total amountDue endingBalance
    lines { type amount } } } userErrors { field code message } } }"""


async def _update(tenant: Any, inp: dict[str, Any]) -> dict[str, Any]:
    d = await tenant.data(UPDATE, {"i": inp})
    return dict(d["updateSubscription"])


async def _april(tenant: Any, price: str, **extra: Any) -> tuple[str, str, dict[str, Any]]:
    clock = await b.clock(tenant, utc(2026, 4, 1))
    cus = await b.customer(tenant, clock)
    res = await b.subscribe(tenant, {"customerId": cus, "items": [{"priceId": price}], **extra})
    assert res["userErrors"] == [], res
    return clock, cus, res["subscription"]


async def _metered_price(tenant: Any, meter: str, product: str, unit: int) -> str:
    return await b.price(
        tenant,
        {
            "productId": product,
            "currency": "usd",
            "unitAmount": unit,
            "recurring": {"interval": "MONTH", "usageType": "METERED", "meterId": meter},
        },
    )


async def test_price_swap_at_half_of_april_prorates_plus_500(tenant):
    ten, twenty = await seat_price(tenant, 1000), await seat_price(tenant, 2000)
    clock, _, sub = await _april(tenant, ten)
    await b.advance(tenant, clock, utc(2026, 4, 16))  # April has 30 days: exactly half left
    res = await _update(
        tenant,
        {"subscriptionId": sub["id"], "items": [{"id": sub["items"][0]["id"], "priceId": twenty}]},
    )
    assert res["userErrors"] == []
    assert [(i["price"]["id"], i["quantity"]) for i in res["subscription"]["items"]] == [
        (twenty, 1)
    ]
    up = await b.upcoming(tenant, sub["id"])
    prorations = [ln["amount"] for ln in up["lines"] if ln["type"] == "PRORATION"]
    assert prorations == [-500, 1000] and sum(prorations) == 500
    await b.advance(tenant, clock, utc(2026, 5, 1, 2))
    may = (await money_invoices(tenant, sub["id"]))[-1]
    assert may["total"] == 2000 + 500


async def test_metered_price_change_bills_usage_before_and_after_at_their_prices(tenant):
    cat = await b.catalog(tenant)
    ten = await _metered_price(tenant, cat["meter"], cat["usage_product"], 10)
    twenty = await _metered_price(tenant, cat["meter"], cat["usage_product"], 20)
    clock, cus, sub = await _april(tenant, ten)
    await b.use(cat["meter"], cus, 100, utc(2026, 4, 5))
    await b.advance(tenant, clock, utc(2026, 4, 16))
    res = await _update(
        tenant,
        {"subscriptionId": sub["id"], "items": [{"id": sub["items"][0]["id"], "priceId": twenty}]},
    )
    assert res["userErrors"] == []
    await b.use(cat["meter"], cus, 50, utc(2026, 4, 20))
    await b.advance(tenant, clock, utc(2026, 5, 1, 2))
    cycle = (await b.invoices(tenant, sub["id"]))[-1]
    assert sorted((ln["quantity"], ln["amount"]) for ln in cycle["lines"]) == [
        ("100", 1000),  # before the change, at 10c
        ("50", 1000),  # after it, at 20c
    ]
    assert cycle["total"] == 2000 and cycle["status"] == "PAID"


async def test_add_and_remove_items_and_undo_a_scheduled_cancellation(tenant):
    ten, twenty = await seat_price(tenant, 1000), await seat_price(tenant, 2000)
    clock, _, sub = await _april(tenant, ten)
    await b.advance(tenant, clock, utc(2026, 4, 16))
    res = await _update(
        tenant,
        {
            "subscriptionId": sub["id"],
            "items": [
                {"priceId": twenty, "quantity": 2},
                {"id": sub["items"][0]["id"], "deleted": True},
            ],
            "cancelAtPeriodEnd": True,
        },
    )
    assert res["userErrors"] == []
    assert res["subscription"]["cancelAtPeriodEnd"] is True
    assert [(i["price"]["id"], i["quantity"]) for i in res["subscription"]["items"]] == [
        (twenty, 2)
    ]
    res = await _update(tenant, {"subscriptionId": sub["id"], "cancelAtPeriodEnd": False})
    assert res["subscription"]["cancelAtPeriodEnd"] is False
    # Items, scheduled and undone: three updates.
    assert (await event_types(tenant, sub["id"])).count("customer.subscription.updated") == 3
    up = await b.upcoming(tenant, sub["id"])
    prorations = sorted(ln["amount"] for ln in up["lines"] if ln["type"] == "PRORATION")
    assert prorations == [-500, 2000]  # half of 10.00 back, half of 2 x 20.00
    await b.advance(tenant, clock, utc(2026, 5, 1, 2))
    assert (await b.subscription(tenant, sub["id"]))["status"] == "ACTIVE"
    may = (await money_invoices(tenant, sub["id"]))[-1]
    assert may["total"] == 4000 - 500 + 2000


async def test_bad_updates_name_the_field_and_change_nothing(tenant):
    ten = await seat_price(tenant, 1000)
    euro = await seat_price(tenant, 1000, currency="eur")
    d = await tenant.data('mutation { createProduct(input: {name: "Y"}) { product { id } } }')
    yearly = await b.price(
        tenant,
        {
            "productId": d["createProduct"]["product"]["id"],
            "currency": "usd",
            "unitAmount": 1000,
            "recurring": {"interval": "YEAR"},
        },
    )
    clock, _, sub = await _april(tenant, ten)
    item = sub["items"][0]["id"]

    async def errors(items: list[dict[str, Any]]) -> list[tuple[list[str], str]]:
        res = await _update(tenant, {"subscriptionId": sub["id"], "items": items})
        assert res["subscription"] is None
        return [(e["field"], e["code"]) for e in res["userErrors"]]

    assert await errors([{"id": item, "priceId": euro}]) == [
        (["input", "items", "0", "priceId"], "INVALID")
    ]
    assert await errors([{"id": item, "priceId": yearly}]) == [
        (["input", "items", "0", "priceId"], "INVALID")
    ]
    assert await errors([{"id": item, "deleted": True}]) == [(["input", "items"], "INVALID")]
    assert await errors([{"id": item, "quantity": 0}]) == [
        (["input", "items", "0", "quantity"], "INVALID")
    ]
    assert await errors([{"id": "si_nope", "quantity": 2}]) == [
        (["input", "items", "0", "id"], "NOT_FOUND")
    ]
    assert await errors([{"quantity": 2}]) == [(["input", "items", "0", "priceId"], "REQUIRED")]
    now = await b.subscription(tenant, sub["id"])
    assert [(i["id"], i["quantity"]) for i in now["items"]] == [(item, 1)]
    up = await b.upcoming(tenant, sub["id"])
    assert all(ln["type"] == "SUBSCRIPTION" for ln in up["lines"])


async def test_cancel_now_with_prorate_credits_the_unused_time(tenant):
    ten = await seat_price(tenant, 1000)
    clock, cus, sub = await _april(tenant, ten)
    await b.advance(tenant, clock, utc(2026, 4, 16))
    d = await tenant.data(
        CANCEL, {"i": {"subscriptionId": sub["id"], "invoiceNow": True, "prorate": True}}
    )
    out = d["cancelSubscription"]
    assert out["userErrors"] == [] and out["subscription"]["status"] == "CANCELED"
    final = out["subscription"]["latestInvoice"]
    assert [(ln["type"], ln["amount"]) for ln in final["lines"]] == [("PRORATION", -500)]
    assert (final["total"], final["amountDue"], final["endingBalance"]) == (-500, 0, -500)
    assert (await balance(tenant, cus))["balance"] == -500
    bad = await tenant.data(
        CANCEL, {"i": {"subscriptionId": sub["id"], "atPeriodEnd": True, "prorate": True}}
    )
    assert bad["cancelSubscription"]["userErrors"][0]["field"] == ["input", "prorate"]


async def _first_period_credit(tenant: Any, mode: str) -> int:
    """A 22-day first period (Mar 10 -> anchor Apr 1) of 31.00 bills 22.00; cancelled with
    prorate on Mar 21, half of the period is unused."""
    price = await seat_price(tenant, 3100)
    clock = await b.clock(tenant, utc(2026, 3, 10))
    cus = await b.customer(tenant, clock)
    res = await b.subscribe(
        tenant,
        {
            "customerId": cus,
            "billingMode": mode,
            "billingCycleAnchor": b.iso(utc(2026, 4, 1)),
            "items": [{"priceId": price}],
        },
    )
    sub = res["subscription"]
    assert sub["latestInvoice"]["total"] == 2200
    await b.advance(tenant, clock, utc(2026, 3, 21))
    d = await tenant.data(CANCEL, {"i": {"subscriptionId": sub["id"], "prorate": True}})
    lines = d["cancelSubscription"]["subscription"]["latestInvoice"]["lines"]
    return int(sum(ln["amount"] for ln in lines if ln["type"] == "PRORATION"))


async def test_flexible_credit_is_the_unused_share_of_what_was_billed(tenant):
    assert await _first_period_credit(tenant, "FLEXIBLE") == -1100


async def test_classic_credit_is_the_unused_share_at_the_current_price(tenant):
    assert await _first_period_credit(tenant, "CLASSIC") == -1550


async def test_stripe_backdating_example_with_an_anchor(tenant):
    price = await seat_price(tenant, 1000)
    clock = await b.clock(tenant, utc(2026, 10, 15))
    cus = await b.customer(tenant, clock)
    res = await b.subscribe(
        tenant,
        {
            "customerId": cus,
            "backdateStartDate": b.iso(utc(2026, 9, 1)),
            "billingCycleAnchor": b.iso(utc(2026, 11, 1)),
            "items": [{"priceId": price}],
        },
    )
    assert res["userErrors"] == []
    sub = res["subscription"]
    assert (sub["currentPeriodStart"], sub["currentPeriodEnd"]) == (
        "2026-09-01T00:00:00Z",
        "2026-11-01T00:00:00Z",
    )
    assert sub["billingCycleAnchor"] == "2026-11-01T00:00:00Z"
    assert sub["latestInvoice"]["total"] == 2000  # Sep and Oct
    # Beyond one interval after the creation: refused, naming the field.
    late = await b.subscribe(
        tenant,
        {
            "customerId": cus,
            "backdateStartDate": b.iso(utc(2026, 9, 1)),
            "billingCycleAnchor": b.iso(utc(2026, 11, 16)),
            "items": [{"priceId": price}],
        },
    )
    assert late["userErrors"][0]["field"] == ["input", "billingCycleAnchor"]
    await b.advance(tenant, clock, utc(2026, 11, 1, 2))
    nov = (await money_invoices(tenant, sub["id"]))[-1]
    assert nov["total"] == 1000
