"""recordMeterEvent(s) through GraphQL: validation, identifiers, duplicates, batches."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from meterbill.db import models
from meterbill.services.now import utcnow
from tests.api.usage_support import (
    EVENTS,
    iso,
    make_customer,
    make_meter,
    record,
    record_many,
    total,
)


def codes(payload):
    return [(e["code"], e["field"]) for e in payload["userErrors"]]


async def test_accepts_an_event_and_counts_it(tenant):
    meter = await make_meter(tenant, dimensionKeys=["model"])
    cus = await make_customer(tenant)
    ts = utcnow() - timedelta(minutes=3)
    r = await record(
        tenant,
        eventName="tokens",
        payload={"customer_id": cus, "value": "12.5", "model": "gpt", "ignored": 1},
        identifier="req-1",
        timestamp=iso(ts),
    )
    assert r["userErrors"] == [] and r["duplicate"] is False
    ev = r["meterEvent"]
    assert ev["identifier"] == "req-1" and ev["customerId"] == cus and ev["value"] == "12.5"
    assert ev["dimensions"] == {"model": "gpt"} and ev["status"] == "ACCEPTED"
    assert ev["timestamp"] == iso(ts)
    assert await total(tenant, meter["id"], cus) == "12.5"


async def test_generates_an_identifier_and_defaults_the_timestamp(tenant):
    await make_meter(tenant)
    cus = await make_customer(tenant)
    before = utcnow()
    r = await record(tenant, eventName="tokens", payload={"customer_id": cus, "value": 1})
    ev = r["meterEvent"]
    assert ev["identifier"].startswith("evt_") and len(ev["identifier"]) == 28
    assert before - timedelta(seconds=1) <= _parse(ev["timestamp"]) <= utcnow()


def _parse(s):
    from datetime import datetime

    return datetime.fromisoformat(s.replace("Z", "+00:00"))


async def test_validation_codes_and_paths(tenant):
    await make_meter(tenant, dimensionKeys=["region"])
    await make_meter(tenant, "seats", aggregation="LAST")
    cus = await make_customer(tenant)
    now = utcnow()
    cases = [
        (
            {"eventName": "nope", "payload": {"customer_id": cus, "value": 1}},
            [("NOT_FOUND", ["input", "eventName"])],
        ),
        (
            {"eventName": "tokens", "payload": {"value": 1}},
            [("REQUIRED", ["input", "payload", "customer_id"])],
        ),
        (
            {"eventName": "tokens", "payload": {"customer_id": "cus_missing", "value": 1}},
            [("NOT_FOUND", ["input", "payload", "customer_id"])],
        ),
        (
            {"eventName": "tokens", "payload": {"customer_id": cus}},
            [("REQUIRED", ["input", "payload", "value"])],
        ),
        (
            {"eventName": "seats", "payload": {"customer_id": cus}},
            [("REQUIRED", ["input", "payload", "value"])],
        ),
        (
            {"eventName": "tokens", "payload": {"customer_id": cus, "value": "abc"}},
            [("INVALID", ["input", "payload", "value"])],
        ),
        (
            {"eventName": "tokens", "payload": {"customer_id": cus, "value": "NaN"}},
            [("INVALID", ["input", "payload", "value"])],
        ),
        (
            {"eventName": "tokens", "payload": {"customer_id": cus, "value": "1234567890.1234567"}},
            [("INVALID", ["input", "payload", "value"])],
        ),
        (
            {
                "eventName": "tokens",
                "payload": {"customer_id": cus, "value": 1},
                "timestamp": iso(now - timedelta(days=35, minutes=1)),
            },
            [("OUT_OF_RANGE", ["input", "timestamp"])],
        ),
        (
            {
                "eventName": "tokens",
                "payload": {"customer_id": cus, "value": 1},
                "timestamp": iso(now + timedelta(minutes=6)),
            },
            [("OUT_OF_RANGE", ["input", "timestamp"])],
        ),
        (
            {
                "eventName": "tokens",
                "payload": {"customer_id": cus, "value": 1},
                "identifier": "x" * 101,
            },
            [("INVALID", ["input", "identifier"])],
        ),
        (
            {
                "eventName": "tokens",
                "payload": {"customer_id": cus, "value": 1, "region": "r" * 101},
            },
            [("INVALID", ["input", "payload", "region"])],
        ),
        (
            {
                "eventName": "tokens",
                "payload": {"customer_id": cus, "value": 1, "region": {"a": 1}},
            },
            [("INVALID", ["input", "payload", "region"])],
        ),
        ({"eventName": "tokens", "payload": [1, 2]}, [("INVALID", ["input", "payload"])]),
        # Several problems are reported at once.
        (
            {"eventName": "tokens", "payload": {"value": "x"}, "identifier": "y" * 101},
            [
                ("REQUIRED", ["input", "payload", "customer_id"]),
                ("INVALID", ["input", "payload", "value"]),
                ("INVALID", ["input", "identifier"]),
            ],
        ),
    ]
    for inp, expected in cases:
        r = await record(tenant, **inp)
        assert r["meterEvent"] is None and r["duplicate"] is False, inp
        assert codes(r) == expected, (inp, r)
        assert all(e["message"] for e in r["userErrors"])


async def test_limits_are_inclusive_and_negative_values_count(tenant):
    meter = await make_meter(tenant, dimensionKeys=["region"])
    cus = await make_customer(tenant)
    now = utcnow()
    for inp in [
        {"value": "-2.5"},
        {"value": "123456789012345"},  # 15 significant digits
        {"value": 1, "region": "r" * 100},
        {"value": 1, "region": 42},
    ]:
        r = await record(
            tenant,
            eventName="tokens",
            payload={"customer_id": cus, **inp},
            identifier="i" * 100 if "region" in inp and inp["region"] == 42 else None,
            timestamp=iso(now + timedelta(minutes=4)),
        )
        assert r["userErrors"] == [], (inp, r)
    assert await total(tenant, meter["id"], cus) == "123456789012344.5"


async def test_inactive_meter(tenant):
    meter = await make_meter(tenant)
    cus = await make_customer(tenant)
    await tenant.data(
        "mutation($i: MeterIdInput!) { deactivateMeter(input: $i) { meter { status } } }",
        {"i": {"id": meter["id"]}},
    )
    r = await record(tenant, eventName="tokens", payload={"customer_id": cus, "value": 1})
    assert codes(r) == [("INACTIVE", ["input", "eventName"])]


async def test_by_external_id_mapping_and_custom_keys(tenant):
    meter = await make_meter(
        tenant,
        customerMappingType="BY_EXTERNAL_ID",
        customerPayloadKey="user",
        valuePayloadKey="n",
    )
    cus = await make_customer(tenant, externalId="u-42")
    ok = await record(tenant, eventName="tokens", payload={"user": "u-42", "n": 3})
    assert ok["userErrors"] == [] and ok["meterEvent"]["customerId"] == cus
    # A customer id is not an external id under this mapping.
    bad = await record(tenant, eventName="tokens", payload={"user": cus, "n": 3})
    assert codes(bad) == [("NOT_FOUND", ["input", "payload", "user"])]
    assert await total(tenant, meter["id"], cus) == "3"


async def test_count_meter_ignores_value(tenant):
    meter = await make_meter(tenant, aggregation="COUNT")
    cus = await make_customer(tenant)
    for payload in ({"customer_id": cus}, {"customer_id": cus, "value": "garbage"}):
        r = await record(tenant, eventName="tokens", payload=payload)
        assert r["userErrors"] == []
    assert await total(tenant, meter["id"], cus) == "2"


async def test_test_clock_time_is_now(tenant):
    await make_meter(tenant)
    frozen = utcnow().replace(microsecond=0) - timedelta(days=100)
    clock = await models.TestClock.create(account_id=tenant.account_id, frozen_time=frozen)
    cus = await make_customer(tenant, testClockId=clock.id)
    r = await record(tenant, eventName="tokens", payload={"customer_id": cus, "value": 1})
    assert r["userErrors"] == [] and r["meterEvent"]["timestamp"] == iso(frozen)
    ok = await record(
        tenant,
        eventName="tokens",
        payload={"customer_id": cus, "value": 1},
        timestamp=iso(frozen - timedelta(days=34)),
    )
    assert ok["userErrors"] == []
    # Wall-clock "now" is 100 days after the clock: in the clock's future.
    late = await record(
        tenant,
        eventName="tokens",
        payload={"customer_id": cus, "value": 1},
        timestamp=iso(utcnow()),
    )
    assert codes(late) == [("OUT_OF_RANGE", ["input", "timestamp"])]


async def test_duplicate_returns_the_original_and_counts_once(tenant):
    meter = await make_meter(tenant)
    cus = await make_customer(tenant)
    first = await record(
        tenant, eventName="tokens", payload={"customer_id": cus, "value": 5}, identifier="once"
    )
    again = await record(
        tenant, eventName="tokens", payload={"customer_id": cus, "value": 7}, identifier="once"
    )
    assert again["duplicate"] is True and again["userErrors"] == []
    assert again["meterEvent"] == first["meterEvent"]
    assert again["meterEvent"]["value"] == "5"
    assert await total(tenant, meter["id"], cus) == "5"


async def test_concurrent_retries_of_one_identifier_count_once(tenant):
    meter = await make_meter(tenant)
    cus = await make_customer(tenant)
    inp = {
        "eventName": "tokens",
        "payload": {"customer_id": cus, "value": 1},
        "identifier": "retry",
    }
    results = await asyncio.gather(*(record(tenant, **inp) for _ in range(25)))
    assert sum(not r["duplicate"] for r in results) == 1
    assert all(r["userErrors"] == [] for r in results)
    assert len({r["meterEvent"]["createdAt"] for r in results}) == 1
    assert await total(tenant, meter["id"], cus) == "1"


async def test_batch_results_in_input_order(tenant):
    meter = await make_meter(tenant)
    cus = await make_customer(tenant)
    await record(
        tenant, eventName="tokens", payload={"customer_id": cus, "value": 100}, identifier="old"
    )
    events = [
        {"eventName": "tokens", "payload": {"customer_id": cus, "value": 1}, "identifier": "a"},
        {"eventName": "tokens", "payload": {"customer_id": cus}},
        {"eventName": "tokens", "payload": {"customer_id": cus, "value": 2}, "identifier": "old"},
        {"eventName": "tokens", "payload": {"customer_id": cus, "value": 3}, "identifier": "a"},
        {"eventName": "nope", "payload": {}},
        {"eventName": "tokens", "payload": {"customer_id": cus, "value": 4}},
    ]
    r = await record_many(tenant, events)
    assert (r["accepted"], r["duplicates"], r["rejected"]) == (2, 2, 2)
    assert r["userErrors"] == []
    res = r["results"]
    assert [x["index"] for x in res] == list(range(6))
    assert [x["status"] for x in res] == [
        "ACCEPTED",
        "REJECTED",
        "DUPLICATE",
        "DUPLICATE",
        "REJECTED",
        "ACCEPTED",
    ]
    assert res[0]["identifier"] == "a" and res[2]["identifier"] == "old"
    assert res[5]["identifier"].startswith("evt_")
    assert [(e["code"], e["field"]) for e in res[1]["userErrors"]] == [
        ("REQUIRED", ["input", "1", "payload", "value"])
    ]
    assert [(e["code"], e["field"]) for e in res[4]["userErrors"]] == [
        ("NOT_FOUND", ["input", "4", "eventName"])
    ]
    assert await total(tenant, meter["id"], cus) == "105"


async def test_batch_limit(tenant):
    meter = await make_meter(tenant)
    cus = await make_customer(tenant)
    ev = {"eventName": "tokens", "payload": {"customer_id": cus, "value": 1}}
    too_many = await record_many(tenant, [ev] * 1001)
    assert too_many["results"] == [] and too_many["accepted"] == 0
    assert [(e["code"], e["field"]) for e in too_many["userErrors"]] == [("INVALID", ["input"])]
    listed = await tenant.data(EVENTS, {"m": meter["id"]})
    assert listed["meterEvents"] == []
    full = await record_many(tenant, [ev] * 1000)
    assert full["accepted"] == 1000 and full["userErrors"] == []
    assert await total(tenant, meter["id"], cus) == "1000"
    assert (await record_many(tenant, []))["results"] == []


async def test_tenant_isolation_on_record(tenant, other_tenant):
    await make_meter(tenant)
    mine = await make_customer(tenant)
    await make_meter(other_tenant, "theirs")
    theirs = await make_customer(other_tenant)
    # Another account's meter and customer do not exist for this caller.
    r1 = await record(tenant, eventName="theirs", payload={"customer_id": mine, "value": 1})
    assert codes(r1) == [("NOT_FOUND", ["input", "eventName"])]
    r2 = await record(tenant, eventName="tokens", payload={"customer_id": theirs, "value": 1})
    assert codes(r2) == [("NOT_FOUND", ["input", "payload", "customer_id"])]
    # Identifiers are unique per account, not globally.
    a = await record(
        tenant, eventName="tokens", payload={"customer_id": mine, "value": 1}, identifier="shared"
    )
    await make_meter(other_tenant, "tokens")
    b = await record(
        other_tenant,
        eventName="tokens",
        payload={"customer_id": theirs, "value": 1},
        identifier="shared",
    )
    assert a["duplicate"] is False and b["duplicate"] is False


async def test_usage_write_key_may_record_but_not_read(tenant):
    await make_meter(tenant)
    cus = await make_customer(tenant)
    d = await tenant.data(
        'mutation { createApiKey(input: {name: "ingest", scopes: [USAGE_WRITE]}) { secret } }'
    )
    key = d["createApiKey"]["secret"]
    ok = await tenant.data(
        "mutation($input: MeterEventInput!) { recordMeterEvent(input: $input) "
        "{ userErrors { code } } }",
        {"input": {"eventName": "tokens", "payload": {"customer_id": cus, "value": 1}}},
        key=key,
    )
    assert ok["recordMeterEvent"]["userErrors"] == []
    denied = await tenant.gql(EVENTS, {"m": "mtr_x"}, key=key)
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
