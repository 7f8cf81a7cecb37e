"""Shared set-up for billing tests: the seed's catalog over GraphQL, usage written straight
into rollups (so a test can place it anywhere in a test clock's month), and advancing a
test clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from meterbill.billing.aggregation import Rollup, merge, minute_bucket
from meterbill.db.models import Meter, UsageRollup, UsageRollupHourly
from meterbill.services.usage.aggregate import hour_bucket

SUB_FIELDS = """
  id status billingMode collectionMethod currency cancelAtPeriodEnd canceledAt
  currentPeriodStart currentPeriodEnd billingCycleAnchor startDate
  items { id quantity price { id recurring { usageType } } }
  latestInvoice { id number status billingReason total amountDue amountPaid dueDate finalizedAt
                  lines { type description amount tier quantity periodStart periodEnd } }
"""

INVOICE_FIELDS = """
  id number status billingReason currency periodStart periodEnd subtotal total amountDue
  amountPaid amountRemaining createdAt automaticallyFinalizesAt finalizedAt paidAt dueDate
  lines { id type description amount tier quantity unitAmountDecimal periodStart periodEnd
          price { id } }
"""


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def catalog(tenant: Any, currency: str = "usd", interval: str = "MONTH") -> dict[str, str]:
    """The Alpaca AI meter, a graduated usage price and a 100.00 per-seat license price."""
    meter = await tenant.data(
        'mutation { createMeter(input: {displayName: "Alpaca AI tokens", '
        'eventName: "alpaca_ai_tokens", aggregation: SUM}) { meter { id } } }'
    )
    meter_id = meter["createMeter"]["meter"]["id"]
    out = {"meter": meter_id}
    for key, name in (("usage", "Alpaca AI usage"), ("license", "Alpaca AI license fee")):
        d = await tenant.data(
            "mutation($n: String!) { createProduct(input: {name: $n}) { product { id } } }",
            {"n": name},
        )
        out[key + "_product"] = d["createProduct"]["product"]["id"]
    out["usage"] = await price(
        tenant,
        {
            "productId": out["usage_product"],
            "currency": currency,
            "billingScheme": "TIERED",
            "tiersMode": "GRADUATED",
            "tiers": [{"upTo": 1000, "unitAmount": 0}, {"unitAmountDecimal": "4"}],
            "recurring": {"interval": interval, "usageType": "METERED", "meterId": meter_id},
        },
    )
    out["license"] = await price(
        tenant,
        {
            "productId": out["license_product"],
            "currency": currency,
            "unitAmount": 10000,
            "recurring": {"interval": interval},
        },
    )
    return out


async def price(tenant: Any, inp: dict[str, Any]) -> str:
    d = await tenant.data(
        "mutation($i: CreatePriceInput!) { createPrice(input: $i) { price { id } "
        "userErrors { field message } } }",
        {"i": inp},
    )
    assert d["createPrice"]["userErrors"] == [], d
    return str(d["createPrice"]["price"]["id"])


async def clock(tenant: Any, at: datetime) -> str:
    d = await tenant.data(
        "mutation($t: DateTime!) { createTestClock(input: {frozenTime: $t}) "
        "{ testClock { id status frozenTime } userErrors { message } } }",
        {"t": iso(at)},
    )
    assert d["createTestClock"]["testClock"]["status"] == "READY"
    return str(d["createTestClock"]["testClock"]["id"])


async def customer(tenant: Any, clock_id: str | None, pm: str | None = "pm_card_visa") -> str:
    d = await tenant.data(
        'mutation($c: ID, $pm: String) { createCustomer(input: {name: "John Doe", '
        "paymentMethod: $pm, testClockId: $c}) { customer { id } userErrors { message } } }",
        {"c": clock_id, "pm": pm},
    )
    return str(d["createCustomer"]["customer"]["id"])


async def subscribe(tenant: Any, inp: dict[str, Any]) -> dict[str, Any]:
    d = await tenant.data(
        "mutation($i: CreateSubscriptionInput!) { createSubscription(input: $i) { "
        f"subscription {{ {SUB_FIELDS} }} userErrors {{ field code message }} }} }}",
        {"i": inp},
    )
    return dict(d["createSubscription"])


async def subscription(tenant: Any, sub_id: str) -> dict[str, Any]:
    d = await tenant.data(
        f"query($id: ID!) {{ subscription(id: $id) {{ {SUB_FIELDS} }} }}", {"id": sub_id}
    )
    return dict(d["subscription"])


async def invoices(tenant: Any, sub_id: str) -> list[dict[str, Any]]:
    """The subscription's invoices, oldest first."""
    d = await tenant.data(
        "query($s: ID!) { invoices(subscriptionId: $s, first: 100) { edges { node { "
        f"{INVOICE_FIELDS} }} }} }} }}",
        {"s": sub_id},
    )
    return [e["node"] for e in reversed(d["invoices"]["edges"])]


async def upcoming(tenant: Any, sub_id: str) -> dict[str, Any] | None:
    d = await tenant.data(
        f"query($s: ID!) {{ upcomingInvoice(subscriptionId: $s) {{ {INVOICE_FIELDS} }} }}",
        {"s": sub_id},
    )
    return d["upcomingInvoice"]


async def advance(tenant: Any, clock_id: str, to: datetime) -> None:
    """Advance and wait (bounded) until the worker reports the clock READY."""
    d = await tenant.data(
        "mutation($c: ID!, $t: DateTime!) { advanceTestClock(input: {testClockId: $c, "
        "frozenTime: $t}) { testClock { status } userErrors { field code message } } }",
        {"c": clock_id, "t": iso(to)},
    )
    assert d["advanceTestClock"]["userErrors"] == [], d
    assert d["advanceTestClock"]["testClock"]["status"] == "ADVANCING"
    for _ in range(1200):
        s = await tenant.data("query($c: ID!) { testClock(id: $c) { status } }", {"c": clock_id})
        status = s["testClock"]["status"]
        if status == "READY":
            return
        assert status == "ADVANCING", status
        await asyncio.sleep(0.05)
    raise AssertionError(f"test clock {clock_id} still ADVANCING after 60 s")


async def use(meter_id: str, customer_id: str, value: int | str, at: datetime) -> None:
    meter = await Meter.get(id=meter_id)
    await add_rollup_usage(meter, customer_id, Decimal(value), at)


async def add_rollup_usage(
    meter: Meter, customer_id: str, value: Decimal, at: datetime, seq: int = 0
) -> None:
    """Add one value to the customer's rollups of `at`'s minute and hour, as the worker
    would: billing tests place usage anywhere in a test clock's month without recording
    events there."""
    new = Rollup(value, 1, value, at, seq)
    model: type[UsageRollup] | type[UsageRollupHourly]
    for model, bucket in ((UsageRollup, minute_bucket(at)), (UsageRollupHourly, hour_bucket(at))):
        row = await model.get_or_none(
            meter_id=meter.id, customer_id=customer_id, bucket=bucket, dimensions_key=""
        )
        if row is None:
            await model.create(
                account_id=meter.account_id,  # type: ignore[attr-defined]
                meter_id=meter.id,
                customer_id=customer_id,
                bucket=bucket,
                dimensions_key="",
                sum=new.sum,
                count=1,
                last_value=value,
                last_ts=at,
                last_seq=seq,
            )
            continue
        old = Rollup(Decimal(row.sum), row.count, row.last_value, row.last_ts, row.last_seq)
        m = merge(old, new)
        row.sum, row.count = m.sum, m.count
        row.last_value, row.last_ts, row.last_seq = m.last_value, m.last_ts, m.last_seq
        await row.save()
