"""Caller mistakes at the edges of what the API can represent get client errors, never
INTERNAL (limits): variables nested about as deep as a JSON parser allows, cursors this API
never wrote, instants at the ends of the calendar, and documents with several operations
but no operationName."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from meterbill.db.models import Product
from tests import billing_helpers as b
from tests.api.usage_support import SUMMARIES, make_customer, make_meter

RECORD_PLAIN = (
    'mutation($p: JSON!) { recordMeterEvent(input: {eventName: "tokens", payload: $p}) '
    "{ userErrors { field code } } }"
)
RECORD_GENERAL = (
    'mutation($p: JSON!) { r: recordMeterEvent(input: {eventName: "tokens", payload: $p}) '
    "{ ... on RecordMeterEventPayload { userErrors { field code } } } }"
)


NUL_JSON = '"a\\u0000"'
SURROGATE_JSON = '"\\ud800"'


def _decodable(depth: int, leaf: str) -> int:
    # orjson refuses a lone surrogate; Python's json, which then decodes the body
    # (http/limits.py), recurses and stops near 990 levels with a 400.
    return min(depth, 900) if leaf == SURROGATE_JSON else depth


def _nested(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


async def _raw(tenant: Any, query: str, variables_json: str, status: int = 200) -> dict[str, Any]:
    """POST with the variables written as JSON text (deeper than json/orjson would write)."""
    body = '{"query": ' + orjson.dumps(query).decode() + ', "variables": ' + variables_json + "}"
    resp = await tenant.client.post(
        "/graphql",
        content=body.encode(),
        headers={"Authorization": f"Bearer {tenant.secret}", "Content-Type": "application/json"},
    )
    assert resp.status_code == status, resp.text
    return resp.json()


def _codes(body: dict[str, Any]) -> set[str]:
    return {e["extensions"]["code"] for e in body.get("errors") or []}


# 1018 + the body's own levels around it is the deepest body the JSON parser takes (1024).
@pytest.mark.parametrize("depth", [500, 800, 1018])
async def test_deeply_nested_variables_are_not_internal(tenant, depth):
    meter = await make_meter(tenant)
    cus = await make_customer(tenant)
    payload = f'{{"customer_id": "{cus}", "value": 1, "deep": {_nested(depth)}}}'
    for doc in (RECORD_PLAIN, RECORD_GENERAL):
        body = await _raw(tenant, doc, f'{{"p": {payload}}}')
        assert "errors" not in body, body  # the meter reads customer_id and value only
    # A lone surrogate at the bottom is found however deep it is, and its field named; a
    # NUL anywhere refuses the request (graphql/limits.py NoNulStrings).
    for leaf, expected in ((SURROGATE_JSON, "userError"), (NUL_JSON, "BAD_USER_INPUT")):
        deep = _nested(_decodable(depth, leaf), leaf)
        body = await _raw(
            tenant,
            RECORD_GENERAL,
            f'{{"p": {{"customer_id": "{cus}", "value": 1, "deep": {deep}}}}}',
        )
        if expected == "userError":
            assert body["data"]["r"]["userErrors"] == [
                {"field": ["input", "payload", "deep"], "code": "INVALID"}
            ], body
        else:
            assert _codes(body) == {"BAD_USER_INPUT"}, body
    # Other operations refuse a NUL or a lone surrogate anywhere in their variables.
    for leaf in (NUL_JSON, SURROGATE_JSON):
        deep = _nested(_decodable(depth, leaf), leaf)
        variables = (
            f'{{"m": "{meter["id"]}", "c": "{cus}", "s": "2030-01-01T00:00:00Z", '
            f'"e": "2030-01-02T00:00:00Z", "f": {{"x": {deep}}}}}'
        )
        body = await _raw(tenant, SUMMARIES, variables)
        assert _codes(body) == {"BAD_USER_INPUT"}, body


async def test_a_body_deeper_than_the_parser_takes_is_a_bad_request(tenant):
    body = await _raw(tenant, RECORD_PLAIN, f'{{"p": {{"x": {_nested(3000)}}}}}', status=400)
    assert _codes(body) == {"BAD_REQUEST"}


def _cursor(text: bytes) -> str:
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


BAD_CURSORS = [
    _cursor(b"2026-01-01T00:00:00+00:00|cus_\x00x"),  # a NUL inside the encoding
    _cursor(b"0001-01-01T00:00:00+05:00|cus_x"),  # before year 1 in UTC
    _cursor(b"9999-12-31T23:00:00-05:00|cus_x"),  # after year 9999 in UTC
    "A" * 5000,
    _cursor(b"2026-01-01T00:00:00+00:00|" + b"x" * 5000),
    _cursor(b"2026-01-01T00:00:00+00:00|cus x;--"),
]


@pytest.mark.parametrize("cursor", BAD_CURSORS, ids=range(len(BAD_CURSORS)))
async def test_cursors_this_api_never_wrote_are_bad_input(tenant, cursor):
    for field in ("customers", "meters", "products", "invoices", "subscriptions"):
        body = await tenant.gql(
            f"query($a: String) {{ {field}(first: 2, after: $a) {{ edges {{ cursor }} }} }}",
            {"a": cursor},
        )
        assert body["data"] is None, body
        assert _codes(body) == {"BAD_USER_INPUT"}, (field, body)


async def test_a_cursor_at_the_start_of_the_calendar_still_pages(tenant):
    # Representable in UTC: a valid (empty) page, not an error.
    cursor = _cursor(b"0001-01-01T00:00:00-05:00|cus_x")
    body = await tenant.data(
        "query($a: String) { customers(first: 2, after: $a) { edges { cursor } } }", {"a": cursor}
    )
    assert body["customers"]["edges"] == []


@pytest.mark.parametrize(
    ("start", "end", "window"),
    [
        ("9999-12-31T00:00:00Z", "9999-12-31T23:59:00Z", None),
        ("9999-12-31T00:00:00Z", "9999-12-31T23:00:00Z", "HOUR"),
        ("9999-12-30T00:00:00Z", "9999-12-31T00:00:00Z", "DAY"),
        ("0001-01-01T00:00:00Z", "0001-01-02T00:00:00Z", "DAY"),
    ],
)
async def test_summaries_at_the_ends_of_the_calendar(tenant, start, end, window):
    meter = await make_meter(tenant)
    cus = await make_customer(tenant)
    variables = {"m": meter["id"], "c": cus, "s": start, "e": end, "w": window}
    rows = (await tenant.data(SUMMARIES, variables))["meterEventSummaries"]
    assert rows and all(r["aggregatedValue"] == "0" for r in rows)


@pytest.mark.parametrize("interval", ["DAY", "MONTH", "YEAR"])
async def test_a_subscription_on_a_clock_at_the_end_of_the_calendar(tenant, interval):
    cat = await b.catalog(tenant)
    price = await b.price(
        tenant,
        {
            "productId": cat["license_product"],
            "currency": "usd",
            "unitAmount": 100,
            "recurring": {"interval": interval, "usageType": "LICENSED"},
        },
    )
    clock = await b.clock(tenant, b.utc(9999, 12, 31))
    cus = await b.customer(tenant, clock)
    got = await b.subscribe(tenant, {"customerId": cus, "items": [{"priceId": price}]})
    assert got["subscription"] is None
    assert [(e["field"], e["code"]) for e in got["userErrors"]] == [
        (["input", "customerId"], "OUT_OF_RANGE")
    ]


async def test_several_operations_need_an_operation_name(tenant):
    doc = (
        'mutation A { createProduct(input: {name: "a"}) { product { id } } } '
        'mutation B { createProduct(input: {name: "b"}) { product { id } } }'
    )
    body = await tenant.gql(doc)
    assert body["data"] is None and _codes(body) == {"BAD_USER_INPUT"}
    assert "operationName" in body["errors"][0]["message"]
    assert await Product.filter(account_id=tenant.account_id).count() == 0
    body = await tenant.gql("query A { meters { edges { cursor } } } query B { apiKeys { id } }")
    assert body["data"] is None and _codes(body) == {"BAD_USER_INPUT"}
    # With a name, the named one runs.
    resp = await tenant.client.post(
        "/graphql",
        json={"query": doc, "operationName": "B"},
        headers={"Authorization": f"Bearer {tenant.secret}"},
    )
    assert resp.json()["data"]["createProduct"]["product"]["id"]
    assert await Product.filter(account_id=tenant.account_id).count() == 1
