"""Billing credits over GraphQL (contract extension "credits"): the seed's month with a
5,000 PAID grant, the order and the grants that pay nothing, voiding, the balance on the
customer's clock, the upcoming invoice, the events, and bad input."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests import billing_helpers as b
from tests.billing_helpers import utc

START = utc(2026, 1, 1)
END = utc(2026, 2, 1)

GRANT_FIELDS = """id name category currency amount availableAmount priceIds priority
  effectiveAt expiresAt voidedAt createdAt customer { id }"""
CREATE = f"""mutation($i: CreateCreditGrantInput!) {{ createCreditGrant(input: $i) {{
  creditGrant {{ {GRANT_FIELDS} }} userErrors {{ field code message }} }} }}"""
VOID = f"""mutation($id: ID!) {{ voidCreditGrant(input: {{id: $id}}) {{
  creditGrant {{ {GRANT_FIELDS} }} userErrors {{ field code message }} }} }}"""
CREDITS = """totalCreditsApplied amountDue total status
  creditApplications { amount creditGrant { id } }"""


async def _seed(tenant, collection="CHARGE_AUTOMATICALLY", before=None):
    """The seed's subscription on a test clock at START; `before(customer id)` runs before
    the subscription is created."""
    cat = await b.catalog(tenant)
    clock = await b.clock(tenant, START)
    cus = await b.customer(tenant, clock)
    if before is not None:
        await before(cus)
    inp: dict[str, Any] = {
        "customerId": cus,
        "collectionMethod": collection,
        "items": [{"priceId": cat["usage"]}, {"priceId": cat["license"], "quantity": 1}],
    }
    if collection == "SEND_INVOICE":
        inp["daysUntilDue"] = 30
    res = await b.subscribe(tenant, inp)
    assert res["userErrors"] == [], res
    return cat, clock, cus, res["subscription"]


async def grant(tenant, **inp: Any) -> dict[str, Any]:
    d = await tenant.data(CREATE, {"i": {"currency": "usd", **inp}})
    assert d["createCreditGrant"]["userErrors"] == [], d
    return dict(d["createCreditGrant"]["creditGrant"])


async def read_grant(tenant, gid: str) -> dict[str, Any]:
    d = await tenant.data(
        f"query($id: ID!) {{ creditGrant(id: $id) {{ {GRANT_FIELDS} }} }}", {"id": gid}
    )
    return dict(d["creditGrant"])


async def credits_of(tenant, invoice_id: str) -> dict[str, Any]:
    d = await tenant.data(
        f"query($id: ID!) {{ invoice(id: $id) {{ {CREDITS} }} }}", {"id": invoice_id}
    )
    return dict(d["invoice"])


async def balance(tenant, cus: str, currency: str = "usd") -> int:
    d = await tenant.data(
        "query($c: ID!, $cur: String!) { customer(id: $c) { creditBalance(currency: $cur) } }",
        {"c": cus, "cur": currency},
    )
    return int(d["customer"]["creditBalance"])


async def upcoming_credits(tenant, sub_id: str) -> dict[str, Any]:
    d = await tenant.data(
        f"query($s: ID!) {{ upcomingInvoice(subscriptionId: $s) {{ {CREDITS} }} }}", {"s": sub_id}
    )
    return dict(d["upcomingInvoice"])


async def events(tenant, object_id: str) -> list[dict[str, Any]]:
    d = await tenant.data(
        "query($o: ID!) { events(objectId: $o, first: 50) { edges { node { type data } } } }",
        {"o": object_id},
    )
    return [e["node"] for e in reversed(d["events"]["edges"])]


async def test_alpaca_month_with_a_5000_paid_grant(tenant):
    made = []

    async def prepaid(cus: str) -> None:
        made.append(
            await grant(tenant, customerId=cus, amount=5000, category="PAID", name="Prepaid")
        )

    cat, clock, cus, sub = await _seed(tenant, before=prepaid)
    g = made[0]
    assert (g["category"], g["amount"], g["availableAmount"], g["priority"]) == (
        "PAID",
        5000,
        5000,
        50,
    )
    assert g["effectiveAt"] == g["createdAt"] == b.iso(START)  # the customer's clock
    assert g["priceIds"] == [] and g["customer"] == {"id": cus}

    # The license-only first invoice, finalized with the grant in effect, took nothing:
    # credits pay for metered usage only.
    first = await credits_of(tenant, sub["latestInvoice"]["id"])
    assert first == {
        "totalCreditsApplied": 0,
        "amountDue": 10000,
        "total": 10000,
        "status": "PAID",
        "creditApplications": [],
    }
    assert await balance(tenant, cus) == 5000

    await b.use(cat["meter"], cus, 3000, START + timedelta(days=14))
    up = await upcoming_credits(tenant, sub["id"])
    assert (up["total"], up["totalCreditsApplied"], up["amountDue"]) == (18000, 5000, 13000)
    assert up["creditApplications"] == [{"amount": 5000, "creditGrant": {"id": g["id"]}}]
    assert await balance(tenant, cus) == 5000  # a preview takes nothing

    await b.advance(tenant, clock, END + timedelta(hours=2))
    cycle = (await b.invoices(tenant, sub["id"]))[-1]
    assert cycle["billingReason"] == "SUBSCRIPTION_CYCLE"
    got = await credits_of(tenant, cycle["id"])
    assert got == {
        "totalCreditsApplied": 5000,
        "amountDue": 13000,
        "total": 18000,
        "status": "PAID",
        "creditApplications": [{"amount": 5000, "creditGrant": {"id": g["id"]}}],
    }
    assert cycle["amountPaid"] == 13000
    assert (await read_grant(tenant, g["id"]))["availableAmount"] == 0
    assert await balance(tenant, cus) == 0

    created = [e for e in await events(tenant, g["id"]) if e["type"] == "credit_grant.created"]
    assert len(created) == 1
    data = created[0]["data"]
    assert (data["object"], data["id"], data["amount"], data["category"]) == (
        "credit_grant",
        g["id"],
        5000,
        "PAID",
    )
    by_type = {e["type"]: e["data"] for e in await events(tenant, cycle["id"])}
    assert by_type["invoice.created"]["totalCreditsApplied"] == 0
    assert by_type["invoice.finalized"]["totalCreditsApplied"] == 5000
    assert by_type["invoice.finalized"]["amountDue"] == 13000
    assert by_type["invoice.paid"]["totalCreditsApplied"] == 5000


async def test_order_and_the_grants_that_pay_nothing(tenant):
    cat, clock, cus, sub = await _seed(tenant)
    other = await b.price(
        tenant,
        {
            "productId": cat["usage_product"],
            "currency": "usd",
            "unitAmount": 1,
            "recurring": {"interval": "MONTH", "usageType": "METERED", "meterId": cat["meter"]},
        },
    )
    elsewhere = await grant(tenant, customerId=cus, amount=9000, priceIds=[other], priority=0)
    expired = await grant(
        tenant, customerId=cus, amount=9000, priority=0, expiresAt=b.iso(END)
    )  # expires at the period end, before finalization (end + 1 h)
    voided = await grant(tenant, customerId=cus, amount=9000, priority=0)
    paid_late = await grant(tenant, customerId=cus, amount=3000, category="PAID", priority=5)
    promo = await grant(tenant, customerId=cus, amount=3000, category="PROMOTIONAL", priority=5)
    soon = await grant(
        tenant,
        customerId=cus,
        amount=1000,
        priority=5,
        priceIds=[cat["usage"]],
        expiresAt=b.iso(END + timedelta(days=3)),
    )
    v = await tenant.data(VOID, {"id": voided["id"]})
    assert v["voidCreditGrant"]["creditGrant"]["voidedAt"] == b.iso(START)
    again = await tenant.data(VOID, {"id": voided["id"]})
    assert [(e["field"], e["code"]) for e in again["voidCreditGrant"]["userErrors"]] == [
        (["input", "id"], "CONFLICT")
    ]
    # 3500 tokens: 2500 over the free 1000 at 4 = 10000 of usage, more than the 7000
    # the grants that apply hold.
    await b.use(cat["meter"], cus, 3500, START + timedelta(days=3))  # 2500 over: 10000
    await b.advance(tenant, clock, END + timedelta(hours=2))
    cycle = (await b.invoices(tenant, sub["id"]))[-1]
    got = await credits_of(tenant, cycle["id"])
    # priority 5: the expiring one first, then PROMOTIONAL, then PAID (partly).
    assert (
        got["creditApplications"]
        == [
            {"amount": 1000, "creditGrant": {"id": soon["id"]}},
            {"amount": 3000, "creditGrant": {"id": promo["id"]}},
            {"amount": 3000, "creditGrant": {"id": paid_late["id"]}},
        ][: len(got["creditApplications"])]
    )
    assert got["totalCreditsApplied"] == 7000
    assert (got["total"], got["amountDue"]) == (20000, 13000)
    for untouched in (elsewhere, expired, voided):
        assert (await read_grant(tenant, untouched["id"]))["availableAmount"] == 9000
    assert await balance(tenant, cus) == 9000  # only the one for the other price is left


async def test_voiding_an_invoice_gives_its_credits_back(tenant):
    cat, clock, cus, sub = await _seed(tenant, "SEND_INVOICE")
    g = await grant(tenant, customerId=cus, amount=5000)
    await b.use(cat["meter"], cus, 3000, START + timedelta(days=14))
    await b.advance(tenant, clock, END + timedelta(hours=2))
    cycle = (await b.invoices(tenant, sub["id"]))[-1]
    assert (await credits_of(tenant, cycle["id"]))["status"] == "OPEN"
    assert await balance(tenant, cus) == 0
    d = await tenant.data(
        "mutation($i: ID!) { voidInvoice(input: {id: $i}) { invoice { status "
        "totalCreditsApplied } userErrors { message } } }",
        {"i": cycle["id"]},
    )
    assert d["voidInvoice"]["invoice"] == {"status": "VOID", "totalCreditsApplied": 5000}
    assert (await read_grant(tenant, g["id"]))["availableAmount"] == 5000
    assert await balance(tenant, cus) == 5000
    voided = {e["type"]: e["data"] for e in await events(tenant, cycle["id"])}["invoice.voided"]
    assert voided["totalCreditsApplied"] == 5000


async def test_balance_on_the_customers_clock(tenant):
    cat, clock, cus, _ = await _seed(tenant)
    await grant(tenant, customerId=cus, amount=700, expiresAt=b.iso(START + timedelta(days=10)))
    await grant(tenant, customerId=cus, amount=300, effectiveAt=b.iso(START + timedelta(days=5)))
    await grant(tenant, customerId=cus, amount=50, currency="eur")
    assert await balance(tenant, cus) == 700
    assert await balance(tenant, cus, "eur") == 50
    assert await balance(tenant, cus, "EUR") == 50
    bad = await tenant.gql(
        'query($c: ID!) { customer(id: $c) { creditBalance(currency: "x" ) } }', {"c": cus}
    )
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", bad
    assert bad["errors"][0]["extensions"]["field"] == ["currency"]
    await b.advance(tenant, clock, START + timedelta(days=6))
    assert await balance(tenant, cus) == 1000
    await b.advance(tenant, clock, START + timedelta(days=10))
    assert await balance(tenant, cus) == 300
    doc = (
        "query($c: ID!, $a: String) { customer(id: $c) { creditGrants(first: 2, after: $a) { "
        "edges { node { amount createdAt } } pageInfo { hasNextPage endCursor } } } }"
    )
    first = (await tenant.data(doc, {"c": cus}))["customer"]["creditGrants"]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = await tenant.data(doc, {"c": cus, "a": first["pageInfo"]["endCursor"]})
    second = rest["customer"]["creditGrants"]
    assert second["pageInfo"]["hasNextPage"] is False
    nodes = [e["node"] for e in first["edges"] + second["edges"]]
    # Created at one instant of the customer's clock (ties go by id).
    assert sorted(n["amount"] for n in nodes) == [50, 300, 700]
    assert {n["createdAt"] for n in nodes} == {b.iso(START)}


async def test_another_accounts_grant_reads_as_missing(tenant, other_tenant):
    _, _, cus, _ = await _seed(tenant)
    g = await grant(tenant, customerId=cus, amount=100)
    d = await other_tenant.data("query($id: ID!) { creditGrant(id: $id) { id } }", {"id": g["id"]})
    assert d == {"creditGrant": None}
    v = await other_tenant.data(VOID, {"id": g["id"]})
    assert v["voidCreditGrant"]["userErrors"][0]["code"] == "NOT_FOUND"
    assert (await read_grant(tenant, g["id"]))["voidedAt"] is None


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"amount": 0}, ["input", "amount"], "INVALID"),
        ({"amount": -100}, ["input", "amount"], "INVALID"),
        ({"customerId": "cus_doesnotexist"}, ["input", "customerId"], "NOT_FOUND"),
        ({"customerId": "FOREIGN"}, ["input", "customerId"], "NOT_FOUND"),
        ({"priceIds": ["price_doesnotexist"]}, ["input", "priceIds", "0"], "NOT_FOUND"),
        ({"priceIds": ["FOREIGN_PRICE"]}, ["input", "priceIds", "0"], "NOT_FOUND"),
        ({"priceIds": ["EUR_PRICE"]}, ["input", "priceIds", "0"], "INVALID"),
        ({"priceIds": ["LICENSE"]}, ["input", "priceIds", "0"], "INVALID"),
        ({"expiresAt": b.iso(START - timedelta(days=1))}, ["input", "expiresAt"], "INVALID"),
        (
            {
                "effectiveAt": b.iso(START + timedelta(days=2)),
                "expiresAt": b.iso(START + timedelta(days=2)),
            },
            ["input", "expiresAt"],
            "INVALID",
        ),
        ({"priority": 101}, ["input", "priority"], "OUT_OF_RANGE"),
        ({"priority": -1}, ["input", "priority"], "OUT_OF_RANGE"),
        ({"currency": "USD"}, ["input", "currency"], "INVALID"),
        ({"currency": "xyz"}, ["input", "currency"], "INVALID"),
        ({"name": "n" * 201}, ["input", "name"], "INVALID"),
    ],
)
async def test_bad_input_names_the_field_and_stores_nothing(
    tenant, other_tenant, change, field, code
):
    cat, _, cus, _ = await _seed(tenant)
    other_cat = await b.catalog(other_tenant)
    other_cus = await b.customer(other_tenant, None)
    eur = await b.price(
        tenant,
        {
            "productId": cat["usage_product"],
            "currency": "eur",
            "unitAmount": 1,
            "recurring": {"interval": "MONTH", "usageType": "METERED", "meterId": cat["meter"]},
        },
    )
    stand_in = {
        "FOREIGN": other_cus,
        "FOREIGN_PRICE": other_cat["usage"],
        "EUR_PRICE": eur,
        "LICENSE": cat["license"],
    }
    inp: dict[str, Any] = {"customerId": cus, "amount": 500, "currency": "usd"}
    for k, v in change.items():
        if isinstance(v, list):
            v = [stand_in.get(x, x) for x in v]
        inp[k] = stand_in.get(v, v) if isinstance(v, str) else v
    d = await tenant.data(CREATE, {"i": inp})
    payload = d["createCreditGrant"]
    assert payload["creditGrant"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(field, code)], payload
    assert payload["userErrors"][0]["message"]
    left = await tenant.data(
        "query($c: ID!) { customer(id: $c) { creditGrants { edges { node { id } } } } }",
        {"c": cus},
    )
    assert left["customer"]["creditGrants"]["edges"] == []
    assert await events(tenant, cus) == [
        e for e in await events(tenant, cus) if e["type"] != "credit_grant.created"
    ]


async def test_credits_pay_before_the_customer_balance(tenant):
    """Stripe's order on the Alpaca cycle invoice: the 5,000 grant pays the metered 8,000
    first, then the customer's 3,000 of credit balance takes what is left: 18,000 - 5,000 -
    3,000 = 10,000 due, the balance ending at 0 and the grant spent."""
    made = []

    async def prepaid(cus: str) -> None:
        made.append(
            await grant(tenant, customerId=cus, amount=5000, category="PAID", name="Prepaid")
        )

    cat, clock, cus, sub = await _seed(tenant, before=prepaid)
    d = await tenant.data(
        "mutation($i: CreateCustomerBalanceTransactionInput!) { "
        "createCustomerBalanceTransaction(input: $i) { customerBalanceTransaction { "
        "endingBalance } userErrors { field } } }",
        {"i": {"customerId": cus, "amount": -3000, "currency": "usd"}},
    )
    assert d["createCustomerBalanceTransaction"]["userErrors"] == []
    await b.use(cat["meter"], cus, 3000, START + timedelta(days=14))
    up = await upcoming_credits(tenant, sub["id"])
    assert (up["total"], up["totalCreditsApplied"], up["amountDue"]) == (18000, 5000, 10000)

    await b.advance(tenant, clock, END + timedelta(hours=2))
    cycle = (await b.invoices(tenant, sub["id"]))[-1]
    q = await tenant.data(
        "query($i: ID!) { invoice(id: $i) { total totalCreditsApplied startingBalance "
        "endingBalance amountDue amountPaid status } }",
        {"i": cycle["id"]},
    )
    assert q["invoice"] == {
        "total": 18000,
        "totalCreditsApplied": 5000,
        "startingBalance": -3000,
        "endingBalance": 0,
        "amountDue": 10000,
        "amountPaid": 10000,
        "status": "PAID",
    }
    assert (await read_grant(tenant, made[0]["id"]))["availableAmount"] == 0
    c = await tenant.data("query($c: ID!) { customer(id: $c) { balance } }", {"c": cus})
    assert c["customer"]["balance"] == 0


async def test_grants_pay_the_span_of_a_metered_price_changed_mid_period(tenant):
    """A metered price changed mid-period bills its usage before the change as its own
    line (PRORATION, at the old price: services/usage_spans). That line is metered usage:
    a grant limited to the old price pays it, on the upcoming and on the cycle invoice."""
    cat = await b.catalog(tenant)

    async def per_unit(unit: int) -> str:
        recurring = {"interval": "MONTH", "usageType": "METERED", "meterId": cat["meter"]}
        inp = {"productId": cat["usage_product"], "currency": "usd", "unitAmount": unit}
        return await b.price(tenant, {**inp, "recurring": recurring})

    ten, twenty = await per_unit(10), await per_unit(20)
    clock = await b.clock(tenant, START)
    cus = await b.customer(tenant, clock)
    old_only = await grant(tenant, customerId=cus, amount=5000, priceIds=[ten], priority=0)
    new_only = await grant(tenant, customerId=cus, amount=5000, priceIds=[twenty], priority=1)
    any_price = await grant(tenant, customerId=cus, amount=300, priority=10)
    res = await b.subscribe(tenant, {"customerId": cus, "items": [{"priceId": ten}]})
    sub = res["subscription"]
    await b.use(cat["meter"], cus, 100, START + timedelta(days=5))  # 1000 at ten
    await b.advance(tenant, clock, START + timedelta(days=15))
    d = await tenant.data(
        "mutation($i: UpdateSubscriptionInput!) { updateSubscription(input: $i) { "
        "userErrors { field message } } }",
        {
            "i": {
                "subscriptionId": sub["id"],
                "items": [{"id": sub["items"][0]["id"], "priceId": twenty}],
            }
        },
    )
    assert d["updateSubscription"]["userErrors"] == [], d
    await b.use(cat["meter"], cus, 50, START + timedelta(days=20))  # 1000 at twenty
    # 1000 on the old price's span, paid by the grant limited to it; 1000 at the new price,
    # paid by the one limited to that; the grant for any price has nothing left to pay.
    want = [
        {"amount": 1000, "creditGrant": {"id": old_only["id"]}},
        {"amount": 1000, "creditGrant": {"id": new_only["id"]}},
    ]
    up = await upcoming_credits(tenant, sub["id"])
    assert (up["total"], up["totalCreditsApplied"], up["amountDue"]) == (2000, 2000, 0)
    assert up["creditApplications"] == want

    await b.advance(tenant, clock, END + timedelta(hours=2))
    cycle = (await b.invoices(tenant, sub["id"]))[-1]
    assert sorted((ln["price"]["id"], ln["type"], ln["amount"]) for ln in cycle["lines"]) == sorted(
        [(ten, "PRORATION", 1000), (twenty, "SUBSCRIPTION", 1000)]
    )
    got = await credits_of(tenant, cycle["id"])
    assert (got["total"], got["totalCreditsApplied"], got["amountDue"]) == (2000, 2000, 0)
    assert got["creditApplications"] == want
    assert (await read_grant(tenant, old_only["id"]))["availableAmount"] == 4000
    assert (await read_grant(tenant, any_price["id"]))["availableAmount"] == 300
