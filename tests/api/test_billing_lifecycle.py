"""Subscription rules over GraphQL: anchors and month ends, backdating, prorations,
cancellations, validation, invoice transitions, account isolation."""

from __future__ import annotations

from tests import billing_helpers as b
from tests.billing_helpers import utc

UPDATE = """mutation($i: UpdateSubscriptionItemInput!) { updateSubscriptionItem(input: $i) {
  subscriptionItem { id quantity } userErrors { field code message } } }"""
CANCEL = """mutation($i: CancelSubscriptionInput!) { cancelSubscription(input: $i) {
  subscription { id status canceledAt cancelAtPeriodEnd } userErrors { field code message } } }"""


def _invoice_op(name: str, extra: str = "") -> str:
    return (
        f"mutation($i: ID!) {{ {name}(input: {{id: $i{extra}}}) {{ invoice {{ id status "
        "amountPaid } userErrors { field code message } } }"
    )


async def _license_sub(tenant, start, cat=None, **inp):
    cat = cat or await b.catalog(tenant)
    clock = await b.clock(tenant, start)
    cus = await b.customer(tenant, clock)
    res = await b.subscribe(
        tenant, {"customerId": cus, "items": [{"priceId": cat["license"]}], **inp}
    )
    assert res["userErrors"] == [], res
    return cat, clock, cus, res["subscription"]


async def test_monthly_anchor_on_the_31st_bills_feb_28_then_mar_31(tenant):
    _, clock, _, sub = await _license_sub(tenant, utc(2026, 1, 31, 10))
    assert sub["currentPeriodEnd"] == "2026-02-28T10:00:00Z"
    # Two steps: a clock moves at most two intervals at once (Jan 31 + 2 months = Mar 31).
    await b.advance(tenant, clock, utc(2026, 2, 28, 12))
    await b.advance(tenant, clock, utc(2026, 3, 31, 12))
    invs = await b.invoices(tenant, sub["id"])
    assert [(i["billingReason"], i["periodStart"], i["periodEnd"]) for i in invs[1:]] == [
        ("SUBSCRIPTION_CYCLE", "2026-01-31T10:00:00Z", "2026-02-28T10:00:00Z"),
        ("SUBSCRIPTION_CYCLE", "2026-02-28T10:00:00Z", "2026-03-31T10:00:00Z"),
    ]
    assert [i["status"] for i in invs] == ["PAID", "PAID", "PAID"]
    assert [i["number"][-4:] for i in invs] == ["0001", "0002", "0003"]
    now = await b.subscription(tenant, sub["id"])
    assert (now["currentPeriodStart"], now["currentPeriodEnd"]) == (
        "2026-03-31T10:00:00Z",
        "2026-04-30T10:00:00Z",
    )


async def test_later_anchor_prorates_the_first_period_to_the_second(tenant):
    _, clock, _, sub = await _license_sub(
        tenant, utc(2026, 3, 10), billingCycleAnchor=b.iso(utc(2026, 4, 1))
    )
    assert (sub["currentPeriodStart"], sub["currentPeriodEnd"]) == (
        "2026-03-10T00:00:00Z",
        "2026-04-01T00:00:00Z",
    )
    assert sub["billingCycleAnchor"] == "2026-04-01T00:00:00Z"
    assert sub["latestInvoice"]["total"] == 7097  # 10000 x 22/31, rounded half-up
    await b.advance(tenant, clock, utc(2026, 4, 1, 2))
    cycle = (await b.invoices(tenant, sub["id"]))[-1]
    assert cycle["total"] == 10000
    assert (cycle["lines"][0]["periodStart"], cycle["lines"][0]["periodEnd"]) == (
        "2026-04-01T00:00:00Z",
        "2026-05-01T00:00:00Z",
    )


async def test_anchor_more_than_a_period_away_is_invalid(tenant):
    cat = await b.catalog(tenant)
    cus = await b.customer(tenant, await b.clock(tenant, utc(2026, 3, 10)))
    res = await b.subscribe(
        tenant,
        {
            "customerId": cus,
            "billingCycleAnchor": b.iso(utc(2026, 5, 1)),
            "items": [{"priceId": cat["license"]}],
        },
    )
    assert res["subscription"] is None
    assert res["userErrors"][0]["field"] == ["input", "billingCycleAnchor"]


async def test_backdated_start_bills_usage_since_the_start(tenant):
    cat = await b.catalog(tenant)
    cus = await b.customer(tenant, await b.clock(tenant, utc(2026, 1, 15)))
    await b.use(cat["meter"], cus, 1500, utc(2026, 1, 5))  # before the subscription existed
    res = await b.subscribe(
        tenant,
        {
            "customerId": cus,
            "backdateStartDate": b.iso(utc(2026, 1, 1)),
            "items": [{"priceId": cat["usage"]}, {"priceId": cat["license"]}],
        },
    )
    sub = res["subscription"]
    assert sub["startDate"] == "2026-01-01T00:00:00Z"
    assert sub["currentPeriodEnd"] == "2026-02-01T00:00:00Z"
    assert sub["latestInvoice"]["total"] == 10000
    up = await b.upcoming(tenant, sub["id"])
    assert up["total"] == 10000 + 500 * 4


async def test_validation_names_the_offending_item(tenant, other_tenant):
    cat = await b.catalog(tenant)
    eur = await b.price(
        tenant,
        {
            "productId": cat["license_product"],
            "currency": "eur",
            "unitAmount": 100,
            "recurring": {"interval": "MONTH"},
        },
    )
    yearly = await b.price(
        tenant,
        {
            "productId": cat["license_product"],
            "currency": "usd",
            "unitAmount": 100,
            "recurring": {"interval": "YEAR"},
        },
    )
    cus = await b.customer(tenant, None)

    async def errors(items, customer=cus):
        res = await b.subscribe(tenant, {"customerId": customer, "items": items})
        assert res["subscription"] is None
        return [(e["field"], e["code"]) for e in res["userErrors"]]

    lic = cat["license"]
    assert await errors([{"priceId": lic}, {"priceId": eur}]) == [
        (["input", "items", "1", "priceId"], "INVALID")
    ]
    assert await errors([{"priceId": lic}, {"priceId": yearly}]) == [
        (["input", "items", "1", "priceId"], "INVALID")
    ]
    assert await errors([{"priceId": lic, "quantity": 0}]) == [
        (["input", "items", "0", "quantity"], "INVALID")
    ]
    assert await errors([{"priceId": cat["usage"], "quantity": 2}]) == [
        (["input", "items", "0", "quantity"], "INVALID")
    ]
    assert await errors([]) == [(["input", "items"], "REQUIRED")]
    assert await errors([{"priceId": "price_nope"}]) == [
        (["input", "items", "0", "priceId"], "NOT_FOUND")
    ]
    foreign = await b.customer(other_tenant, None)
    assert await errors([{"priceId": lic}], foreign) == [(["input", "customerId"], "NOT_FOUND")]


async def test_seat_change_with_prorations_lands_on_the_next_invoice(tenant):
    # April has 30 days: the change on Apr 16 00:00 leaves exactly half of the period.
    _, clock, _, sub = await _license_sub(tenant, utc(2026, 4, 1))
    await b.advance(tenant, clock, utc(2026, 4, 16))
    item = sub["items"][0]["id"]
    d = await tenant.data(UPDATE, {"i": {"itemId": item, "quantity": 3}})
    assert d["updateSubscriptionItem"]["subscriptionItem"]["quantity"] == 3
    up = await b.upcoming(tenant, sub["id"])
    assert [(ln["type"], ln["amount"]) for ln in up["lines"]] == [
        ("SUBSCRIPTION", 30000),
        ("PRORATION", -5000),
        ("PRORATION", 15000),
    ]
    await b.advance(tenant, clock, utc(2026, 5, 1, 2))
    cycle = (await b.invoices(tenant, sub["id"]))[-1]
    assert cycle["total"] == 40000 and cycle["status"] == "PAID"
    prorations = [ln for ln in cycle["lines"] if ln["type"] == "PRORATION"]
    assert [(ln["amount"], ln["periodStart"]) for ln in prorations] == [
        (-5000, "2026-04-16T00:00:00Z"),
        (15000, "2026-04-16T00:00:00Z"),
    ]
    after = await b.upcoming(tenant, sub["id"])
    assert all(ln["type"] == "SUBSCRIPTION" for ln in after["lines"])


async def test_always_invoice_and_none(tenant):
    cat, clock, _, sub = await _license_sub(tenant, utc(2026, 4, 1))
    await b.advance(tenant, clock, utc(2026, 4, 16))
    item = sub["items"][0]["id"]
    await tenant.data(
        UPDATE, {"i": {"itemId": item, "quantity": 2, "prorationBehavior": "ALWAYS_INVOICE"}}
    )
    now = await b.subscription(tenant, sub["id"])
    inv = now["latestInvoice"]
    assert inv["billingReason"] == "SUBSCRIPTION_UPDATE"
    assert inv["status"] == "PAID" and inv["total"] == 5000
    await tenant.data(UPDATE, {"i": {"itemId": item, "quantity": 5, "prorationBehavior": "NONE"}})
    up = await b.upcoming(tenant, sub["id"])
    assert [(ln["type"], ln["amount"]) for ln in up["lines"]] == [("SUBSCRIPTION", 50000)]


async def test_metered_item_quantity_cannot_change(tenant):
    cat = await b.catalog(tenant)
    cus = await b.customer(tenant, None)
    res = await b.subscribe(tenant, {"customerId": cus, "items": [{"priceId": cat["usage"]}]})
    item = res["subscription"]["items"][0]["id"]
    d = await tenant.data(UPDATE, {"i": {"itemId": item, "quantity": 2}})
    errs = d["updateSubscriptionItem"]["userErrors"]
    assert [(e["field"], e["code"]) for e in errs] == [(["input", "quantity"], "INVALID")]


async def test_cancel_at_period_end_bills_usage_without_the_next_license(tenant):
    cat = await b.catalog(tenant)
    clock = await b.clock(tenant, utc(2026, 1, 1))
    cus = await b.customer(tenant, clock)
    res = await b.subscribe(
        tenant,
        {"customerId": cus, "items": [{"priceId": cat["usage"]}, {"priceId": cat["license"]}]},
    )
    sub = res["subscription"]
    d = await tenant.data(CANCEL, {"i": {"subscriptionId": sub["id"], "atPeriodEnd": True}})
    assert d["cancelSubscription"]["subscription"]["status"] == "ACTIVE"
    assert d["cancelSubscription"]["subscription"]["cancelAtPeriodEnd"] is True
    await b.use(cat["meter"], cus, 1500, utc(2026, 1, 20))
    up = await b.upcoming(tenant, sub["id"])
    assert up["total"] == 2000
    await b.advance(tenant, clock, utc(2026, 2, 1, 2))
    final = (await b.invoices(tenant, sub["id"]))[-1]
    assert final["billingReason"] == "SUBSCRIPTION_CYCLE"
    assert [ln["tier"] for ln in final["lines"]] == [1, 2]  # usage only, no license
    assert final["total"] == 2000 and final["status"] == "PAID"
    now = await b.subscription(tenant, sub["id"])
    assert now["status"] == "CANCELED" and now["canceledAt"] == "2026-02-01T00:00:00Z"
    await b.advance(tenant, clock, utc(2026, 3, 1, 2))
    assert len(await b.invoices(tenant, sub["id"])) == 2
    assert await b.upcoming(tenant, sub["id"]) is None


async def test_cancel_now_with_invoice_now_bills_usage_so_far(tenant):
    cat = await b.catalog(tenant)
    clock = await b.clock(tenant, utc(2026, 1, 1))
    cus = await b.customer(tenant, clock)
    res = await b.subscribe(
        tenant,
        {"customerId": cus, "items": [{"priceId": cat["usage"]}, {"priceId": cat["license"]}]},
    )
    sub = res["subscription"]
    await b.use(cat["meter"], cus, 2000, utc(2026, 1, 5))
    await b.advance(tenant, clock, utc(2026, 1, 10))
    d = await tenant.data(CANCEL, {"i": {"subscriptionId": sub["id"], "invoiceNow": True}})
    assert d["cancelSubscription"]["subscription"]["status"] == "CANCELED"
    assert d["cancelSubscription"]["subscription"]["canceledAt"] == "2026-01-10T00:00:00Z"
    final = (await b.invoices(tenant, sub["id"]))[-1]
    assert final["billingReason"] == "SUBSCRIPTION_CANCEL"
    assert (final["periodStart"], final["periodEnd"]) == (
        "2026-01-01T00:00:00Z",
        "2026-01-10T00:00:00Z",
    )
    assert final["total"] == 4000 and final["status"] == "PAID"
    again = await tenant.data(CANCEL, {"i": {"subscriptionId": sub["id"]}})
    assert again["cancelSubscription"]["userErrors"][0]["code"] == "CONFLICT"
    await b.advance(tenant, clock, utc(2026, 3, 1))
    assert len(await b.invoices(tenant, sub["id"])) == 2


async def test_cancel_now_without_invoice_now_creates_no_invoice(tenant):
    _, _, _, sub = await _license_sub(tenant, utc(2026, 1, 1))
    d = await tenant.data(CANCEL, {"i": {"subscriptionId": sub["id"]}})
    assert d["cancelSubscription"]["subscription"]["status"] == "CANCELED"
    assert len(await b.invoices(tenant, sub["id"])) == 1


async def test_invoice_transitions_follow_stripe(tenant):
    cat = await b.catalog(tenant)
    clock = await b.clock(tenant, utc(2026, 1, 1))
    cus = await b.customer(tenant, clock, pm=None)
    res = await b.subscribe(tenant, {"customerId": cus, "items": [{"priceId": cat["license"]}]})
    first = res["subscription"]["latestInvoice"]
    assert first["status"] == "OPEN"

    async def op(name, inv_id, extra=""):
        return (await tenant.data(_invoice_op(name, extra), {"i": inv_id}))[name]

    assert (await op("finalizeInvoice", first["id"]))["userErrors"][0]["code"] == "CONFLICT"
    assert (await op("markInvoiceUncollectible", first["id"]))["invoice"]["status"] == (
        "UNCOLLECTIBLE"
    )
    paid = await op("payInvoice", first["id"], ", paidOutOfBand: true")
    assert paid["invoice"] == {"id": first["id"], "status": "PAID", "amountPaid": 10000}
    assert (await op("voidInvoice", first["id"]))["userErrors"][0]["code"] == "CONFLICT"
    assert (await op("markInvoiceUncollectible", first["id"]))["userErrors"][0]["code"] == (
        "CONFLICT"
    )

    # A cycle draft in its grace period can be finalized early, then voided.
    await b.advance(tenant, clock, utc(2026, 2, 1, 0, 10))
    draft = (await b.invoices(tenant, res["subscription"]["id"]))[-1]
    assert draft["status"] == "DRAFT"
    assert (await op("voidInvoice", draft["id"]))["userErrors"][0]["code"] == "CONFLICT"
    assert (await op("finalizeInvoice", draft["id"]))["invoice"]["status"] == "OPEN"
    assert (await op("voidInvoice", draft["id"]))["invoice"]["status"] == "VOID"
    await b.advance(tenant, clock, utc(2026, 2, 1, 3))
    assert (await b.invoices(tenant, res["subscription"]["id"]))[-1]["status"] == "VOID"


async def test_other_accounts_see_nothing(tenant, other_tenant):
    _, _, _, sub = await _license_sub(tenant, utc(2026, 1, 1))
    inv_id = sub["latestInvoice"]["id"]
    q = await other_tenant.data(
        "query($s: ID!, $i: ID!) { subscription(id: $s) { id } invoice(id: $i) { id } "
        "upcomingInvoice(subscriptionId: $s) { total } subscriptions { edges { node { id } } } "
        "invoices { edges { node { id } } } }",
        {"s": sub["id"], "i": inv_id},
    )
    assert q == {
        "subscription": None,
        "invoice": None,
        "upcomingInvoice": None,
        "subscriptions": {"edges": []},
        "invoices": {"edges": []},
    }
    d = await other_tenant.data(CANCEL, {"i": {"subscriptionId": sub["id"]}})
    assert d["cancelSubscription"]["userErrors"][0]["code"] == "NOT_FOUND"
    pay = await other_tenant.data(_invoice_op("payInvoice"), {"i": inv_id})
    assert pay["payInvoice"]["userErrors"][0]["code"] == "NOT_FOUND"


async def test_list_filters_and_pages(tenant):
    cat, _, cus, sub1 = await _license_sub(tenant, utc(2026, 1, 1))
    _, _, _, sub2 = await _license_sub(tenant, utc(2026, 1, 1), cat=cat)
    await tenant.data(CANCEL, {"i": {"subscriptionId": sub2["id"]}})
    q = """query($c: ID, $st: SubscriptionStatus, $after: String) {
      subscriptions(first: 1, customerId: $c, status: $st, after: $after) {
        edges { node { id customer { id } items { price { id } } latestInvoice { id } } }
        pageInfo { hasNextPage endCursor } } }"""
    page1 = (await tenant.data(q))["subscriptions"]
    assert page1["pageInfo"]["hasNextPage"] is True
    page2 = (await tenant.data(q, {"after": page1["pageInfo"]["endCursor"]}))["subscriptions"]
    ids = {page1["edges"][0]["node"]["id"], page2["edges"][0]["node"]["id"]}
    assert ids == {sub1["id"], sub2["id"]}
    active = (await tenant.data(q, {"st": "ACTIVE"}))["subscriptions"]["edges"]
    assert [e["node"]["id"] for e in active] == [sub1["id"]]
    mine = (await tenant.data(q, {"c": cus}))["subscriptions"]["edges"]
    assert [e["node"]["customer"]["id"] for e in mine] == [cus]
    paid = await tenant.data(
        "query { invoices(status: PAID, first: 10) { edges { node { id status } } } }"
    )
    assert len(paid["invoices"]["edges"]) == 2
