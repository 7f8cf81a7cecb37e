"""Meters over GraphQL: create, update, deactivate/reactivate, read, paginate, isolate."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from meterbill.db.models import Meter

FIELDS = """id displayName eventName aggregation customerMappingType customerPayloadKey
  valuePayloadKey dimensionKeys status createdAt deactivatedAt"""
CREATE = f"""mutation($input: CreateMeterInput!) {{ createMeter(input: $input) {{
  meter {{ {FIELDS} }} userErrors {{ code field message }} }} }}"""
UPDATE = f"""mutation($id: ID!, $name: String!) {{
  updateMeter(input: {{id: $id, displayName: $name}}) {{
  meter {{ {FIELDS} }} userErrors {{ code field }} }} }}"""
SET_ACTIVE = """mutation($id: ID!) {{ {op}(input: {{id: $id}}) {{
  meter {{ id status deactivatedAt }} userErrors {{ code field }} }} }}"""
DEACTIVATE = SET_ACTIVE.format(op="deactivateMeter")
REACTIVATE = SET_ACTIVE.format(op="reactivateMeter")
GET = f"query($id: ID!) {{ meter(id: $id) {{ {FIELDS} }} }}"
LIST = """query($first: Int, $after: String, $status: MeterStatus) {
  meters(first: $first, after: $after, status: $status) {
    edges { cursor node { id eventName status } } pageInfo { hasNextPage endCursor } } }"""


async def create(tenant, event: str = "api_requests", **extra: Any) -> dict[str, Any]:
    inp = {"displayName": "API requests", "eventName": event, "aggregation": "SUM", **extra}
    return (await tenant.data(CREATE, {"input": inp}))["createMeter"]


async def meter_id(tenant, event: str = "api_requests") -> str:
    d = await create(tenant, event)
    assert d["userErrors"] == []
    return d["meter"]["id"]


async def test_create_meter_with_defaults(tenant):
    d = await create(tenant)
    m = d["meter"]
    assert d["userErrors"] == [] and m["id"].startswith("mtr_")
    assert {k: v for k, v in m.items() if k not in ("id", "createdAt")} == {
        "displayName": "API requests",
        "eventName": "api_requests",
        "aggregation": "SUM",
        "customerMappingType": "BY_ID",
        "customerPayloadKey": "customer_id",
        "valuePayloadKey": "value",
        "dimensionKeys": [],
        "status": "ACTIVE",
        "deactivatedAt": None,
    }
    created = datetime.fromisoformat(m["createdAt"])
    assert created.tzinfo is not None and abs(datetime.now(UTC) - created) < timedelta(hours=1)
    assert (await tenant.data(GET, {"id": m["id"]}))["meter"] == m


async def test_create_meter_with_every_field(tenant):
    extra = {
        "aggregation": "LAST",
        "customerMappingType": "BY_EXTERNAL_ID",
        "customerPayloadKey": "org",
        "valuePayloadKey": "tokens",
        "dimensionKeys": ["model", "region"],
    }
    m = (await create(tenant, "tokens", **extra))["meter"]
    assert {k: m[k] for k in extra} == extra


@pytest.mark.parametrize(
    ("extra", "code", "field"),
    [
        ({"displayName": "  "}, "REQUIRED", ["input", "displayName"]),
        ({"eventName": ""}, "REQUIRED", ["input", "eventName"]),
        ({"eventName": "e" * 101}, "INVALID", ["input", "eventName"]),
        ({"valuePayloadKey": "  "}, "REQUIRED", ["input", "valuePayloadKey"]),
        ({"dimensionKeys": ["a", "a"]}, "INVALID", ["input", "dimensionKeys"]),
        ({"dimensionKeys": [str(n) for n in range(11)]}, "INVALID", ["input", "dimensionKeys"]),
        ({"dimensionKeys": ["model", "value"]}, "INVALID", ["input", "dimensionKeys", "1"]),
        ({"dimensionKeys": ["customer_id"]}, "INVALID", ["input", "dimensionKeys", "0"]),
    ],
)
async def test_create_meter_rejects_bad_input(tenant, extra, code, field):
    inp = {"displayName": "D", "eventName": "e", "aggregation": "COUNT", **extra}
    d = (await tenant.data(CREATE, {"input": inp}))["createMeter"]
    assert d["meter"] is None
    assert (d["userErrors"][0]["code"], d["userErrors"][0]["field"]) == (code, field)
    assert await Meter.filter(account_id=tenant.account_id).count() == 0


@pytest.mark.parametrize("deactivate_first", [False, True])
async def test_event_name_is_unique_per_account(tenant, other_tenant, deactivate_first):
    first = await meter_id(tenant)
    if deactivate_first:
        await tenant.data(DEACTIVATE, {"id": first})
    for event in ("api_requests", " api_requests "):
        d = await create(tenant, event)
        assert d["meter"] is None
        [err] = d["userErrors"]
        assert (err["code"], err["field"]) == ("ALREADY_EXISTS", ["input", "eventName"])
    assert await Meter.filter(account_id=tenant.account_id).count() == 1
    theirs = await create(other_tenant)
    assert theirs["userErrors"] == [] and theirs["meter"]["id"] != first


async def test_update_meter_changes_only_the_display_name(tenant):
    before = (await create(tenant, dimensionKeys=["model"]))["meter"]
    d = (await tenant.data(UPDATE, {"id": before["id"], "name": " Requests "}))["updateMeter"]
    assert d["userErrors"] == []
    assert d["meter"] == {**before, "displayName": "Requests"}
    assert (await tenant.data(GET, {"id": before["id"]}))["meter"] == d["meter"]
    bad = (await tenant.data(UPDATE, {"id": before["id"], "name": ""}))["updateMeter"]
    assert bad["meter"] is None and bad["userErrors"][0]["field"] == ["input", "displayName"]


async def test_deactivate_and_reactivate(tenant):
    mid = await meter_id(tenant)
    off = (await tenant.data(DEACTIVATE, {"id": mid}))["deactivateMeter"]
    assert off["userErrors"] == [] and off["meter"]["status"] == "INACTIVE"
    when = off["meter"]["deactivatedAt"]
    assert datetime.fromisoformat(when).tzinfo is not None
    again = (await tenant.data(DEACTIVATE, {"id": mid}))["deactivateMeter"]
    assert again["meter"]["deactivatedAt"] == when  # the first deactivation time stays
    got = (await tenant.data(GET, {"id": mid}))["meter"]
    assert (got["status"], got["deactivatedAt"]) == ("INACTIVE", when)
    on = (await tenant.data(REACTIVATE, {"id": mid}))["reactivateMeter"]
    assert on["meter"] == {"id": mid, "status": "ACTIVE", "deactivatedAt": None}
    got = (await tenant.data(GET, {"id": mid}))["meter"]
    assert (got["status"], got["deactivatedAt"]) == ("ACTIVE", None)


@pytest.mark.parametrize("same_instant", [False, True])
async def test_meters_paginate_without_gaps_or_duplicates(tenant, other_tenant, same_instant):
    ids = [await meter_id(tenant, f"event_{n}") for n in range(7)]
    await meter_id(other_tenant, "event_0")
    if same_instant:
        # Ties on created_at must be broken by id, including a whole-second timestamp.
        await Meter.filter(id__in=ids).update(created_at=datetime(2024, 5, 1, tzinfo=UTC))
    seen: list[str] = []
    after = None
    pages = []
    while True:
        page = (await tenant.data(LIST, {"first": 3, "after": after}))["meters"]
        pages.append(page)
        seen += [e["node"]["id"] for e in page["edges"]]
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert [len(p["edges"]) for p in pages] == [3, 3, 1]
    assert sorted(seen) == sorted(ids) and len(set(seen)) == 7
    if not same_instant:
        assert seen == ids[::-1]  # newest first
    whole = (await tenant.data(LIST, {"first": 100}))["meters"]
    assert [e["node"]["id"] for e in whole["edges"]] == seen
    assert whole["pageInfo"]["hasNextPage"] is False
    empty = await tenant.data(LIST, {"first": 3, "after": whole["pageInfo"]["endCursor"]})
    assert empty["meters"] == {"edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}


async def test_meters_default_page_and_mixed_timestamps(tenant):
    ids = [await meter_id(tenant, f"e{n}") for n in range(22)]
    base = datetime(2024, 5, 1, tzinfo=UTC)
    for n, mid in enumerate(ids):
        # Alternate whole seconds and fractions: the order must follow time, not text.
        await Meter.filter(id=mid).update(created_at=base + timedelta(seconds=n // 2 + n % 2 / 2))
    page = (await tenant.data(LIST))["meters"]
    assert [e["node"]["id"] for e in page["edges"]] == ids[::-1][:20]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = (await tenant.data(LIST, {"after": page["pageInfo"]["endCursor"]}))["meters"]
    assert [e["node"]["id"] for e in rest["edges"]] == ids[1::-1]


async def test_meters_status_filter(tenant):
    a, b, c = [await meter_id(tenant, e) for e in "abc"]
    await tenant.data(DEACTIVATE, {"id": b})
    for status, expected in (("ACTIVE", [c, a]), ("INACTIVE", [b]), (None, [c, b, a])):
        page = (await tenant.data(LIST, {"status": status}))["meters"]
        assert [e["node"]["id"] for e in page["edges"]] == expected, status


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode()


@pytest.mark.parametrize(
    "variables",
    [
        {"first": 101},
        {"first": -1},
        {"after": "not a cursor"},
        {"after": _b64("yesterday|mtr_x")},
        {"after": _b64("2024-05-01T00:00:00|mtr_x")},  # no time zone
        {"after": _b64("2024-05-01T00:00:00+00:00|")},
        {"after": "%%%"},
    ],
)
async def test_meters_bad_arguments_are_bad_user_input(tenant, variables):
    body = await tenant.gql(LIST, variables)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body


@pytest.mark.parametrize(
    ("doc", "variables", "op"),
    [
        (UPDATE, {"name": "N"}, "updateMeter"),
        (DEACTIVATE, {}, "deactivateMeter"),
        (REACTIVATE, {}, "reactivateMeter"),
    ],
)
async def test_foreign_meters_are_not_found(tenant, other_tenant, doc, variables, op):
    theirs = (await create(other_tenant))["meter"]
    for mid in (theirs["id"], "mtr_unknown"):
        d = (await tenant.data(doc, {"id": mid, **variables}))[op]
        assert d["meter"] is None
        assert d["userErrors"] == [{"code": "NOT_FOUND", "field": ["input", "id"]}]
        assert (await tenant.data(GET, {"id": mid}))["meter"] is None
    assert (await other_tenant.data(GET, {"id": theirs["id"]}))["meter"] == theirs
    assert (await tenant.data(LIST))["meters"]["edges"] == []
