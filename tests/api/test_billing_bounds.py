"""Bounds on billing work one request can cause (limits): advanceTestClock moves a clock at
most two intervals of the shortest live subscription interval on it, and never so close to
9999-12-31 that a next period would end past it; a first invoice (backdating) holds at most
250 lines. Beyond, OUT_OF_RANGE naming the field, and nothing changes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from meterbill.db.models import Invoice, Subscription, TestClock
from tests import billing_helpers as b

START = b.utc(2031, 3, 10, 12)
ADVANCE = """mutation($c: ID!, $t: DateTime!) { advanceTestClock(input: {testClockId: $c,
  frozenTime: $t}) { testClock { status frozenTime } userErrors { field code message } } }"""


async def _licensed(tenant: Any, interval: str) -> str:
    d = await tenant.data('mutation { createProduct(input: {name: "seat"}) { product { id } } }')
    return await b.price(
        tenant,
        {
            "productId": d["createProduct"]["product"]["id"],
            "currency": "usd",
            "unitAmount": 100,
            "recurring": {"interval": interval, "usageType": "LICENSED"},
        },
    )


async def _advance(tenant: Any, clock: str, to: Any) -> dict[str, Any]:
    d = await tenant.data(ADVANCE, {"c": clock, "t": b.iso(to)})
    return dict(d["advanceTestClock"])


async def test_a_clock_moves_at_most_two_of_its_shortest_intervals(tenant):
    daily, monthly = await _licensed(tenant, "DAY"), await _licensed(tenant, "MONTH")
    clock = await b.clock(tenant, START)
    for price in (monthly, daily):
        cus = await b.customer(tenant, clock)
        sub = await b.subscribe(tenant, {"customerId": cus, "items": [{"priceId": price}]})
        assert sub["userErrors"] == [], sub
    for too_far in (START + timedelta(days=2, seconds=1), b.utc(9999, 12, 30)):
        got = await _advance(tenant, clock, too_far)
        assert got["testClock"] is None
        assert [(e["field"], e["code"]) for e in got["userErrors"]] == [
            (["input", "frozenTime"], "OUT_OF_RANGE")
        ]
        assert "at most two intervals" in got["userErrors"][0]["message"]
    row = await TestClock.get(id=clock)
    assert (row.status, row.frozen_time) == ("READY", START)
    # Two days is allowed, and bills what fell due.
    await b.advance(tenant, clock, START + timedelta(days=2))
    assert (await TestClock.get(id=clock)).frozen_time == START + timedelta(days=2)


async def test_a_clock_without_live_subscriptions_moves_freely_but_not_past_the_calendar(tenant):
    clock = await b.clock(tenant, START)
    await b.advance(tenant, clock, b.utc(9999, 1, 1))
    daily = await _licensed(tenant, "DAY")
    clock = await b.clock(tenant, b.utc(9999, 12, 29))
    cus = await b.customer(tenant, clock)
    sub = await b.subscribe(tenant, {"customerId": cus, "items": [{"priceId": daily}]})
    assert sub["userErrors"] == [], sub
    got = await _advance(tenant, clock, b.utc(9999, 12, 31))
    assert [(e["field"], e["code"]) for e in got["userErrors"]] == [
        (["input", "frozenTime"], "OUT_OF_RANGE")
    ]


async def test_a_first_invoice_holds_at_most_250_lines(tenant):
    daily = await _licensed(tenant, "DAY")
    clock = await b.clock(tenant, START)
    cus = await b.customer(tenant, clock)
    for years in (50, 1):
        got = await b.subscribe(
            tenant,
            {
                "customerId": cus,
                "items": [{"priceId": daily}],
                "backdateStartDate": b.iso(START - timedelta(days=365 * years)),
            },
        )
        assert got["subscription"] is None
        assert [(e["field"], e["code"]) for e in got["userErrors"]] == [
            (["input", "backdateStartDate"], "OUT_OF_RANGE")
        ]
        assert "250 lines" in got["userErrors"][0]["message"]
    assert not await Subscription.filter(account_id=tenant.account_id).exists()
    assert not await Invoice.filter(account_id=tenant.account_id).exists()
    # 249 whole days back: 250 periods, 250 licensed lines.
    got = await b.subscribe(
        tenant,
        {
            "customerId": cus,
            "items": [{"priceId": daily}],
            "backdateStartDate": b.iso(START - timedelta(days=249)),
        },
    )
    assert got["userErrors"] == [], got
    assert len(got["subscription"]["latestInvoice"]["lines"]) == 250
