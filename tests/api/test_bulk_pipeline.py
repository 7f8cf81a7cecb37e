"""POST /v1/meter_events against recordMeterEvents: its own fast check stores and rejects
exactly what the GraphQL path does; chunks pipelined (the next checked while the previous
INSERT runs) keep every result, in order, with input order deciding duplicates; a chunk whose
INSERT fails ends the answer with nothing after it stored or reported."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import orjson
import pytest
from tortoise import connections

from meterbill.db import models
from meterbill.http import bulk
from meterbill.services.now import utcnow
from tests.api.test_bulk_ingest import NDJSON, URL, ndjson, post, statuses
from tests.api.usage_support import iso, make_customer, make_meter, record_many, total


def snake(event: dict[str, Any]) -> dict[str, Any]:
    out = dict(event)
    out["event_name"] = out.pop("eventName")
    return out


def _message(text: str) -> str:
    # An OUT_OF_RANGE message names the range around "now", which moved between the calls.
    return re.sub(r"\[[^]]*\]", "[...]", text)


def gql_errors(result: dict[str, Any], index: int) -> list[tuple[str, Any, str]]:
    """userErrors of recordMeterEvents as the bulk endpoint names them."""
    out = []
    for e in result["userErrors"]:
        path = e["field"]
        assert path[:2] == ["input", str(index)], e
        path = path[2:]
        if path[:1] == ["eventName"]:
            path = ["event_name", *path[1:]]
        out.append((e["code"], path or None, _message(e["message"])))
    return out


def bulk_errors(line: dict[str, Any]) -> list[tuple[str, Any, str]]:
    return [(e["code"], e["field"], _message(e["message"])) for e in line["errors"]]


async def stored(account_id: str, identifier: str) -> tuple[Any, ...]:
    e = await models.MeterEvent.get(account_id=account_id, identifier=identifier)
    return (e.meter_id, e.customer_id, e.event_name, e.value, e.timestamp, e.dimensions_key)


async def test_same_rows_and_errors_as_record_meter_events(tenant):
    await make_meter(tenant)
    await make_meter(tenant, "regional", dimensionKeys=["region"])
    await make_meter(tenant, "seats", aggregation="LAST")
    await make_meter(tenant, "calls", aggregation="COUNT")
    await make_meter(
        tenant,
        "ext",
        customerMappingType="BY_EXTERNAL_ID",
        customerPayloadKey="user",
        valuePayloadKey="n",
    )
    off = await make_meter(tenant, "off")
    await tenant.data(
        "mutation($i: MeterIdInput!) { deactivateMeter(input: $i) { meter { status } } }",
        {"i": {"id": off["id"]}},
    )
    cus = await make_customer(tenant)
    await make_customer(tenant, externalId="u-42")
    frozen = utcnow().replace(microsecond=0) - timedelta(days=100)
    clock = await models.TestClock.create(account_id=tenant.account_id, frozen_time=frozen)
    clocked = await make_customer(tenant, testClockId=clock.id)
    now = utcnow()

    def tok(value: Any, **kw: Any) -> dict[str, Any]:
        return {"eventName": "tokens", "payload": {"customer_id": cus, "value": value}, **kw}

    valid = [
        tok("12.5", timestamp=iso(now - timedelta(minutes=3))),
        tok(7),
        tok(0.1),
        tok("1E+3"),
        tok(" -2.5 "),
        tok("0.000000000001"),
        tok(123456789012345),
        tok(1, timestamp=(now - timedelta(hours=1)).astimezone().isoformat()),
        tok(1, timestamp=(now - timedelta(hours=2)).isoformat().replace("+00:00", "+02:00")),
        tok(1, timestamp=iso(now + timedelta(minutes=4))),
        {"eventName": "regional", "payload": {"customer_id": cus, "value": 1, "region": "eu"}},
        {"eventName": "regional", "payload": {"customer_id": cus, "value": 2, "region": 42}},
        {"eventName": "seats", "payload": {"customer_id": cus, "value": 3}},
        {"eventName": "calls", "payload": {"customer_id": cus}},
        {"eventName": "calls", "payload": {"customer_id": cus, "value": "garbage"}},
        {"eventName": "ext", "payload": {"user": "u-42", "n": "3"}},
        {"eventName": "tokens", "payload": {"customer_id": clocked, "value": 1}},
        {
            "eventName": "tokens",
            "payload": {"customer_id": clocked, "value": 1},
            "timestamp": iso(frozen - timedelta(days=34)),
        },
    ]
    invalid = [
        {"eventName": "nope", "payload": {"customer_id": cus, "value": 1}},
        {"eventName": "tokens", "payload": {"value": 1}},
        {"eventName": "tokens", "payload": {"customer_id": "", "value": 1}},
        {"eventName": "tokens", "payload": {"customer_id": 5, "value": 1}},
        {"eventName": "tokens", "payload": {"customer_id": "cus_missing", "value": 1}},
        {"eventName": "tokens", "payload": {"customer_id": cus}},
        tok("abc"),
        tok("NaN"),
        tok(True),
        tok([1]),
        tok("1234567890.1234567"),
        tok("1e15"),
        tok(1, timestamp=iso(now - timedelta(days=35, minutes=1))),
        tok(1, timestamp=iso(now + timedelta(minutes=6))),
        tok(1, identifier="x" * 101),
        tok(1, identifier=""),
        {"eventName": "regional", "payload": {"customer_id": cus, "value": 1, "region": "r" * 101}},
        {"eventName": "regional", "payload": {"customer_id": cus, "value": 1, "region": {"a": 1}}},
        {"eventName": "tokens", "payload": [1, 2]},
        {"eventName": "off", "payload": {"customer_id": cus, "value": 1}},
        {"eventName": "ext", "payload": {"user": cus, "n": 3}},
        {
            "eventName": "tokens",
            "payload": {"customer_id": clocked, "value": 1},
            "timestamp": iso(now),
        },
        {"eventName": "tokens", "payload": {"value": "x"}, "identifier": "y" * 101},
    ]
    events = valid + invalid
    gql = await record_many(
        tenant, [{**e, "identifier": e.get("identifier", f"g-{k}")} for k, e in enumerate(events)]
    )
    code, lines = await post(
        tenant,
        ndjson(
            [
                snake({**e, "identifier": e.get("identifier", f"b-{k}")})
                for k, e in enumerate(events)
            ]
        ),
    )
    assert code == 200 and [r["index"] for r in lines] == list(range(len(events)))
    for k, (g, b) in enumerate(zip(gql["results"], lines, strict=True)):
        assert b["status"] == g["status"], (k, events[k], g, b)
        assert bulk_errors(b) == gql_errors(g, k), (k, events[k])
    assert statuses(lines) == ["ACCEPTED"] * len(valid) + ["REJECTED"] * len(invalid)
    for k, e in enumerate(valid):
        b = await stored(tenant.account_id, f"b-{k}")
        g = await stored(tenant.account_id, f"g-{k}")
        if "timestamp" not in e and clocked not in e["payload"].values():
            # "Now" at each call: a moment apart.
            assert abs(b[4] - g[4]) < timedelta(minutes=1), (k, e)
            b, g = b[:4] + b[5:], g[:4] + g[5:]
        assert b == g, (k, e)


async def test_chunks_pipelined_keep_every_result_in_order(tenant, monkeypatch):
    """Chunks of 3 events from a body arriving in 50-byte pieces: duplicates of identifiers
    from the chunk just before (whose INSERT may still be running while this one is checked),
    from far back and within one chunk; rejected events between them."""
    monkeypatch.setattr(bulk, "CHUNK", 3)
    meter = await make_meter(tenant)
    cus = await make_customer(tenant)
    idents = [f"p{i}" for i in range(40)]
    for i, j in [(3, 2), (4, 2), (9, 0), (10, 10), (20, 19), (33, 1), (39, 38)]:
        idents[i] = idents[j]
    events: list[Any] = [
        {"event_name": "tokens", "payload": {"customer_id": cus, "value": i}, "identifier": x}
        for i, x in enumerate(idents)
    ]
    for i in (5, 17, 18, 30):
        events[i] = {"event_name": "tokens", "payload": {"customer_id": cus, "value": "bad"}}
    seen: set[str] = set()
    want = []
    for e in events:
        ident = e.get("identifier")
        if ident is None:
            want.append("REJECTED")
        else:
            want.append("DUPLICATE" if ident in seen else "ACCEPTED")
            seen.add(ident)
    body = ndjson(events)

    async def pieces():
        for i in range(0, len(body), 50):
            yield body[i : i + 50]

    resp = await tenant.client.post(
        URL,
        content=pieces(),
        headers={"Authorization": f"Bearer {tenant.secret}", "Content-Type": NDJSON},
    )
    lines = [orjson.loads(x) for x in resp.content.splitlines()]
    assert [r["index"] for r in lines] == list(range(40))
    assert statuses(lines) == want
    assert [r["identifier"] for r in lines if r["status"] != "REJECTED"] == [
        e["identifier"] for e in events if "identifier" in e
    ]
    accepted_values = sum(i for i, s in enumerate(want) if s == "ACCEPTED")
    assert await total(tenant, meter["id"], cus) == str(accepted_values)


async def _boom_trigger(create: bool) -> None:
    conn = connections.get("default")
    if conn.capabilities.dialect == "postgres":
        script = (
            "CREATE FUNCTION mb_test_boom() RETURNS trigger AS $$ BEGIN "
            "IF NEW.identifier = 'boom' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; "
            "END $$ LANGUAGE plpgsql; "
            "CREATE TRIGGER mb_test_boom BEFORE INSERT ON meter_events "
            "FOR EACH ROW EXECUTE FUNCTION mb_test_boom();"
            if create
            else "DROP TRIGGER mb_test_boom ON meter_events; DROP FUNCTION mb_test_boom();"
        )
    else:
        script = (
            "CREATE TRIGGER mb_test_boom BEFORE INSERT ON meter_events "
            "WHEN NEW.identifier = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END;"
            if create
            else "DROP TRIGGER mb_test_boom;"
        )
    await conn.execute_script(script)


async def asgi_post(app: Any, secret: str, pieces: list[bytes]) -> tuple[bytes, bool]:
    """Drive the ASGI app directly (httpx would drop a partial answer): the body sent before
    the app failed, and whether it failed."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": URL,
        "raw_path": URL.encode(),
        "root_path": "",
        "query_string": b"",
        "server": ("test", 80),
        "client": ("127.0.0.1", 1),
        "headers": [
            (b"host", b"test"),
            (b"authorization", f"Bearer {secret}".encode()),
            (b"content-type", b"application/x-ndjson"),
        ],
    }
    queue = list(pieces)

    async def receive() -> dict[str, Any]:
        if queue:
            return {"type": "http.request", "body": queue.pop(0), "more_body": bool(queue)}
        await asyncio.sleep(3600)  # no disconnect while the app works
        raise AssertionError("unreachable")

    sent: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            sent.append(message.get("body", b""))

    try:
        await app(scope, receive, send)
    except Exception:
        return b"".join(sent), True
    return b"".join(sent), False


async def test_a_failing_insert_ends_the_answer_and_nothing_after_it_is_stored(
    app, tenant, monkeypatch
):
    """Chunks of 4 (one line per piece, so the cuts are exact); the third chunk's INSERT
    fails in the database. The first two are stored and reported; the failing chunk and
    everything after it are neither, and the answer stops (the client retries those
    events by identifier)."""
    monkeypatch.setattr(bulk, "CHUNK", 4)
    await make_meter(tenant)
    cus = await make_customer(tenant)
    idents = [f"f{i}" for i in range(20)]
    idents[9] = "boom"
    events = [
        {"event_name": "tokens", "payload": {"customer_id": cus, "value": 1}, "identifier": x}
        for x in idents
    ]
    pieces = [orjson.dumps(e) + b"\n" for e in events]
    await _boom_trigger(True)
    try:
        body, failed = await asgi_post(app, tenant.secret, pieces)
    finally:
        await _boom_trigger(False)
    assert failed
    lines = [orjson.loads(x) for x in body.splitlines()]
    assert [r["index"] for r in lines] == list(range(8))
    assert statuses(lines) == ["ACCEPTED"] * 8
    have = await models.MeterEvent.filter(account_id=tenant.account_id).values_list(
        "identifier", flat=True
    )
    assert sorted(have) == sorted(idents[:8])
    # A retry of the whole body stores the rest; the first eight are duplicates.
    body, failed = await asgi_post(app, tenant.secret, pieces)
    lines = [orjson.loads(x) for x in body.splitlines()]
    assert not failed
    assert statuses(lines) == ["DUPLICATE"] * 8 + ["ACCEPTED"] * 12


@pytest.mark.parametrize("ctype", ["application/x-ndjson", "application/json"])
async def test_meters_and_customers_created_between_requests_are_found(tenant, ctype):
    """Lookups are cached per request only."""
    cus = await make_customer(tenant)
    event = {"event_name": "tokens", "payload": {"customer_id": cus, "value": 1}}
    body = ndjson([event]) if ctype != "application/json" else orjson.dumps([event])
    _, lines = await post(tenant, body, ctype)
    assert lines[0]["errors"][0]["code"] == "NOT_FOUND"
    await make_meter(tenant)
    _, lines = await post(tenant, body, ctype)
    assert statuses(lines) == ["ACCEPTED"]
