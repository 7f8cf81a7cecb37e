"""MAX and UNIQUE_COUNT meters billed: the upcoming invoice and the cycle invoice price the
period's maximum and its number of distinct values; a cancel changes both (the bucket is
rebuilt, a value whose events are all canceled no longer counts)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests import billing_helpers as b
from tests.api.usage_support import CANCEL, iso, make_meter, record_many, wait_aggregated
from tests.billing_helpers import utc

START = utc(2026, 1, 1)
MID = utc(2026, 1, 15)


async def _metered_price(tenant: Any, meter_id: str, name: str) -> str:
    d = await tenant.data(
        "mutation($n: String!) { createProduct(input: {name: $n}) { product { id } } }",
        {"n": name},
    )
    return await b.price(
        tenant,
        {
            "productId": d["createProduct"]["product"]["id"],
            "currency": "usd",
            "unitAmount": 100,
            "recurring": {"interval": "MONTH", "usageType": "METERED", "meterId": meter_id},
        },
    )


def _quantities(invoice: dict[str, Any]) -> dict[str, tuple[str, int]]:
    return {ln["price"]["id"]: (ln["quantity"], ln["amount"]) for ln in invoice["lines"]}


async def test_max_and_unique_count_on_invoices(tenant):
    peak = await make_meter(tenant, "seats", aggregation="MAX")
    users = await make_meter(
        tenant, "active_users", aggregation="UNIQUE_COUNT", valuePayloadKey="user"
    )
    peak_price = await _metered_price(tenant, peak["id"], "Peak seats")
    users_price = await _metered_price(tenant, users["id"], "Active users")
    clock = await b.clock(tenant, START)
    cus = await b.customer(tenant, clock)
    res = await b.subscribe(
        tenant, {"customerId": cus, "items": [{"priceId": peak_price}, {"priceId": users_price}]}
    )
    assert res["userErrors"] == [], res
    sub = res["subscription"]
    await b.advance(tenant, clock, MID)

    def seats(n: Any, at: Any, ident: str) -> dict[str, Any]:
        p = {"customer_id": cus, "value": n}
        return {"eventName": "seats", "payload": p, "timestamp": iso(at), "identifier": ident}

    def login(user: Any, at: Any, ident: str) -> dict[str, Any]:
        p = {"customer_id": cus, "user": user}
        return {
            "eventName": "active_users",
            "payload": p,
            "timestamp": iso(at),
            "identifier": ident,
        }

    h = timedelta(hours=1)
    r = await record_many(
        tenant,
        [
            seats(3, MID - 3 * h, "s1"),
            seats(9, MID - 2 * h, "s2"),
            seats(4, MID - h, "s3"),
            login("ann", MID - 3 * h, "u1"),
            login("bo", MID - 3 * h, "u2"),
            login("ann", MID - 2 * h, "u3"),  # another hour: counted once
            login("cy", MID - h, "u4"),
            login("dee", MID - h, "u5"),
        ],
    )
    assert r["accepted"] == 8, r
    await wait_aggregated(tenant.account_id)
    up = await b.upcoming(tenant, sub["id"])
    assert up is not None
    assert _quantities(up) == {peak_price: ("9", 900), users_price: ("4", 400)}
    for name, ident in (("seats", "s2"), ("active_users", "u5")):
        d = await tenant.data(CANCEL, {"input": {"eventName": name, "identifier": ident}})
        assert d["cancelMeterEvent"]["userErrors"] == []
    up = await b.upcoming(tenant, sub["id"])
    assert _quantities(up) == {peak_price: ("4", 400), users_price: ("3", 300)}
    # The period closes, the grace period passes: the cycle invoice bills the same.
    await b.advance(tenant, clock, utc(2026, 2, 1, 2))
    cycle = (await b.invoices(tenant, sub["id"]))[-1]
    assert cycle["billingReason"] == "SUBSCRIPTION_CYCLE"
    assert cycle["periodStart"] == iso(START)
    assert _quantities(cycle) == {peak_price: ("4", 400), users_price: ("3", 300)}
    assert cycle["total"] == 700
