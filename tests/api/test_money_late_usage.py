"""Usage of a metered price's span before its change (or its item's removal) that is
recorded after the change (contract "money", issue 13): billed at the old price on the
next invoice that covers it, and nothing counts twice."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests import billing_helpers as b
from tests.api.usage_support import wait_aggregated
from tests.billing_helpers import utc

RECORD = """mutation($i: MeterEventInput!) { recordMeterEvent(input: $i) {
  meterEvent { value } userErrors { field code message } } }"""
UPDATE = """mutation($i: UpdateSubscriptionInput!) { updateSubscription(input: $i) {
  subscription { id } userErrors { field code message } } }"""


async def _record(tenant: Any, cus: str, value: int, at: datetime) -> None:
    payload = {"customer_id": cus, "value": value}
    i = {"eventName": "alpaca_ai_tokens", "payload": payload, "timestamp": b.iso(at)}
    d = await tenant.data(RECORD, {"i": i})
    assert d["recordMeterEvent"]["userErrors"] == [], d
    await wait_aggregated(tenant.account_id)


async def _update(tenant: Any, inp: dict[str, Any]) -> None:
    d = await tenant.data(UPDATE, {"i": inp})
    assert d["updateSubscription"]["userErrors"] == [], d


async def _per_unit(tenant: Any, cat: dict[str, str], unit: int) -> str:
    recurring = {"interval": "MONTH", "usageType": "METERED", "meterId": cat["meter"]}
    inp = {"productId": cat["usage_product"], "currency": "usd", "unitAmount": unit}
    return await b.price(tenant, {**inp, "recurring": recurring})


def _usage(invoice: dict[str, Any]) -> list[tuple[str, str, str, int]]:
    return sorted(
        (ln["price"]["id"], ln["type"], ln["quantity"], ln["amount"]) for ln in invoice["lines"]
    )


async def test_late_usage_before_a_metered_price_change_bills_at_the_old_price(tenant):
    cat = await b.catalog(tenant)
    ten, twenty = await _per_unit(tenant, cat, 10), await _per_unit(tenant, cat, 20)
    clock = await b.clock(tenant, utc(2026, 4, 1))
    cus = await b.customer(tenant, clock)
    res = await b.subscribe(tenant, {"customerId": cus, "items": [{"priceId": ten}]})
    sub = res["subscription"]
    await b.advance(tenant, clock, utc(2026, 4, 10))
    await _record(tenant, cus, 100, utc(2026, 4, 5))  # recorded before the change
    await b.advance(tenant, clock, utc(2026, 4, 16))
    item = sub["items"][0]["id"]
    await _update(tenant, {"subscriptionId": sub["id"], "items": [{"id": item, "priceId": twenty}]})
    # Recorded after the change: one timestamped before it (the old price's), one at the
    # change instant (the new price's from there on).
    await _record(tenant, cus, 30, utc(2026, 4, 12))
    await _record(tenant, cus, 50, utc(2026, 4, 16))
    up = await b.upcoming(tenant, sub["id"])
    assert up is not None
    assert sorted((ln["quantity"], ln["amount"]) for ln in up["lines"]) == [
        ("130", 1300),
        ("50", 1000),
    ]
    # The period closes at May 1 into a draft; finalized an hour later.
    await b.advance(tenant, clock, utc(2026, 5, 1, 0, 30))
    draft = (await b.invoices(tenant, sub["id"]))[-1]
    assert draft["status"] == "DRAFT"
    assert _usage(draft) == sorted(
        [(ten, "PRORATION", "130", 1300), (twenty, "SUBSCRIPTION", "50", 1000)]
    )
    # Recorded during the grace period, timestamped in the old price's span (its last
    # minute): the re-priced finalization counts it at the old price.
    await _record(tenant, cus, 7, utc(2026, 4, 15, 23, 59, 30))
    await b.advance(tenant, clock, utc(2026, 5, 1, 2))
    cycle = (await b.invoices(tenant, sub["id"]))[-1]
    assert cycle["id"] == draft["id"] and cycle["status"] == "PAID"
    assert _usage(cycle) == sorted(
        [(ten, "PRORATION", "137", 1370), (twenty, "SUBSCRIPTION", "50", 1000)]
    )
    assert cycle["total"] == 1370 + 1000
    span = next(ln for ln in cycle["lines"] if ln["type"] == "PRORATION")
    assert (span["periodStart"], span["periodEnd"]) == (
        "2026-04-01T00:00:00Z",
        "2026-04-16T00:00:00Z",
    )


async def test_late_usage_of_a_removed_tiered_item_and_of_two_changes_in_a_period(tenant):
    """A graduated price removed mid-period: a late event lifts its span into the second
    tier. Before that, a per-unit price changed into it: each span is read on its own."""
    cat = await b.catalog(tenant)
    ten = await _per_unit(tenant, cat, 10)
    clock = await b.clock(tenant, utc(2026, 4, 1))
    cus = await b.customer(tenant, clock)
    items = [{"priceId": ten}, {"priceId": cat["license"]}]
    sub = (await b.subscribe(tenant, {"customerId": cus, "items": items}))["subscription"]
    metered = next(i["id"] for i in sub["items"] if i["price"]["id"] == ten)
    await b.advance(tenant, clock, utc(2026, 4, 6))
    await _record(tenant, cus, 20, utc(2026, 4, 3))
    await _update(
        tenant, {"subscriptionId": sub["id"], "items": [{"id": metered, "priceId": cat["usage"]}]}
    )
    await b.advance(tenant, clock, utc(2026, 4, 16))
    await _record(tenant, cus, 800, utc(2026, 4, 10))
    await _update(
        tenant, {"subscriptionId": sub["id"], "items": [{"id": metered, "deleted": True}]}
    )
    await _record(tenant, cus, 400, utc(2026, 4, 14))  # after the removal, in its span
    await _record(tenant, cus, 5, utc(2026, 4, 4))  # after both, in the first span
    await b.advance(tenant, clock, utc(2026, 5, 1, 2))
    cycle = (await b.invoices(tenant, sub["id"]))[-1]
    assert cycle["status"] == "PAID"
    assert _usage(cycle) == sorted(
        [
            (ten, "PRORATION", "25", 250),
            (cat["usage"], "PRORATION", "1000", 0),  # tier 1: the first 1000 free
            (cat["usage"], "PRORATION", "200", 800),  # tier 2 at 4c
            (cat["license"], "SUBSCRIPTION", "1", 10000),  # May's fee
        ]
    )
    assert cycle["total"] == 250 + 800 + 10000
