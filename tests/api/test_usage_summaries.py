"""meterEventSummaries and meterEvents through GraphQL."""

from __future__ import annotations

from datetime import timedelta

from meterbill.billing.aggregation import MAX_SUMMARY_ROWS
from meterbill.services.now import utcnow
from tests.api.usage_support import (
    EVENTS,
    SUMMARIES,
    iso,
    make_customer,
    make_meter,
    record,
    record_many,
    summary,
    total,
    wait_aggregated,
)


def ev(cus, value, ts, **dims):
    return {
        "eventName": "tokens",
        "payload": {"customer_id": cus, "value": value, **dims},
        "timestamp": iso(ts),
    }


def hour_start(hours_ago: int):
    return utcnow().replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours_ago)


async def test_exact_decimals(tenant):
    meter = await make_meter(tenant)
    cus = await make_customer(tenant)
    ts = utcnow() - timedelta(minutes=1)
    r = await record_many(tenant, [ev(cus, 0.1, ts) for _ in range(10)])
    assert r["accepted"] == 10
    assert await total(tenant, meter["id"], cus) == "1"
    await record_many(tenant, [ev(cus, "1000000000000", ts), ev(cus, 1, ts), ev(cus, "-1", ts)])
    assert await total(tenant, meter["id"], cus) == "1000000000001"
    # More significant digits than a double holds, in one sum.
    await record_many(tenant, [ev(cus, "123456789012.345", ts), ev(cus, "0.000000000001", ts)])
    assert await total(tenant, meter["id"], cus) == "1123456789013.345000000001"


async def test_windows_are_dense_and_ascending(tenant):
    meter = await make_meter(tenant)
    cus = await make_customer(tenant)
    h = hour_start(5)
    await record_many(
        tenant,
        [
            ev(cus, 1, h + timedelta(minutes=1)),
            ev(cus, 2, h + timedelta(minutes=59, seconds=59)),
            ev(cus, 4, h + timedelta(hours=2, minutes=30)),
            ev(cus, 8, h + timedelta(hours=3)),  # the end is exclusive
            ev(cus, 16, h - timedelta(seconds=1)),  # before the start
        ],
    )
    await wait_aggregated(tenant.account_id)
    rows = await summary(tenant, meter["id"], cus, h, h + timedelta(hours=3), w="HOUR")
    assert [
        (r["startTime"], r["endTime"], r["aggregatedValue"], r["dimensions"]) for r in rows
    ] == [
        (iso(h), iso(h + timedelta(hours=1)), "3", {}),
        (iso(h + timedelta(hours=1)), iso(h + timedelta(hours=2)), "0", {}),
        (iso(h + timedelta(hours=2)), iso(h + timedelta(hours=3)), "4", {}),
    ]
    whole = await summary(tenant, meter["id"], cus, h, h + timedelta(hours=3))
    assert [(r["startTime"], r["endTime"], r["aggregatedValue"]) for r in whole] == [
        (iso(h), iso(h + timedelta(hours=3)), "7")
    ]
    minute = await summary(
        tenant, meter["id"], cus, h + timedelta(minutes=1), h + timedelta(minutes=2)
    )
    assert minute[0]["aggregatedValue"] == "1"


async def test_day_windows(tenant):
    meter = await make_meter(tenant)
    cus = await make_customer(tenant)
    # A whole day five days back, not today: "now minus a minute" falls on yesterday when
    # the test runs in the first minute after midnight UTC (seen under faketime).
    today = (utcnow() - timedelta(days=5)).replace(hour=0, minute=0, second=0, microsecond=0)
    await record_many(
        tenant,
        [
            ev(cus, 5, today - timedelta(days=2, hours=-3)),
            ev(cus, 7, today + timedelta(hours=23, minutes=59)),
        ],
    )
    await wait_aggregated(tenant.account_id)
    rows = await summary(
        tenant, meter["id"], cus, today - timedelta(days=3), today + timedelta(days=1), w="DAY"
    )
    assert [r["aggregatedValue"] for r in rows] == ["0", "5", "0", "7"]


async def test_alignment_and_row_limit_are_bad_user_input(tenant):
    meter = await make_meter(tenant)
    cus = await make_customer(tenant)
    h = hour_start(2)

    async def err(start, end, **kw):
        body = await tenant.gql(
            SUMMARIES, {"m": meter["id"], "c": cus, "s": iso(start), "e": iso(end), **kw}
        )
        assert body["data"] is None, body
        (e,) = body["errors"]
        assert e["extensions"]["code"] == "BAD_USER_INPUT", e
        return e

    await err(h + timedelta(seconds=30), h + timedelta(hours=1))
    await err(h + timedelta(minutes=1), h + timedelta(hours=1), w="HOUR")
    await err(h, h + timedelta(hours=1), w="DAY") if h.hour else None
    await err(h + timedelta(hours=1), h)
    too_long = await err(h - timedelta(hours=MAX_SUMMARY_ROWS + 1), h, w="HOUR")
    assert "rows" in too_long["message"]
    unknown = await err(h, h + timedelta(hours=1), f={"nope": "x"})
    assert unknown["extensions"]["field"] == ["filter", "nope"]
    await err(h, h + timedelta(hours=1), g=["nope"])
    await err(h, h + timedelta(hours=1), f=["not", "an", "object"])


async def test_filter_and_group_by(tenant):
    meter = await make_meter(tenant, dimensionKeys=["model", "region"])
    cus = await make_customer(tenant)
    # The start of this hour: always in the past and always inside this hour's window
    # (now - 2 min fell into the previous hour during the first 2 minutes of every hour).
    h0 = hour_start(0)
    ts = h0
    await record_many(
        tenant,
        [
            ev(cus, 1, ts, model="gpt", region="eu"),
            ev(cus, 2, ts, model="gpt", region="us"),
            ev(cus, 4, ts, model="claude", region="eu"),
            ev(cus, 8, ts, model="a%_b|c=d", region="eu"),
            ev(cus, 16, ts),
            ev(cus, 32, ts, region=5),
            ev(cus, 64, ts, region="5.0"),
        ],
    )
    await wait_aggregated(tenant.account_id)
    s, e = (
        ts.replace(second=0, microsecond=0),
        ts.replace(second=0, microsecond=0) + timedelta(minutes=1),
    )

    async def rows(**kw):
        return [
            (r["aggregatedValue"], r["dimensions"])
            for r in await summary(tenant, meter["id"], cus, s, e, **kw)
        ]

    assert await rows() == [("127", {})]
    assert await rows(f={"model": "gpt"}) == [("3", {})]
    assert await rows(f={"model": "gpt", "region": "eu"}) == [("1", {})]
    assert await rows(f={"region": "eu"}) == [("13", {})]
    assert await rows(f={"model": "a%_b|c=d"}) == [("8", {})]
    assert await rows(f={"model": "a%"}) == [("0", {})]
    assert await rows(f={"region": 5}) == [("32", {})]
    assert await rows(f={"region": "5.0"}) == [("64", {})]
    assert await rows(g=["model"]) == [
        ("112", {}),
        ("8", {"model": "a%_b|c=d"}),
        ("4", {"model": "claude"}),
        ("3", {"model": "gpt"}),
    ]
    assert await rows(g=["region"], f={"model": "gpt"}) == [
        ("1", {"region": "eu"}),
        ("2", {"region": "us"}),
    ]
    hourly = await summary(
        tenant,
        meter["id"],
        cus,
        h0 - timedelta(hours=1),
        h0 + timedelta(hours=1),
        w="HOUR",
        g=["model"],
        f={"region": "eu"},
    )
    assert [(r["aggregatedValue"], r["dimensions"]) for r in hourly] == [
        ("0", {"model": "a%_b|c=d"}),
        ("0", {"model": "claude"}),
        ("0", {"model": "gpt"}),
        ("8", {"model": "a%_b|c=d"}),
        ("4", {"model": "claude"}),
        ("1", {"model": "gpt"}),
    ]


async def test_last_keeps_the_latest_timestamp_then_arrival(tenant):
    meter = await make_meter(tenant, aggregation="LAST")
    cus = await make_customer(tenant)
    t = utcnow().replace(second=0, microsecond=0) - timedelta(minutes=10)
    await record_many(tenant, [ev(cus, 5, t + timedelta(seconds=30)), ev(cus, 9, t)])
    assert await total(tenant, meter["id"], cus) == "5"
    # Same timestamp: the later arrival wins, also across separate aggregation runs.
    await record(tenant, **ev(cus, 7, t + timedelta(seconds=30)))
    assert await total(tenant, meter["id"], cus) == "7"
    await record_many(
        tenant, [ev(cus, 1, t + timedelta(minutes=3)), ev(cus, 2, t + timedelta(minutes=3))]
    )
    assert await total(tenant, meter["id"], cus) == "2"
    # An older event arriving late changes nothing.
    await record(tenant, **ev(cus, 100, t + timedelta(minutes=2)))
    assert await total(tenant, meter["id"], cus) == "2"
    rows = await summary(tenant, meter["id"], cus, t, t + timedelta(minutes=3))
    assert rows[0]["aggregatedValue"] == "100"


async def test_meter_events_most_recent_first(tenant):
    meter = await make_meter(tenant)
    c1 = await make_customer(tenant)
    c2 = await make_customer(tenant)
    ts = utcnow() - timedelta(hours=1)
    await record(tenant, **ev(c1, 1, ts), identifier="first")
    await record_many(
        tenant,
        [
            {**ev(c2, 2, ts), "identifier": "second"},
            {**ev(c1, 3, ts - timedelta(hours=1)), "identifier": "third"},
        ],
    )
    d = await tenant.data(EVENTS, {"m": meter["id"]})
    assert [e["identifier"] for e in d["meterEvents"]] == ["third", "second", "first"]
    d = await tenant.data(EVENTS, {"m": meter["id"], "c": c1, "first": 1})
    assert [(e["identifier"], e["value"], e["customerId"]) for e in d["meterEvents"]] == [
        ("third", "3", c1)
    ]
    bad = await tenant.gql(EVENTS, {"m": meter["id"], "first": 1000})
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_tenant_isolation_on_reads(tenant, other_tenant):
    meter = await make_meter(tenant)
    cus = await make_customer(tenant)
    await record(tenant, **ev(cus, 3, utcnow()))
    await wait_aggregated(tenant.account_id)
    h = hour_start(1)
    # The other account sees neither the meter's events nor its usage.
    d = await other_tenant.data(EVENTS, {"m": meter["id"]})
    assert d["meterEvents"] == []
    assert await summary(other_tenant, meter["id"], cus, h, h + timedelta(hours=3)) == []
    # Nor can it mix its own customer with our meter, or our customer with its meter.
    theirs = await make_customer(other_tenant)
    their_meter = await make_meter(other_tenant)
    assert await summary(other_tenant, meter["id"], theirs, h, h + timedelta(hours=3)) == []
    assert await summary(other_tenant, their_meter["id"], cus, h, h + timedelta(hours=3)) == []
    assert (await summary(tenant, meter["id"], cus, h, h + timedelta(hours=3)))[0][
        "aggregatedValue"
    ] == "3"
