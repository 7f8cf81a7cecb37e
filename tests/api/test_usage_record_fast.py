"""Plain recordMeterEvent documents are answered by graphql/record_fast.py; the same
selection behind an inline fragment goes through strawberry. Both must answer alike."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from meterbill.graphql.record_fast import build_plan
from meterbill.graphql.schema import build_schema
from meterbill.services.now import utcnow
from tests.api.usage_support import iso, make_customer, make_meter

FIELDS = """duplicate ok: duplicate __typename
  meterEvent { __typename identifier eventName customerId value timestamp dimensions status }
  userErrors { __typename field code message }"""
HEAD = "mutation Rec($i: MeterEventInput!) { rec: recordMeterEvent(input: $i) "
PLAIN = HEAD + "{ " + FIELDS + " } }"
GENERAL = HEAD + "{ ... on RecordMeterEventPayload { " + FIELDS + " } } }"
BENCH = """mutation($i: MeterEventInput!) { recordMeterEvent(input: $i) {
  meterEvent { identifier } userErrors { message } } }"""


def test_which_documents_get_a_plan():
    schema = build_schema()
    assert build_plan(schema, PLAIN) is not None
    assert build_plan(schema, BENCH) is not None
    assert build_plan(schema, GENERAL) is None
    head = "mutation($i: MeterEventInput!) { "
    for refused in (
        head + "recordMeterEvent(input: $i) { duplicate duplicate } }",
        head
        + "a: recordMeterEvent(input: $i) { duplicate } b: recordMeterEvent(input: $i) { ok } }",
        head + "recordMeterEvent(input: $i) { duplicate @include(if: true) } }",
        head + "recordMeterEvent(input: $i) { nope } }",
        "mutation { recordMeterEvent(input: {}) { duplicate } }",
        "query { __typename }",
    ):
        assert build_plan(schema, refused) is None, refused


async def _post(tenant: Any, query: str, variables: Any, **kw: Any) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {kw.pop('key', tenant.secret)}"}
    body = {"query": query, "variables": variables, **kw}
    resp = await tenant.client.post("/graphql", json=body, headers=headers)
    is_json = resp.headers.get("content-type", "").startswith("application/json")
    return resp.status_code, resp.json() if is_json else {"text": resp.text}


async def _both(tenant: Any, inp: dict[str, Any], **kw: Any) -> tuple[Any, Any]:
    """The answers of the plain and the fragment document (distinct identifiers when
    `inp` has one, so neither is the other's duplicate)."""
    out = []
    for doc, suffix in ((PLAIN, "-p"), (GENERAL, "-g")):
        one = dict(inp)
        if isinstance(one.get("identifier"), str):
            one["identifier"] += suffix
        status, body = await _post(tenant, doc, {"i": one}, **kw)
        rec = (body.get("data") or {}).get("rec") or {}
        ev = rec.get("meterEvent")
        if ev and isinstance(inp.get("identifier"), str):
            ev["identifier"] = ev["identifier"].removesuffix(suffix)
        for e in rec.get("userErrors") or []:
            if e["code"] == "OUT_OF_RANGE":
                e["message"] = e["message"].split(" is outside")[0]  # says when "now" was
        out.append((status, body))
    return out[0], out[1]


async def test_accepted_rejected_and_duplicate_answers_match(tenant):
    await make_meter(tenant, dimensionKeys=["model"])
    cus = await make_customer(tenant)
    ts = iso(utcnow() - timedelta(minutes=2))
    ok = {"eventName": "tokens", "payload": {"customer_id": cus, "value": "1.50", "model": 7}}
    cases = [
        {**ok, "identifier": "a", "timestamp": ts},
        {**ok, "identifier": "a", "timestamp": ts},  # now a duplicate of each
        {**ok, "identifier": "b", "timestamp": ts},  # the meter and customer are remembered
        {"eventName": "tokens", "payload": {"customer_id": cus, "value": "x"}, "identifier": ""},
        {"eventName": "nope", "payload": {}},
        {"eventName": "tokens", "payload": {"customer_id": "cus_missing", "value": 1}},
        {**ok, "identifier": "c", "timestamp": iso(utcnow() + timedelta(hours=1))},
    ]
    for inp in cases:
        plain, general = await _both(tenant, inp)
        assert plain == general, inp
        assert plain[0] == 200 and "errors" not in plain[1]
    ev = plain[1]["data"]["rec"]
    assert ev["duplicate"] is False and ev["__typename"] == "RecordMeterEventPayload"


async def test_refusals_match(tenant):
    await make_meter(tenant)
    cus = await make_customer(tenant)
    inp = {"eventName": "tokens", "payload": {"customer_id": cus, "value": 1}}
    reader = await tenant.data(
        'mutation { createApiKey(input: {name: "r", scopes: [READ]}) { secret } }'
    )
    secret = reader["createApiKey"]["secret"]
    for variant in (
        {"key": secret},  # FORBIDDEN
        {"key": "mb_sk_wrong"},  # UNAUTHENTICATED
        {"operationName": "Other"},
    ):
        plain, general = await _both(tenant, inp, **variant)
        assert plain == general, variant
        assert plain[0] != 200 or plain[1].get("errors"), variant
    for bad in (
        {**inp, "timestamp": "yesterday"},  # DateTime refuses it
        {**inp, "payload": {"customer_id": cus, "value": "1\x00"}},  # NUL
        {**inp, "extra": 1},
    ):
        plain, general = await _both(tenant, bad)
        assert plain == general, bad
        assert plain[1]["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", plain


MANY_FIELDS = """accepted duplicates rejected __typename
  results { index identifier status userErrors { field code message } }
  userErrors { field code message }"""
MANY_HEAD = "mutation($i: [MeterEventInput!]!) { recordMeterEvents(input: $i) "
MANY_PLAIN = MANY_HEAD + "{ " + MANY_FIELDS + " } }"
MANY_GENERAL = MANY_HEAD + "{ ... on RecordMeterEventsPayload { " + MANY_FIELDS + " } } }"
COUNTS_ONLY = MANY_HEAD + "{ accepted duplicates rejected userErrors { message } } }"


async def test_batches_answer_alike(tenant):
    schema = build_schema()
    assert build_plan(schema, MANY_PLAIN) is not None
    assert build_plan(schema, COUNTS_ONLY) is not None
    assert build_plan(schema, MANY_GENERAL) is None
    await make_meter(tenant)
    cus = await make_customer(tenant)

    def batch(tag: str) -> list[dict[str, Any]]:
        ok = {"eventName": "tokens", "payload": {"customer_id": cus, "value": 2}}
        return [
            {**ok, "identifier": f"{tag}-1"},
            {**ok, "identifier": f"{tag}-1"},  # a duplicate within the batch
            {**ok, "identifier": "shared"},  # the second document's is a duplicate
            {"eventName": "tokens", "payload": {"customer_id": cus}, "identifier": f"{tag}-3"},
            {"eventName": "nope", "payload": {}},
        ]

    _, plain = await _post(tenant, MANY_PLAIN, {"i": batch("p")})
    _, general = await _post(tenant, MANY_GENERAL, {"i": batch("g")})
    for body, tag in ((plain, "p"), (general, "g")):
        for r in body["data"]["recordMeterEvents"]["results"]:
            if r["identifier"] and r["identifier"].startswith(tag):
                r["identifier"] = r["identifier"][len(tag) :]
    plain_data = plain["data"]["recordMeterEvents"]
    general_data = general["data"]["recordMeterEvents"]
    # The first document took "shared"; otherwise the answers are the same.
    assert plain_data["results"][2]["status"] == "ACCEPTED"
    assert general_data["results"][2]["status"] == "DUPLICATE"
    plain_data["results"][2]["status"] = "DUPLICATE"
    assert (plain_data["accepted"], plain_data["duplicates"]) == (2, 1)
    plain_data["accepted"], plain_data["duplicates"] = 1, 2
    assert plain == general
    _, counts = await _post(tenant, COUNTS_ONLY, {"i": batch("c")})
    assert counts == {
        "data": {
            "recordMeterEvents": {"accepted": 1, "duplicates": 2, "rejected": 2, "userErrors": []}
        }
    }
    too_many = [batch("x")[0]] * 1001
    _, plain = await _post(tenant, COUNTS_ONLY, {"i": too_many})
    general_counts = MANY_HEAD + "{ ... on RecordMeterEventsPayload { accepted duplicates "
    _, general = await _post(
        tenant, general_counts + "rejected userErrors { message } } } }", {"i": too_many}
    )
    assert plain == general and plain["data"]["recordMeterEvents"]["userErrors"]


async def test_variable_edge_cases_answer_alike(tenant):
    await make_meter(tenant)
    cus = await make_customer(tenant)
    general = MANY_HEAD + "{ ... on RecordMeterEventsPayload { accepted duplicates rejected "
    general += "userErrors { message } } } }"

    def one(tag: str) -> dict[str, Any]:
        return {
            "eventName": "tokens",
            "payload": {"customer_id": cus, "value": 1},
            "identifier": tag,
        }

    cases = [
        ({"i": one("p")}, {"i": one("g")}),  # a lone object is a list of one
        ({}, {}),  # missing
        ({"i": None}, {"i": None}),
        ({"i": [one("p2"), None]}, {"i": [one("g2"), None]}),
        ({"i": [{**one("p3"), "timestamp": 5}]}, {"i": [{**one("g3"), "timestamp": 5}]}),
        ({"i": [{**one("p4"), "payload": None}]}, {"i": [{**one("g4"), "payload": None}]}),
    ]
    for plain_vars, general_vars in cases:
        plain = await _post(tenant, COUNTS_ONLY, plain_vars)
        other = await _post(tenant, general, general_vars)
        for body in (plain[1], other[1]):
            for e in body.get("errors") or []:
                e.pop("locations", None)  # the two documents differ in length
        assert plain == other, plain_vars
