"""recordMeterEvents against recordMeterEvent, event by event: a batch (on PostgreSQL checked
by record.py's plain-event check and stored by bulk's unnest INSERT) accepts, rejects and
stores exactly what the single-event path (validate_event for every event) does, with the
same errors under ["input", "<index>", ...], and input order deciding duplicates."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from meterbill.db import models
from meterbill.services.now import utcnow
from tests.api.test_bulk_pipeline import _message, stored
from tests.api.usage_support import iso, make_customer, make_meter, record, record_many


def _single(r: dict[str, Any]) -> tuple[str, list[tuple[str, Any, str]]]:
    status = "REJECTED" if r["userErrors"] else "DUPLICATE" if r["duplicate"] else "ACCEPTED"
    errors = [(e["code"], e["field"][1:], _message(e["message"])) for e in r["userErrors"]]
    return status, errors


def _batched(r: dict[str, Any], k: int) -> tuple[str, list[tuple[str, Any, str]]]:
    errors = []
    for e in r["userErrors"]:
        assert e["field"][:2] == ["input", str(k)], e
        errors.append((e["code"], e["field"][2:], _message(e["message"])))
    return r["status"], errors


async def test_batch_answers_and_stores_as_single_events(tenant):
    await make_meter(tenant)
    await make_meter(tenant, "regional", dimensionKeys=["region"])
    await make_meter(tenant, "calls", aggregation="COUNT")
    await make_meter(tenant, "ext", customerMappingType="BY_EXTERNAL_ID", customerPayloadKey="user")
    off = await make_meter(tenant, "off")
    await tenant.data(
        "mutation($i: MeterIdInput!) { deactivateMeter(input: $i) { meter { status } } }",
        {"i": {"id": off["id"]}},
    )
    cus = await make_customer(tenant)
    await make_customer(tenant, externalId="u-7")
    frozen = utcnow().replace(microsecond=0) - timedelta(days=60)
    clock = await models.TestClock.create(account_id=tenant.account_id, frozen_time=frozen)
    clocked = await make_customer(tenant, testClockId=clock.id)
    now = utcnow()

    def tok(value: Any, **kw: Any) -> dict[str, Any]:
        return {"eventName": "tokens", "payload": {"customer_id": cus, "value": value}, **kw}

    events = [
        tok("12.5", timestamp=iso(now - timedelta(minutes=3))),
        tok(7),
        tok(0.1),
        tok("1E+3"),
        tok(" -2.50 "),
        tok(1, timestamp=(now - timedelta(hours=2)).isoformat().replace("+00:00", "+02:00")),
        tok(1, timestamp=iso(now + timedelta(minutes=4))),
        tok(1, timestamp=iso(now + timedelta(minutes=6))),
        tok(1, timestamp=iso(now - timedelta(days=35, minutes=1))),
        tok("abc"),
        tok(None),
        tok(True),
        tok(1, identifier=""),
        tok(1, identifier="x" * 101),
        tok(1, identifier="x" * 99),
        {"eventName": "tokens", "payload": {"customer_id": cus, "value": 1, "extra": [1]}},
        {"eventName": "tokens", "payload": {"value": 1}},
        {"eventName": "tokens", "payload": {"customer_id": 5, "value": 1}},
        {"eventName": "tokens", "payload": {"customer_id": "cus_nope", "value": 1}},
        {"eventName": "tokens", "payload": [1]},
        {"eventName": "nope", "payload": {"customer_id": cus, "value": 1}},
        {"eventName": "off", "payload": {"customer_id": cus, "value": 1}},
        {"eventName": "regional", "payload": {"customer_id": cus, "value": 2, "region": "eu"}},
        {"eventName": "calls", "payload": {"customer_id": cus, "value": "garbage"}},
        {"eventName": "ext", "payload": {"user": "u-7", "value": "3"}},
        {"eventName": "tokens", "payload": {"customer_id": clocked, "value": 1}},
        {"eventName": "tokens", "payload": {"customer_id": clocked}, "timestamp": iso(now)},
    ]

    def ident(p: str, k: int) -> str:
        # Each path its own identifiers; "" and 101 characters stay as they are (rejected).
        given = events[k].get("identifier")
        return f"{p}-{k}" if given is None else p + given if 0 < len(given) < 100 else given

    single = []
    for k, e in enumerate(events):
        single.append(_single(await record(tenant, **{**e, "identifier": ident("s", k)})))
    got = await record_many(
        tenant, [{**e, "identifier": ident("b", k)} for k, e in enumerate(events)]
    )
    assert got["userErrors"] == []
    for k, (r, want) in enumerate(zip(got["results"], single, strict=True)):
        assert r["index"] == k
        assert _batched(r, k) == want, (k, events[k])
        if want[0] == "ACCEPTED":
            s = await stored(tenant.account_id, ident("s", k))
            b = await stored(tenant.account_id, ident("b", k))
            if "timestamp" not in events[k] and clocked not in events[k]["payload"].values():
                assert abs(s[4] - b[4]) < timedelta(minutes=1), (k, events[k])
                s, b = s[:4] + s[5:], b[:4] + b[5:]
            assert s == b, (k, events[k])
    accepted = sum(1 for s, _ in single if s == "ACCEPTED")
    assert (got["accepted"], got["rejected"]) == (accepted, len(events) - accepted)

    # Duplicates: of an event stored before, and within the batch (the first one wins).
    again = [tok(1, identifier="b-1"), tok(2, identifier="n-1"), tok(3, identifier="n-1")]
    got = await record_many(tenant, again)
    assert [r["status"] for r in got["results"]] == ["DUPLICATE", "ACCEPTED", "DUPLICATE"]
    assert (await models.MeterEvent.get(account_id=tenant.account_id, identifier="n-1")).value == 2
    assert (await models.MeterEvent.get(account_id=tenant.account_id, identifier="b-1")).value == 7
