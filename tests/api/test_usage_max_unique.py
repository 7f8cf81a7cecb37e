"""MAX and UNIQUE_COUNT meters through every ingest path (recordMeterEvent twice, so the
remembered-meter path too; recordMeterEvents; POST /v1/meter_events), summaries with
windows, filter and groupBy, and cancelMeterEvent."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.api.test_bulk_ingest import ndjson, post
from tests.api.usage_support import (
    CANCEL,
    iso,
    make_customer,
    make_meter,
    record,
    record_many,
    summary,
    this_minute,
    total,
    wait_aggregated,
)


def login(cus: str, user: Any, ident: str, at: Any = None, **dims: Any) -> dict[str, Any]:
    e: dict[str, Any] = {
        "eventName": "logins",
        "payload": {"customer_id": cus, "user": user, **dims},
        "identifier": ident,
    }
    if at is not None:
        e["timestamp"] = iso(at)
    return e


async def cancel(tenant: Any, name: str, ident: str) -> dict[str, Any]:
    d = await tenant.data(CANCEL, {"input": {"eventName": name, "identifier": ident}})
    return d["cancelMeterEvent"]


async def test_unique_count_through_every_ingest_path(tenant):
    meter = await make_meter(
        tenant, "logins", aggregation="UNIQUE_COUNT", valuePayloadKey="user", dimensionKeys=["app"]
    )
    cus = await make_customer(tenant)
    t = this_minute().replace(minute=0) - timedelta(hours=2)
    for ident, user in (("s1", "ann"), ("s2", "ann"), ("s3", 42)):
        r = await record(tenant, **login(cus, user, ident, t))
        assert r["userErrors"] == [] and r["meterEvent"]["status"] == "ACCEPTED"
    missing = await record(tenant, eventName="logins", payload={"customer_id": cus})
    assert [(e["code"], e["field"]) for e in missing["userErrors"]] == [
        ("REQUIRED", ["input", "payload", "user"])
    ]
    r = await record_many(
        tenant,
        [
            login(cus, "42", "m1", t + timedelta(minutes=61), app="web"),  # 42 again
            login(cus, "bo", "m2", t + timedelta(minutes=61), app="ios"),
            login(cus, None, "m3", t),
        ],
    )
    assert (r["accepted"], r["rejected"]) == (2, 1)
    status, lines = await post(
        tenant,
        ndjson(
            [
                {"event_name": "logins", "payload": {"customer_id": cus, "user": "cy"}},
                {"event_name": "logins", "payload": {"customer_id": cus, "user": "ann"}},
                {"event_name": "logins", "payload": {"customer_id": cus}},
            ]
        ),
    )
    assert status == 200 and [x["status"] for x in lines] == ["ACCEPTED", "ACCEPTED", "REJECTED"]
    assert [e["field"] for e in lines[2]["errors"]] == [["payload", "user"]]
    # ann, 42, bo, cy
    assert await total(tenant, meter["id"], cus) == "4"
    start, end = t, t + timedelta(hours=2)
    hourly = await summary(tenant, meter["id"], cus, start, end, w="HOUR")
    assert [r["aggregatedValue"] for r in hourly] == ["2", "2"]
    web = await summary(tenant, meter["id"], cus, start, end, f={"app": "web"})
    assert [r["aggregatedValue"] for r in web] == ["1"]
    grouped = await summary(tenant, meter["id"], cus, start, end, g=["app"])
    assert [(r["dimensions"], r["aggregatedValue"]) for r in grouped] == [
        ({}, "2"),
        ({"app": "ios"}, "1"),
        ({"app": "web"}, "1"),
    ]
    # Canceling one of 42's two events leaves it counted; canceling bo's only one does not.
    assert (await cancel(tenant, "logins", "s3"))["userErrors"] == []
    assert await total(tenant, meter["id"], cus) == "4"
    assert (await cancel(tenant, "logins", "m2"))["userErrors"] == []
    assert await total(tenant, meter["id"], cus) == "3"


async def test_max_summaries_and_cancel(tenant):
    meter = await make_meter(tenant, "seats", aggregation="MAX", dimensionKeys=["team"])
    cus = await make_customer(tenant)
    t = this_minute().replace(minute=0) - timedelta(hours=2)

    def seats(n: Any, ident: str, at: Any, **dims: Any) -> dict[str, Any]:
        p = {"customer_id": cus, "value": n, **dims}
        return {"eventName": "seats", "payload": p, "identifier": ident, "timestamp": iso(at)}

    r = await record_many(
        tenant,
        [
            seats(5, "a", t, team="x"),
            seats("12.5", "b", t + timedelta(minutes=1), team="y"),
            seats(7, "c", t + timedelta(minutes=70), team="x"),
        ],
    )
    assert r["accepted"] == 3
    await record(tenant, **seats(2, "d", t + timedelta(minutes=71), team="y"))
    assert await total(tenant, meter["id"], cus) == "12.5"
    end = t + timedelta(hours=2)
    hourly = await summary(tenant, meter["id"], cus, t, end, w="HOUR")
    assert [r["aggregatedValue"] for r in hourly] == ["12.5", "7"]
    grouped = await summary(tenant, meter["id"], cus, t, end, g=["team"])
    assert [(r["dimensions"], r["aggregatedValue"]) for r in grouped] == [
        ({"team": "x"}, "7"),
        ({"team": "y"}, "12.5"),
    ]
    y = await summary(tenant, meter["id"], cus, t, end, f={"team": "y"}, w="HOUR")
    assert [r["aggregatedValue"] for r in y] == ["12.5", "2"]
    assert (await cancel(tenant, "seats", "b"))["userErrors"] == []
    await wait_aggregated(tenant.account_id)
    assert await total(tenant, meter["id"], cus) == "7"
    y = await summary(tenant, meter["id"], cus, t, end, f={"team": "y"}, w="HOUR")
    assert [r["aggregatedValue"] for r in y] == ["0", "2"]
