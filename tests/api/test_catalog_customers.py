"""Customers over GraphQL: create, payment methods, test clocks, pagination, isolation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from meterbill.db import models
from meterbill.db.models import Customer

FIELDS = """id name email description externalId defaultPaymentMethod createdAt
  testClock { id frozenTime }"""
CREATE = f"""mutation($input: CreateCustomerInput!) {{ createCustomer(input: $input) {{
  customer {{ {FIELDS} }} userErrors {{ code field message }} }} }}"""
ATTACH = f"""mutation($id: ID!, $pm: String!) {{
  attachPaymentMethod(input: {{customerId: $id, paymentMethod: $pm}}) {{
  customer {{ {FIELDS} }} userErrors {{ code field }} }} }}"""
GET = f"query($id: ID!) {{ customer(id: $id) {{ {FIELDS} }} }}"
LIST = """query($first: Int, $after: String) { customers(first: $first, after: $after) {
  edges { cursor node { id externalId } } pageInfo { hasNextPage endCursor } } }"""


async def create(tenant, **inp: Any) -> dict[str, Any]:
    return (await tenant.data(CREATE, {"input": inp}))["createCustomer"]


async def customer_id(tenant, **inp: Any) -> str:
    d = await create(tenant, **inp)
    assert d["userErrors"] == []
    return d["customer"]["id"]


def errors(payload: dict[str, Any]) -> list[tuple[str, list[str]]]:
    return [(e["code"], e["field"]) for e in payload["userErrors"]]


async def test_create_customer_with_every_field(tenant):
    inp = {
        "name": "Acme",
        "email": "billing@acme.test",
        "description": "Enterprise",
        "externalId": "acme-1",
        "paymentMethod": "pm_card_visa",
    }
    d = await create(tenant, **inp)
    c = d["customer"]
    assert d["userErrors"] == [] and c["id"].startswith("cus_")
    assert (c["name"], c["email"], c["description"]) == ("Acme", "billing@acme.test", "Enterprise")
    assert (c["externalId"], c["defaultPaymentMethod"], c["testClock"]) == (
        "acme-1",
        "pm_card_visa",
        None,
    )
    assert datetime.fromisoformat(c["createdAt"]).tzinfo is not None
    assert (await tenant.data(GET, {"id": c["id"]}))["customer"] == c


async def test_create_customer_with_no_fields(tenant):
    c = (await create(tenant))["customer"]
    assert {k: v for k, v in c.items() if k not in ("id", "createdAt")} == {
        "name": None,
        "email": None,
        "description": None,
        "externalId": None,
        "defaultPaymentMethod": None,
        "testClock": None,
    }


async def test_external_id_is_unique_per_account(tenant, other_tenant):
    first = await customer_id(tenant, externalId="acme-1")
    d = await create(tenant, externalId="acme-1", name="again")
    assert d["customer"] is None
    assert errors(d) == [("ALREADY_EXISTS", ["input", "externalId"])]
    theirs = await create(other_tenant, externalId="acme-1")
    assert theirs["userErrors"] == [] and theirs["customer"]["id"] != first
    # Customers without an externalId (or with an empty one) never collide.
    for ext in (None, None, "", ""):
        assert (await create(tenant, externalId=ext))["customer"]["externalId"] is None
    assert await Customer.filter(account_id=tenant.account_id).count() == 5


@pytest.mark.parametrize(
    ("inp", "expected"),
    [
        ({"paymentMethod": "pm_card_amex"}, [("INVALID", ["input", "paymentMethod"])]),
        ({"paymentMethod": ""}, [("INVALID", ["input", "paymentMethod"])]),
        ({"email": "not-an-email"}, [("INVALID", ["input", "email"])]),
        ({"name": "n" * 201}, [("INVALID", ["input", "name"])]),
        ({"externalId": "x" * 201}, [("INVALID", ["input", "externalId"])]),
        ({"testClockId": "clock_unknown"}, [("NOT_FOUND", ["input", "testClockId"])]),
        (
            {"email": "nope", "paymentMethod": "card"},
            [("INVALID", ["input", "email"]), ("INVALID", ["input", "paymentMethod"])],
        ),
    ],
)
async def test_create_customer_rejects_bad_input(tenant, inp, expected):
    d = await create(tenant, **inp)
    assert d["customer"] is None and errors(d) == expected
    assert await Customer.filter(account_id=tenant.account_id).count() == 0


async def test_declining_test_card_is_accepted(tenant):
    c = (await create(tenant, paymentMethod="pm_card_chargeDeclined"))["customer"]
    assert c["defaultPaymentMethod"] == "pm_card_chargeDeclined"


async def _clock(tenant, frozen: datetime) -> str:
    return (await models.TestClock.create(account_id=tenant.account_id, frozen_time=frozen)).id


async def test_customer_on_a_test_clock(tenant, other_tenant):
    frozen = datetime(2024, 3, 1, 12, tzinfo=UTC)
    clock = await _clock(tenant, frozen)
    c = (await create(tenant, testClockId=clock))["customer"]
    assert c["testClock"] == {"id": clock, "frozenTime": "2024-03-01T12:00:00Z"}
    assert datetime.fromisoformat(c["createdAt"]) == frozen
    d = await create(other_tenant, testClockId=clock)
    assert d["customer"] is None and errors(d) == [("NOT_FOUND", ["input", "testClockId"])]


async def test_attach_payment_method(tenant):
    cid = await customer_id(tenant, name="A")
    d = (await tenant.data(ATTACH, {"id": cid, "pm": "pm_card_visa"}))["attachPaymentMethod"]
    assert d["userErrors"] == [] and d["customer"]["defaultPaymentMethod"] == "pm_card_visa"
    d = await tenant.data(ATTACH, {"id": cid, "pm": "pm_card_chargeDeclined"})
    assert d["attachPaymentMethod"]["customer"]["defaultPaymentMethod"] == "pm_card_chargeDeclined"
    got = (await tenant.data(GET, {"id": cid}))["customer"]
    assert (got["name"], got["defaultPaymentMethod"]) == ("A", "pm_card_chargeDeclined")


@pytest.mark.parametrize(
    ("pm", "expected"),
    [
        ("pm_card_bogus", ("INVALID", ["input", "paymentMethod"])),
        ("", ("REQUIRED", ["input", "paymentMethod"])),
    ],
)
async def test_attach_payment_method_rejects_unknown_methods(tenant, pm, expected):
    cid = await customer_id(tenant, paymentMethod="pm_card_visa")
    d = (await tenant.data(ATTACH, {"id": cid, "pm": pm}))["attachPaymentMethod"]
    assert d["customer"] is None and errors(d) == [expected]
    got = (await tenant.data(GET, {"id": cid}))["customer"]
    assert got["defaultPaymentMethod"] == "pm_card_visa"


async def test_another_accounts_customer_is_out_of_reach(tenant, other_tenant):
    theirs = (await create(other_tenant, externalId="x", paymentMethod="pm_card_visa"))["customer"]
    for cid in (theirs["id"], "cus_unknown"):
        assert (await tenant.data(GET, {"id": cid}))["customer"] is None
        d = await tenant.data(ATTACH, {"id": cid, "pm": "pm_card_chargeDeclined"})
        d = d["attachPaymentMethod"]
        assert d["customer"] is None and errors(d) == [("NOT_FOUND", ["input", "customerId"])]
    assert (await other_tenant.data(GET, {"id": theirs["id"]}))["customer"] == theirs
    assert (await tenant.data(LIST))["customers"]["edges"] == []


async def test_customers_paginate_within_the_account(tenant, other_tenant):
    # Four rows in pages of two: the last page is full and still says there is no next one.
    ids = [await customer_id(tenant, externalId=f"c{n}") for n in range(4)]
    await customer_id(other_tenant, externalId="c0")
    seen: list[str] = []
    after, sizes = None, []
    while True:
        page = (await tenant.data(LIST, {"first": 2, "after": after}))["customers"]
        sizes.append(len(page["edges"]))
        seen += [e["node"]["id"] for e in page["edges"]]
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert sizes == [2, 2] and seen == ids[::-1]
    full = (await tenant.data(LIST))["customers"]
    assert [e["node"]["id"] for e in full["edges"]] == seen
    assert full["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize("variables", [{"first": 101}, {"first": -3}, {"after": "zzz"}])
async def test_customers_bad_arguments(tenant, variables):
    body = await tenant.gql(LIST, variables)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
