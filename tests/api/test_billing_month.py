"""The seed's month end to end over GraphQL: first invoice, usage, upcoming invoice, the
cycle invoice through its grace period (late usage), finalization and collection."""

from __future__ import annotations

from datetime import timedelta

from tests import billing_helpers as b
from tests.billing_helpers import utc

START = utc(2026, 1, 1)


async def _seed(tenant, mode="FLEXIBLE", pm="pm_card_visa", start=START, cat=None):
    cat = cat or await b.catalog(tenant)
    clock = await b.clock(tenant, start)
    cus = await b.customer(tenant, clock, pm)
    res = await b.subscribe(
        tenant,
        {
            "customerId": cus,
            "billingMode": mode,
            "items": [{"priceId": cat["usage"]}, {"priceId": cat["license"], "quantity": 1}],
        },
    )
    assert res["userErrors"] == [], res
    return cat, clock, cus, res["subscription"]


async def test_seed_month_end_to_end(tenant):
    cat, clock, cus, sub = await _seed(tenant)
    assert sub["status"] == "ACTIVE"
    assert (sub["currentPeriodStart"], sub["currentPeriodEnd"]) == (
        "2026-01-01T00:00:00Z",
        "2026-02-01T00:00:00Z",
    )
    first = sub["latestInvoice"]
    assert first["billingReason"] == "SUBSCRIPTION_CREATE"
    assert first["status"] == "PAID"
    assert first["number"] == "ALPACAAI-0001"
    assert [(ln["description"], ln["amount"]) for ln in first["lines"]] == [
        ("1 × Alpaca AI license fee", 10000)
    ]

    await b.use(cat["meter"], cus, 3000, START + timedelta(days=14))
    up = await b.upcoming(tenant, sub["id"])
    assert up is not None and up["id"] is None and up["number"] is None
    assert up["billingReason"] == "UPCOMING"
    assert up["total"] == 18000
    assert [(ln["type"], ln["tier"], ln["quantity"], ln["amount"]) for ln in up["lines"]] == [
        ("SUBSCRIPTION", 1, "1000", 0),
        ("SUBSCRIPTION", 2, "2000", 8000),
        ("SUBSCRIPTION", None, "1", 10000),
    ]
    assert all(ln["id"] is None for ln in up["lines"])

    # Period end + 30 min: a DRAFT cycle invoice, the period has advanced.
    end = utc(2026, 2, 1)
    await b.advance(tenant, clock, end + timedelta(minutes=30))
    draft = (await b.invoices(tenant, sub["id"]))[-1]
    assert draft["billingReason"] == "SUBSCRIPTION_CYCLE"
    assert draft["status"] == "DRAFT" and draft["number"] is None
    assert draft["automaticallyFinalizesAt"] == "2026-02-01T01:00:00Z"
    assert (draft["periodStart"], draft["periodEnd"]) == (b.iso(START), b.iso(end))
    license_line = [ln for ln in draft["lines"] if ln["tier"] is None][0]
    assert (license_line["periodStart"], license_line["periodEnd"]) == (
        "2026-02-01T00:00:00Z",
        "2026-03-01T00:00:00Z",
    )
    now = await b.subscription(tenant, sub["id"])
    assert now["currentPeriodStart"] == "2026-02-01T00:00:00Z"

    # Late usage for January arriving inside the grace period is billed.
    await b.use(cat["meter"], cus, 500, end - timedelta(minutes=5))
    await b.advance(tenant, clock, end + timedelta(hours=2))
    cycle = (await b.invoices(tenant, sub["id"]))[-1]
    assert cycle["id"] == draft["id"]
    assert cycle["status"] == "PAID"
    assert cycle["number"] == "ALPACAAI-0002"
    assert cycle["finalizedAt"] == "2026-02-01T01:00:00Z"
    assert cycle["paidAt"] == "2026-02-01T01:00:00Z"
    usage = [ln for ln in cycle["lines"] if ln["tier"] is not None]
    assert [(ln["quantity"], ln["amount"]) for ln in usage] == [("1000", 0), ("2500", 10000)]
    assert all(ln["periodEnd"] == b.iso(end) for ln in usage)
    assert cycle["total"] == cycle["amountPaid"] == 20000
    assert cycle["amountRemaining"] == 0

    # January usage arriving after finalization is billed nowhere.
    await b.use(cat["meter"], cus, 7000, end - timedelta(minutes=1))
    await b.advance(tenant, clock, utc(2026, 3, 1, 2))
    march = (await b.invoices(tenant, sub["id"]))[-1]
    assert march["periodStart"] == b.iso(end)
    assert march["status"] == "PAID"
    assert march["total"] == 10000  # February: no usage, the license for March
    assert [ln["number"] for ln in [march]] == ["ALPACAAI-0003"]


async def test_default_first_invoice_classic_vs_flexible(tenant):
    cat, _, _, flexible = await _seed(tenant, "FLEXIBLE")
    assert len(flexible["latestInvoice"]["lines"]) == 1
    _, _, _, classic = await _seed(tenant, "CLASSIC", cat=cat)
    lines = classic["latestInvoice"]["lines"]
    assert sorted((ln["description"], ln["amount"], ln["quantity"]) for ln in lines) == [
        ("1 × Alpaca AI license fee", 10000, "1"),
        ("Alpaca AI usage", 0, "0"),
    ]
    assert classic["latestInvoice"]["total"] == 10000


async def test_metered_only_flexible_has_no_first_invoice_classic_a_zero_one(tenant):
    cat = await b.catalog(tenant)
    cus = await b.customer(tenant, await b.clock(tenant, START))
    flex = await b.subscribe(tenant, {"customerId": cus, "items": [{"priceId": cat["usage"]}]})
    assert flex["subscription"]["latestInvoice"] is None
    classic = await b.subscribe(
        tenant,
        {"customerId": cus, "billingMode": "CLASSIC", "items": [{"priceId": cat["usage"]}]},
    )
    inv = classic["subscription"]["latestInvoice"]
    assert inv["total"] == 0 and inv["status"] == "PAID"


async def test_declined_card_incomplete_until_paid(tenant):
    _, _, cus, sub = await _seed(tenant, pm="pm_card_chargeDeclined")
    assert sub["status"] == "INCOMPLETE"
    inv = sub["latestInvoice"]
    assert inv["status"] == "OPEN" and inv["amountPaid"] == 0
    retry = await tenant.data(
        "mutation($i: ID!) { payInvoice(input: {id: $i}) { invoice { status } "
        "userErrors { field code message } } }",
        {"i": inv["id"]},
    )
    assert retry["payInvoice"]["invoice"] is None
    assert retry["payInvoice"]["userErrors"][0]["field"] == ["input", "id"]
    await tenant.data(
        "mutation($c: ID!) { attachPaymentMethod(input: {customerId: $c, paymentMethod: "
        '"pm_card_visa"}) { customer { id } } }',
        {"c": cus},
    )
    paid = await tenant.data(
        "mutation($i: ID!) { payInvoice(input: {id: $i}) { invoice { status amountPaid "
        "amountRemaining } userErrors { message } } }",
        {"i": inv["id"]},
    )
    assert paid["payInvoice"]["invoice"] == {
        "status": "PAID",
        "amountPaid": 10000,
        "amountRemaining": 0,
    }
    assert (await b.subscription(tenant, sub["id"]))["status"] == "ACTIVE"


async def test_no_payment_method_leaves_invoice_open_subscription_active(tenant):
    _, _, _, sub = await _seed(tenant, pm=None)
    assert sub["latestInvoice"]["status"] == "OPEN"
    assert sub["status"] == "ACTIVE"


async def test_send_invoice_due_date(tenant):
    cat = await b.catalog(tenant)
    cus = await b.customer(tenant, await b.clock(tenant, START))
    missing = await b.subscribe(
        tenant,
        {
            "customerId": cus,
            "collectionMethod": "SEND_INVOICE",
            "items": [{"priceId": cat["license"]}],
        },
    )
    assert missing["userErrors"][0]["field"] == ["input", "daysUntilDue"]
    assert missing["userErrors"][0]["code"] == "REQUIRED"
    res = await b.subscribe(
        tenant,
        {
            "customerId": cus,
            "collectionMethod": "SEND_INVOICE",
            "daysUntilDue": 30,
            "items": [{"priceId": cat["license"]}],
        },
    )
    inv = res["subscription"]["latestInvoice"]
    assert inv["status"] == "OPEN"
    assert inv["finalizedAt"] == "2026-01-01T00:00:00Z"
    assert inv["dueDate"] == "2026-01-31T00:00:00Z"
    assert res["subscription"]["status"] == "ACTIVE"
