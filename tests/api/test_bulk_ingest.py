"""POST /v1/meter_events: NDJSON and JSON arrays, the same validation and idempotency as
recordMeterEvents, per-event results streamed back in input order, scopes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import orjson

from meterbill.services.accounts import create_api_key
from meterbill.services.now import utcnow
from tests.api.usage_support import iso, make_customer, make_meter, total

URL = "/v1/meter_events"
NDJSON = "application/x-ndjson"


def ev(cus: str, ident: str | None = None, value: Any = 1, **kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "event_name": "tokens",
        "payload": {"customer_id": cus, "value": value},
        **kw,
    }
    if ident is not None:
        out["identifier"] = ident
    return out


def ndjson(events: list[Any]) -> bytes:
    return b"".join(orjson.dumps(e) + b"\n" for e in events)


async def post(
    tenant: Any, body: Any, ctype: str = NDJSON, key: str | None = None
) -> tuple[int, list[dict[str, Any]]]:
    headers = {"Content-Type": ctype}
    if key != "":
        headers["Authorization"] = f"Bearer {key or tenant.secret}"
    resp = await tenant.client.post(URL, content=body, headers=headers)
    if resp.status_code != 200:
        return resp.status_code, [resp.json()]
    assert resp.headers["content-type"] == NDJSON
    return 200, [orjson.loads(line) for line in resp.content.splitlines()]


def statuses(lines: list[dict[str, Any]]) -> list[str]:
    return [r["status"] for r in lines]


async def test_ndjson_events_are_recorded_and_counted(tenant):
    meter = await make_meter(tenant)
    cus = await make_customer(tenant)
    events = [ev(cus, "a", "1.5"), ev(cus, "b", 2), ev(cus, None, "0.25")]
    code, lines = await post(tenant, ndjson(events))
    assert code == 200
    assert [r["index"] for r in lines] == [0, 1, 2]
    assert statuses(lines) == ["ACCEPTED"] * 3
    assert [r["identifier"] for r in lines[:2]] == ["a", "b"]
    assert lines[2]["identifier"].startswith("evt_")
    assert all(r["errors"] == [] for r in lines)
    assert await total(tenant, meter["id"], cus) == "3.75"


async def test_json_array_is_accepted_too(tenant):
    meter = await make_meter(tenant)
    cus = await make_customer(tenant)
    body = orjson.dumps([ev(cus, "x", 3), ev(cus, "y", 4)])
    code, lines = await post(tenant, body, "application/json")
    assert code == 200 and statuses(lines) == ["ACCEPTED", "ACCEPTED"]
    assert await total(tenant, meter["id"], cus) == "7"


async def test_validation_mixed_results_in_input_order(tenant):
    meter = await make_meter(tenant)
    cus = await make_customer(tenant)
    now = utcnow()
    events: list[Any] = [
        ev(cus, "ok-1", 5),
        {"event_name": "nope", "payload": {"customer_id": cus, "value": 1}},
        ev(cus, "bad-value", "abc"),
        ev(cus, "old", 1, timestamp=iso(now - timedelta(days=36))),
        ev(cus, "bad-ts", 1, timestamp="yesterday"),
        {"payload": {"customer_id": cus, "value": 1}},
        {**ev(cus, "extra"), "eventName": "tokens"},
        ev("cus_missing", "no-customer"),
        [1, 2],
        ev(cus, "ok-2", 6),
    ]
    body = ndjson(events[:8]) + b"{not json\n" + ndjson(events[8:])
    code, lines = await post(tenant, body)
    assert code == 200
    assert [r["index"] for r in lines] == list(range(11))
    got = [(r["status"], [(e["code"], e["field"]) for e in r["errors"]]) for r in lines]
    assert got == [
        ("ACCEPTED", []),
        ("REJECTED", [("NOT_FOUND", ["event_name"])]),
        ("REJECTED", [("INVALID", ["payload", "value"])]),
        ("REJECTED", [("OUT_OF_RANGE", ["timestamp"])]),
        ("REJECTED", [("INVALID", ["timestamp"])]),
        ("REJECTED", [("REQUIRED", ["event_name"])]),
        ("REJECTED", [("INVALID", ["eventName"])]),
        ("REJECTED", [("NOT_FOUND", ["payload", "customer_id"])]),
        ("REJECTED", [("INVALID", None)]),
        ("REJECTED", [("INVALID", None)]),
        ("ACCEPTED", []),
    ]
    assert lines[2]["identifier"] == "bad-value"
    assert await total(tenant, meter["id"], cus) == "11"


async def test_duplicates_within_a_body_and_across_calls(tenant):
    meter = await make_meter(tenant)
    cus = await make_customer(tenant)
    code, lines = await post(tenant, ndjson([ev(cus, "d1", 1), ev(cus, "d1", 100)]))
    assert statuses(lines) == ["ACCEPTED", "DUPLICATE"]
    # The same identifier through GraphQL afterwards, and through the endpoint again.
    gql = await tenant.data(
        "mutation($i: [MeterEventInput!]!) { recordMeterEvents(input: $i) { duplicates } }",
        {
            "i": [
                {
                    "eventName": "tokens",
                    "payload": {"customer_id": cus, "value": 7},
                    "identifier": "d1",
                }
            ]
        },
    )
    assert gql["recordMeterEvents"]["duplicates"] == 1
    code, lines = await post(tenant, ndjson([ev(cus, "d1", 1), ev(cus, "d2", 2)]))
    assert statuses(lines) == ["DUPLICATE", "ACCEPTED"]
    assert await total(tenant, meter["id"], cus) == "3"


async def test_scopes(tenant):
    await make_meter(tenant)
    cus = await make_customer(tenant)
    _, read = await create_api_key(tenant.account_id, "read", ["READ"])
    _, write = await create_api_key(tenant.account_id, "write", ["USAGE_WRITE"])
    body = ndjson([ev(cus, "s1")])
    code, err = await post(tenant, body, key="")
    assert code == 401 and err[0]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    code, err = await post(tenant, body, key="mb_sk_not_a_key")
    assert code == 401
    code, err = await post(tenant, body, key=read)
    assert code == 403 and err[0]["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    code, lines = await post(tenant, body, key=write)
    assert code == 200 and statuses(lines) == ["ACCEPTED"]
    code, lines = await post(tenant, ndjson([ev(cus, "s2")]))  # ADMIN
    assert code == 200 and statuses(lines) == ["ACCEPTED"]


async def test_unsupported_content_type(tenant):
    code, err = await post(tenant, b"x", "text/plain")
    assert code == 415 and err[0]["errors"][0]["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


async def test_another_accounts_customer_is_not_found(tenant, other_tenant):
    await make_meter(tenant)
    foreign = await make_customer(other_tenant)
    code, lines = await post(tenant, ndjson([ev(foreign, "f1")]))
    assert lines[0]["status"] == "REJECTED"
    assert lines[0]["errors"][0]["code"] == "NOT_FOUND"


async def test_five_thousand_events_streamed_in_pieces(tenant):
    """Crosses the 1000-event chunks: duplicates straddle a chunk boundary, and the body
    arrives in pieces cut mid-line."""
    meter = await make_meter(tenant)
    cus = await make_customer(tenant)
    events = [ev(cus, f"e{i}", 1) for i in range(5000)]
    events[1000] = ev(cus, "e999", 1)  # duplicate of the last event of the first chunk
    events[4321] = ev(cus, "e17", 1)
    body = ndjson(events)

    async def pieces() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 7777):
            yield body[i : i + 7777]

    resp = await tenant.client.post(
        URL,
        content=pieces(),
        headers={"Authorization": f"Bearer {tenant.secret}", "Content-Type": NDJSON},
    )
    assert resp.status_code == 200
    lines = [orjson.loads(x) for x in resp.content.splitlines()]
    assert [r["index"] for r in lines] == list(range(5000))
    dup = [i for i, r in enumerate(lines) if r["status"] == "DUPLICATE"]
    assert dup == [1000, 4321]
    assert statuses(lines).count("ACCEPTED") == 4998
    assert await total(tenant, meter["id"], cus) == "4998"


async def test_broken_json_array_stops_with_an_error_line(tenant):
    meter = await make_meter(tenant)
    cus = await make_customer(tenant)
    good = orjson.dumps([ev(cus, "g1", 2), ev(cus, "g2", 3)])
    body = good[:-1] + b', {"event_name": oops} , ' + orjson.dumps(ev(cus, "g3", 4)) + b"]"
    code, lines = await post(tenant, body, "application/json")
    assert code == 200
    assert statuses(lines) == ["ACCEPTED", "ACCEPTED", "REJECTED"]
    assert lines[2]["index"] == 2 and "nothing after" in lines[2]["errors"][0]["message"]
    assert await total(tenant, meter["id"], cus) == "5"


async def test_strings_postgresql_cannot_hold_reject_only_their_event(tenant):
    """U+0000 (refused anywhere by recordMeterEvents too) and lone surrogates (only a JSON
    array can carry them; NDJSON lines with them are not valid JSON to orjson) would fail the
    whole INSERT on PostgreSQL: they are rejected event by event instead."""
    meter = await make_meter(tenant)
    cus = await make_customer(tenant)

    def line(ident: str, extra: str = "") -> bytes:
        payload = f'{{"customer_id": "{cus}", "value": 1{extra}}}'
        return f'{{"event_name": "tokens", "payload": {payload}, "identifier": "{ident}"}}'.encode()

    events = [
        line("n1"),
        line(r"a\u0000b"),
        line("n2", r', "note": "x\u0000"'),
        line("n3", r', "k\u0000": 1'),
        line("n4"),
    ]
    code, lines = await post(tenant, b"\n".join(events) + b"\n")
    got = [(r["status"], [(e["code"], e["field"]) for e in r["errors"]]) for r in lines]
    assert got == [
        ("ACCEPTED", []),
        ("REJECTED", [("INVALID", ["identifier"])]),
        ("REJECTED", [("INVALID", ["payload"])]),
        ("REJECTED", [("INVALID", ["payload"])]),
        ("ACCEPTED", []),
    ]
    assert "U+0000" in lines[1]["errors"][0]["message"]
    array = [line("s1"), line(r"s\ud800"), line("s2", r', "x": "\udfff"'), line("s3")]
    code, lines = await post(tenant, b"[" + b",".join(array) + b"]", "application/json")
    assert statuses(lines) == ["ACCEPTED", "REJECTED", "REJECTED", "ACCEPTED"]
    assert [e["field"] for e in lines[1]["errors"]] == [["identifier"]]
    assert "surrogate" in lines[2]["errors"][0]["message"]
    assert await total(tenant, meter["id"], cus) == "4"
