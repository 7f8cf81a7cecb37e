"""Strings longer than their columns in usage writes (limits): recordMeterEvent(s),
cancelMeterEvent and POST /v1/meter_events answer a userError / REJECTED line naming the
field, never INTERNAL, and never write the value to the logs. In a bulk body such a line is
rejected alone: the events around it in the same chunk are stored. Values in digits of other
scripts are refused, as prices refuse them."""

from __future__ import annotations

import logging
from typing import Any

import orjson

from meterbill.db.models import MeterEvent
from tests.api.usage_support import CANCEL, RECORD, RECORD_MANY, make_customer, make_meter

LONG_NAME = "n" * 101
LONG_ID = "i" * 101
LONG_CUSTOMER = "c" * 41
LONG_EXTERNAL = "x" * 201
# A fragment sends the document through strawberry instead of graphql/record_fast.py.
GENERAL = """mutation($input: MeterEventInput!) { recordMeterEvent(input: $input) {
  ... on RecordMeterEventPayload { meterEvent { identifier } userErrors { field code message } }
} }"""


def _cases(cus: str) -> list[tuple[dict[str, Any], list[str], str]]:
    good = {"customer_id": cus, "value": 1}
    return [
        ({"eventName": LONG_NAME, "payload": good}, ["eventName"], "100 characters"),
        (
            {"eventName": "tokens", "payload": {"customer_id": LONG_CUSTOMER, "value": 1}},
            ["payload", "customer_id"],
            "40 characters",
        ),
        (
            {"eventName": "by_ext", "payload": {"customer_id": LONG_EXTERNAL, "value": 1}},
            ["payload", "customer_id"],
            "200 characters",
        ),
        (
            {"eventName": "tokens", "payload": good, "identifier": LONG_ID},
            ["identifier"],
            "100 characters",
        ),
        (
            {"eventName": "tokens", "payload": {"customer_id": cus, "value": "١٢"}},
            ["payload", "value"],
            "decimal number",
        ),
    ]


async def _setup(tenant: Any, caplog: Any) -> str:
    """Meters by id and by external id, a customer (its id); every log line captured."""
    caplog.set_level(logging.DEBUG)
    await make_meter(tenant)
    await make_meter(tenant, "by_ext", customerMappingType="BY_EXTERNAL_ID")
    return await make_customer(tenant, externalId="ext-1")


def _no_value_logged(caplog: Any) -> None:
    text = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    for value in (LONG_NAME, LONG_ID, LONG_CUSTOMER, LONG_EXTERNAL, "١٢"):
        assert value not in text
    assert "INTERNAL" not in text


async def test_record_meter_event_names_the_long_field(tenant, caplog):
    cus = await _setup(tenant, caplog)
    for doc, (inp, field, says) in [(d, c) for c in _cases(cus) for d in (RECORD, GENERAL)]:
        # Twice: the second time the meter and customer are remembered (PostgreSQL's
        # shortcut, services/usage/single.py) after the good event below.
        for _ in range(2):
            body = await tenant.gql(doc, {"input": inp})
            assert "errors" not in body, (inp, body)
            rec = body["data"]["recordMeterEvent"]
            assert rec["meterEvent"] is None
            assert [(e["field"], e["code"]) for e in rec["userErrors"]] == [
                (["input", *field], "INVALID")
            ]
            assert says in rec["userErrors"][0]["message"]
            ok = {"eventName": "tokens", "payload": {"customer_id": cus, "value": 1}}
            assert (await tenant.data(RECORD, {"input": ok}))["recordMeterEvent"][
                "userErrors"
            ] == []
    assert await MeterEvent.filter(account_id=tenant.account_id).count() == 2 * 2 * 5
    _no_value_logged(caplog)


async def test_record_meter_events_rejects_only_the_long_events(tenant, caplog):
    cus = await _setup(tenant, caplog)
    cases = _cases(cus)
    batch: list[dict[str, Any]] = []
    for inp, _, _ in cases:
        batch.append({"eventName": "tokens", "payload": {"customer_id": cus, "value": 2}})
        batch.append(inp)
    batch.append({"eventName": "by_ext", "payload": {"customer_id": "ext-1", "value": 3}})
    body = await tenant.gql(RECORD_MANY, {"input": batch})
    assert "errors" not in body, body
    rec = body["data"]["recordMeterEvents"]
    assert (rec["accepted"], rec["rejected"]) == (len(cases) + 1, len(cases))
    for n, (_, field, _) in enumerate(cases):
        result = rec["results"][2 * n + 1]
        assert result["status"] == "REJECTED"
        errors = [(e["field"], e["code"]) for e in result["userErrors"]]
        assert errors == [(["input", str(2 * n + 1), *field], "INVALID")]
    assert await MeterEvent.filter(account_id=tenant.account_id).count() == len(cases) + 1
    _no_value_logged(caplog)


async def test_cancel_meter_event_names_a_long_identifier(tenant, caplog):
    caplog.set_level(logging.DEBUG)
    await make_meter(tenant)
    body = await tenant.gql(CANCEL, {"input": {"eventName": "tokens", "identifier": LONG_ID}})
    assert "errors" not in body, body
    errors = body["data"]["cancelMeterEvent"]["userErrors"]
    assert [(e["field"], e["code"]) for e in errors] == [(["input", "identifier"], "INVALID")]
    _no_value_logged(caplog)


async def test_bulk_rejects_a_long_line_alone_and_stores_its_chunk(tenant, caplog):
    cus = await _setup(tenant, caplog)
    # Well inside one chunk (http/bulk.py CHUNK = 2500) on both sides of each bad line.
    events: list[dict[str, Any]] = [
        {"event_name": "tokens", "payload": {"customer_id": cus, "value": 1}} for _ in range(3000)
    ]
    bad_at = {}
    for n, (inp, field, _) in enumerate(_cases(cus)):
        line = {"event_name": inp["eventName"], "payload": inp["payload"]}
        if "identifier" in inp:
            line["identifier"] = inp["identifier"]
        at = 400 + 300 * n
        events[at] = line
        bad_at[at] = ["event_name" if f == "eventName" else f for f in field]
    body = b"".join(orjson.dumps(e) + b"\n" for e in events)
    resp = await tenant.client.post(
        "/v1/meter_events",
        content=body,
        headers={
            "Authorization": f"Bearer {tenant.secret}",
            "Content-Type": "application/x-ndjson",
        },
    )
    assert resp.status_code == 200
    lines = [orjson.loads(x) for x in resp.content.splitlines()]
    assert [x["index"] for x in lines] == list(range(len(events)))
    for x in lines:
        if x["index"] in bad_at:
            assert x["status"] == "REJECTED", x
            assert [(e["field"], e["code"]) for e in x["errors"]] == [
                (bad_at[x["index"]], "INVALID")
            ], x
        else:
            assert x["status"] == "ACCEPTED", x
    stored = await MeterEvent.filter(account_id=tenant.account_id).count()
    assert stored == len(events) - len(bad_at)
    _no_value_logged(caplog)
