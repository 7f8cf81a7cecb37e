"""Strings the database cannot store: a lone surrogate (a JSON "\\ud800" escape) in an
event's eventName, identifier or payload is rejected naming the field, as other validation
errors of recordMeterEvent(s) are, on the plain-document path (graphql/record_fast.py) and
through strawberry alike; nothing is stored and the other events of a batch still count.
Other operations refuse such a string up front, as they refuse U+0000."""

from __future__ import annotations

import json
from typing import Any

from meterbill.db.models import MeterEvent, Product
from tests.api.usage_support import make_customer, make_meter

FIELDS = "duplicate meterEvent { identifier } userErrors { field code message }"
HEAD = "mutation($i: MeterEventInput!) { rec: recordMeterEvent(input: $i) "
PLAIN = HEAD + "{ " + FIELDS + " } }"
GENERAL = HEAD + "{ ... on RecordMeterEventPayload { " + FIELDS + " } } }"

MANY_FIELDS = """accepted duplicates rejected
  results { index identifier status userErrors { field code message } }
  userErrors { field code message }"""
MANY_HEAD = "mutation($i: [MeterEventInput!]!) { rec: recordMeterEvents(input: $i) "
MANY_PLAIN = MANY_HEAD + "{ " + MANY_FIELDS + " } }"
MANY_GENERAL = MANY_HEAD + "{ ... on RecordMeterEventsPayload { " + MANY_FIELDS + " } } }"

LONE = "\ud800"


async def _post(tenant: Any, query: str, variables: dict[str, Any]) -> tuple[int, Any]:
    # json.dumps writes a lone surrogate as the escape "\ud800" (ensure_ascii), which is how
    # a client's JSON carries one; the bytes are plain ASCII.
    body = json.dumps({"query": query, "variables": variables})
    headers = {"Authorization": f"Bearer {tenant.secret}", "Content-Type": "application/json"}
    resp = await tenant.client.post("/graphql", content=body.encode(), headers=headers)
    return resp.status_code, resp.json()


def _errors(rec: dict[str, Any]) -> list[tuple[list[str], str]]:
    return [(e["field"], e["code"]) for e in rec["userErrors"]]


async def test_record_meter_event_names_the_field(tenant):
    await make_meter(tenant, dimensionKeys=["model"])
    cus = await make_customer(tenant)
    ok = {"eventName": "tokens", "payload": {"customer_id": cus, "value": 1}}

    def payload(**extra: Any) -> dict[str, Any]:
        return {**ok, "payload": {"customer_id": cus, "value": 1, **extra}}

    cases = [
        ({**ok, "identifier": "a" + LONE}, ["input", "identifier"]),
        ({**ok, "eventName": "tok" + LONE}, ["input", "eventName"]),
        (payload(customer_id=cus + LONE), ["input", "payload", "customer_id"]),
        (payload(value=LONE), ["input", "payload", "value"]),
        (payload(model=LONE), ["input", "payload", "model"]),  # a dimension
        (payload(x={"y": [LONE]}), ["input", "payload", "x"]),  # not used by the meter
        (payload(**{LONE: 2}), ["input", "payload"]),  # a key: not echoed
    ]
    for doc in (PLAIN, GENERAL):
        for inp, field in cases:
            # Twice: the second time the meter and customer are remembered (PostgreSQL's
            # shortcut, services/usage/single.py) since the first event below was stored.
            for _ in range(2):
                status, body = await _post(tenant, doc, {"i": inp})
                assert status == 200 and "errors" not in body, (inp, body)
                rec = body["data"]["rec"]
                assert rec["meterEvent"] is None and rec["duplicate"] is False
                assert _errors(rec) == [(field, "INVALID")], (doc, inp, rec)
                message = rec["userErrors"][0]["message"]
                assert "lone surrogate" in message and LONE not in message
                status, body = await _post(tenant, doc, {"i": ok})
                assert body["data"]["rec"]["userErrors"] == [], body
    # Only the good events were stored.
    assert await MeterEvent.filter(account_id=tenant.account_id).count() == 2 * 2 * len(cases)


async def test_record_meter_events_rejects_only_those_events(tenant):
    await make_meter(tenant)
    cus = await make_customer(tenant)
    ok = {"eventName": "tokens", "payload": {"customer_id": cus, "value": 2}}
    for doc, tag in ((MANY_PLAIN, "p"), (MANY_GENERAL, "g")):
        batch = [
            {**ok, "identifier": f"{tag}-1"},
            {**ok, "identifier": f"{tag}-2{LONE}"},
            {**ok, "identifier": f"{tag}-3", "eventName": LONE},
            {**ok, "identifier": f"{tag}-4"},
        ]
        status, body = await _post(tenant, doc, {"i": batch})
        assert status == 200 and "errors" not in body, body
        rec = body["data"]["rec"]
        assert (rec["accepted"], rec["duplicates"], rec["rejected"]) == (2, 0, 2), rec
        statuses = [r["status"] for r in rec["results"]]
        assert statuses == ["ACCEPTED", "REJECTED", "REJECTED", "ACCEPTED"]
        assert [(r["index"], _errors(r)) for r in rec["results"] if r["userErrors"]] == [
            (1, [(["input", "1", "identifier"], "INVALID")]),
            (2, [(["input", "2", "eventName"], "INVALID")]),
        ]
        assert rec["results"][1]["identifier"] == f"{tag}-2{LONE}"  # echoed, as sent
    stored = await MeterEvent.filter(account_id=tenant.account_id).values_list(
        "identifier", flat=True
    )
    assert sorted(stored) == ["g-1", "g-4", "p-1", "p-4"]


async def test_other_operations_refuse_it_up_front(tenant):
    status, body = await _post(
        tenant,
        "mutation($n: String!) { createProduct(input: {name: $n}) { product { id } } }",
        {"n": "a" + LONE},
    )
    assert status == 200 and body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"], body
    assert "surrogate" in body["errors"][0]["message"]
    assert await Product.filter(account_id=tenant.account_id).count() == 0
    # A query over GET (variables in the URL) too: it reached the database (INTERNAL).
    resp = await tenant.client.get(
        "/graphql",
        params={
            "query": "query($id: ID!) { meter(id: $id) { id } }",
            "variables": json.dumps({"id": "mtr_" + LONE}),
        },
        headers={"Authorization": f"Bearer {tenant.secret}", "Accept": "application/json"},
    )
    codes = [e["extensions"]["code"] for e in resp.json()["errors"]]
    assert codes == ["BAD_USER_INPUT"], resp.text
