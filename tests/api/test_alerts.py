"""Usage alerts through GraphQL (contract extension "alerts"): bad input refused naming the
field with nothing stored; an ACTIVE alert triggers once per customer and period, with one
billing.alert.triggered event, evaluated by the worker after it folds the crossing event."""

from __future__ import annotations

import asyncio
from typing import Any

from meterbill.db.models import BillingAlert, BillingAlertTrigger, DomainEvent
from tests.api.usage_support import make_customer, make_meter, record, record_many

CREATE = """
mutation($i: CreateBillingAlertInput!) {
  createBillingAlert(input: $i) {
    billingAlert { id title threshold status meter { id } customer { id } createdAt }
    userErrors { field code message }
  }
}"""

ARCHIVE = """
mutation($id: ID!) {
  archiveBillingAlert(input: {id: $id}) {
    billingAlert { id status }
    userErrors { field code message }
  }
}"""

TRIGGERS = """
query($a: ID!, $first: Int, $after: String) {
  billingAlertTriggers(alertId: $a, first: $first, after: $after) {
    edges { cursor node { value periodStart triggeredAt alert { id } customer { id } } }
    pageInfo { hasNextPage endCursor }
  }
}"""

EVENTS = """
query { events(type: "billing.alert.triggered") { edges { node { type objectId data } } } }
"""


async def create(tenant: Any, **inp: Any) -> dict[str, Any]:
    return (await tenant.data(CREATE, {"i": {"title": "Heavy use", **inp}}))["createBillingAlert"]


async def triggers(tenant: Any, alert: str, wanted: int, limit: float = 15.0) -> list[dict]:
    """The alert's triggers once there are `wanted` (bounded wait: the worker evaluates
    after it folds)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while True:
        d = await tenant.data(TRIGGERS, {"a": alert})
        edges = d["billingAlertTriggers"]["edges"]
        if len(edges) >= wanted or loop.time() > deadline:
            return [e["node"] for e in edges]
        await asyncio.sleep(0.05)


def ev(cus: str, value: Any, ident: str | None = None) -> dict[str, Any]:
    e: dict[str, Any] = {"eventName": "tokens", "payload": {"customer_id": cus, "value": value}}
    if ident:
        e["identifier"] = ident
    return e


async def test_bad_input_names_the_field_and_stores_nothing(tenant, other_tenant):
    meter = await make_meter(tenant)
    cus = await make_customer(tenant)
    foreign = await make_customer(other_tenant)
    cases = [
        ({"meterId": meter["id"], "threshold": "0"}, [("INVALID", ["input", "threshold"])]),
        ({"meterId": meter["id"], "threshold": "-5"}, [("INVALID", ["input", "threshold"])]),
        (
            {"meterId": meter["id"], "threshold": "0.0000000000001"},
            [("OUT_OF_RANGE", ["input", "threshold"])],
        ),
        ({"meterId": "mtr_nope", "threshold": "10"}, [("NOT_FOUND", ["input", "meterId"])]),
        (
            {"meterId": meter["id"], "customerId": foreign, "threshold": "10"},
            [("NOT_FOUND", ["input", "customerId"])],
        ),
        (
            {"meterId": "mtr_nope", "customerId": "cus_nope", "threshold": "0"},
            [
                ("INVALID", ["input", "threshold"]),
                ("NOT_FOUND", ["input", "meterId"]),
                ("NOT_FOUND", ["input", "customerId"]),
            ],
        ),
        (
            {"meterId": meter["id"], "threshold": "10", "title": " "},
            [("REQUIRED", ["input", "title"])],
        ),
    ]
    for inp, expected in cases:
        r = await create(tenant, **inp)
        assert r["billingAlert"] is None
        assert [(e["code"], e["field"]) for e in r["userErrors"]] == expected, inp
    # Not a number: the Decimal scalar refuses it before the resolver (BAD_USER_INPUT).
    for bad in ("abc", "NaN", "Infinity"):
        body = await tenant.gql(
            CREATE, {"i": {"title": "t", "meterId": meter["id"], "threshold": bad}}
        )
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
        assert "threshold" in body["errors"][0]["message"]
    # Another tenant's meter is unknown too.
    r = await create(other_tenant, meterId=meter["id"], threshold="1")
    assert [e["code"] for e in r["userErrors"]] == ["NOT_FOUND"]
    assert not await BillingAlert.filter(account_id=tenant.account_id).exists()
    assert not await BillingAlert.filter(account_id=other_tenant.account_id).exists()
    ok = await create(tenant, meterId=meter["id"], customerId=cus, threshold="10.50")
    alert = ok["billingAlert"]
    assert ok["userErrors"] == [] and alert["threshold"] == "10.5"
    assert alert["status"] == "ACTIVE" and alert["id"].startswith("alrt_")
    assert alert["meter"] == {"id": meter["id"]} and alert["customer"] == {"id": cus}
    listed = await tenant.data("query { billingAlerts { id } }")
    assert listed["billingAlerts"] == [{"id": alert["id"]}]
    assert (await other_tenant.data("query { billingAlerts { id } }"))["billingAlerts"] == []
    missing = (await tenant.data(ARCHIVE, {"id": "alrt_nope"}))["archiveBillingAlert"]
    assert [(e["code"], e["field"]) for e in missing["userErrors"]] == [
        ("NOT_FOUND", ["input", "id"])
    ]


async def test_triggers_once_per_customer_and_period_with_one_event(tenant):
    meter = await make_meter(tenant)
    a, b = await make_customer(tenant), await make_customer(tenant)
    one = (await create(tenant, meterId=meter["id"], customerId=a, threshold="10"))["billingAlert"]
    every = (await create(tenant, meterId=meter["id"], threshold="5"))["billingAlert"]
    # Below both thresholds: nothing.
    await record(tenant, **ev(a, 4))
    assert await triggers(tenant, one["id"], 1, limit=1.5) == []
    # a crosses 5 (the customer-less alert), then 10 in a later batch.
    await record(tenant, **ev(a, 3))
    got = await triggers(tenant, every["id"], 1)
    assert [(t["customer"]["id"], t["value"]) for t in got] == [(a, "7")]
    await record_many(tenant, [ev(a, 2), ev(a, 2)])
    got = await triggers(tenant, one["id"], 1)
    assert [(t["customer"]["id"], t["value"], t["alert"]["id"]) for t in got] == [
        (a, "11", one["id"])
    ]
    # b crosses the customer-less alert on its own; a's further usage triggers nothing more.
    await record_many(tenant, [ev(b, 6), ev(a, 100)])
    got = await triggers(tenant, every["id"], 2)
    assert sorted(t["customer"]["id"] for t in got) == sorted([a, b])
    await asyncio.sleep(1.0)
    assert len(await triggers(tenant, every["id"], 3, limit=0.5)) == 2
    assert len(await triggers(tenant, one["id"], 2, limit=0.5)) == 1
    # Without a subscription the period is the UTC calendar month.
    assert got[0]["periodStart"].endswith("-01T00:00:00Z")
    # One event per trigger, through the event log.
    events = (await tenant.data(EVENTS))["events"]["edges"]
    assert sorted((e["node"]["objectId"], e["node"]["data"]["customer"]) for e in events) == sorted(
        [(every["id"], a), (every["id"], b), (one["id"], a)]
    )
    data = events[0]["node"]["data"]
    assert data["object"] == "billing.alert_triggered"
    assert data["alert"]["object"] == "billing.alert"
    assert (
        await DomainEvent.filter(
            account_id=tenant.account_id, type="billing.alert.triggered"
        ).count()
        == 3
    )
    # Pagination, newest first.
    page = (await tenant.data(TRIGGERS, {"a": every["id"], "first": 1}))["billingAlertTriggers"]
    assert page["pageInfo"]["hasNextPage"] is True and len(page["edges"]) == 1
    rest = await tenant.data(
        TRIGGERS, {"a": every["id"], "first": 5, "after": page["pageInfo"]["endCursor"]}
    )
    rest_edges = rest["billingAlertTriggers"]["edges"]
    assert len(rest_edges) == 1
    assert rest_edges[0]["node"]["triggeredAt"] <= page["edges"][0]["node"]["triggeredAt"]


async def test_archived_alerts_do_not_trigger(tenant):
    meter = await make_meter(tenant)
    cus = await make_customer(tenant)
    alert = (await create(tenant, meterId=meter["id"], threshold="1"))["billingAlert"]
    archived = (await tenant.data(ARCHIVE, {"id": alert["id"]}))["archiveBillingAlert"]
    assert archived == {"billingAlert": {"id": alert["id"], "status": "ARCHIVED"}, "userErrors": []}
    await record(tenant, **ev(cus, 5))
    assert await triggers(tenant, alert["id"], 1, limit=1.5) == []
    assert not await BillingAlertTrigger.filter(alert_id=alert["id"]).exists()


async def test_unique_count_alert(tenant):
    meter = await make_meter(tenant, "logins", aggregation="UNIQUE_COUNT", valuePayloadKey="user")
    cus = await make_customer(tenant)
    alert = (await create(tenant, meterId=meter["id"], customerId=cus, threshold="3"))[
        "billingAlert"
    ]

    def login(user: Any) -> dict[str, Any]:
        return {"eventName": "logins", "payload": {"customer_id": cus, "user": user}}

    # Three events of two distinct users: 2 < 3.
    r = await record_many(tenant, [login("ann"), login("ann"), login("bo")])
    assert r["accepted"] == 3
    assert await triggers(tenant, alert["id"], 1, limit=1.5) == []
    missing = await record_many(tenant, [{"eventName": "logins", "payload": {"customer_id": cus}}])
    assert missing["rejected"] == 1
    assert [(e["code"], e["field"]) for e in missing["results"][0]["userErrors"]] == [
        ("REQUIRED", ["input", "0", "payload", "user"])
    ]
    await record_many(tenant, [login(7)])
    got = await triggers(tenant, alert["id"], 1)
    assert [t["value"] for t in got] == ["3"]
