"""cancelMeterEvent through GraphQL."""

from __future__ import annotations

from datetime import timedelta

from meterbill.db import models
from meterbill.services.now import utcnow
from tests.api.usage_support import (
    CANCEL,
    EVENTS,
    iso,
    make_customer,
    make_meter,
    record,
    record_many,
    summary,
    total,
    wait_aggregated,
)


async def cancel(tenant, event_name, identifier):
    d = await tenant.data(CANCEL, {"input": {"eventName": event_name, "identifier": identifier}})
    return d["cancelMeterEvent"]


def codes(payload):
    return [(e["code"], e["field"]) for e in payload["userErrors"]]


def ev(cus, value, ts, ident):
    return {
        "eventName": "tokens",
        "payload": {"customer_id": cus, "value": value},
        "timestamp": iso(ts),
        "identifier": ident,
    }


async def test_cancel_after_aggregation_rebuilds_the_bucket(tenant):
    meter = await make_meter(tenant)
    cus = await make_customer(tenant)
    ts = utcnow() - timedelta(minutes=5)
    await record_many(
        tenant,
        [ev(cus, 1, ts, "a"), ev(cus, 2, ts, "b"), ev(cus, 4, ts - timedelta(minutes=1), "c")],
    )
    assert await total(tenant, meter["id"], cus) == "7"
    r = await cancel(tenant, "tokens", "b")
    assert r["userErrors"] == []
    assert r["meterEvent"] == {"identifier": "b", "status": "CANCELED", "value": "2"}
    assert await total(tenant, meter["id"], cus) == "5"
    listed = await tenant.data(EVENTS, {"m": meter["id"]})
    assert {e["identifier"]: e["status"] for e in listed["meterEvents"]}["b"] == "CANCELED"
    # The canceled identifier stays taken: a retry is a duplicate, not a new count.
    again = await record(tenant, **ev(cus, 2, ts, "b"))
    assert again["duplicate"] is True and again["meterEvent"]["status"] == "CANCELED"
    assert await total(tenant, meter["id"], cus) == "5"


async def test_cancel_last_bucket_and_empty_group_disappears(tenant):
    meter = await make_meter(tenant, aggregation="LAST", dimensionKeys=["region"])
    cus = await make_customer(tenant)
    t = utcnow().replace(second=0, microsecond=0) - timedelta(minutes=3)
    events = [
        {**ev(cus, 1, t, "x"), "payload": {"customer_id": cus, "value": 1, "region": "eu"}},
        {
            **ev(cus, 9, t + timedelta(seconds=10), "y"),
            "payload": {"customer_id": cus, "value": 9, "region": "eu"},
        },
        {**ev(cus, 5, t, "z"), "payload": {"customer_id": cus, "value": 5, "region": "us"}},
    ]
    await record_many(tenant, events)
    await wait_aggregated(tenant.account_id)
    s, e = t, t + timedelta(minutes=1)

    async def grouped():
        return [
            (r["aggregatedValue"], r["dimensions"])
            for r in await summary(tenant, meter["id"], cus, s, e, g=["region"])
        ]

    assert await grouped() == [("9", {"region": "eu"}), ("5", {"region": "us"})]
    await cancel(tenant, "tokens", "y")
    assert await grouped() == [("1", {"region": "eu"}), ("5", {"region": "us"})]
    await cancel(tenant, "tokens", "z")
    # As if "z" had never come: no "us" group at all.
    assert await grouped() == [("1", {"region": "eu"})]


async def test_cancel_rules(tenant, other_tenant):
    await make_meter(tenant)
    await make_meter(tenant, "other")
    cus = await make_customer(tenant)
    await record(tenant, **ev(cus, 1, utcnow(), "e1"))
    await record(tenant, **ev(cus, 1, utcnow(), "old"))
    assert codes(await cancel(tenant, "tokens", "nope")) == [("NOT_FOUND", ["input", "identifier"])]
    # The identifier exists, but not under this event name.
    assert codes(await cancel(tenant, "other", "e1")) == [("NOT_FOUND", ["input", "identifier"])]
    # Another account cannot see or cancel it.
    await make_meter(other_tenant)
    assert codes(await cancel(other_tenant, "tokens", "e1")) == [
        ("NOT_FOUND", ["input", "identifier"])
    ]
    assert (await cancel(tenant, "tokens", "e1"))["userErrors"] == []
    assert codes(await cancel(tenant, "tokens", "e1")) == [("CONFLICT", ["input", "identifier"])]
    # Received more than 24 hours ago (its receipt time moved back, as if it had been).
    await models.MeterEvent.filter(account_id=tenant.account_id, identifier="old").update(
        created_at=utcnow() - timedelta(hours=24, seconds=1)
    )
    r = await cancel(tenant, "tokens", "old")
    assert codes(r) == [("TOO_LATE", ["input", "identifier"])] and r["meterEvent"] is None
    await models.MeterEvent.filter(account_id=tenant.account_id, identifier="old").update(
        created_at=utcnow() - timedelta(hours=23, minutes=59)
    )
    assert (await cancel(tenant, "tokens", "old"))["userErrors"] == []
