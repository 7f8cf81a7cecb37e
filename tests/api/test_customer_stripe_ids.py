"""Customers' Stripe ids over GraphQL: set at createCustomer and attachPaymentMethod, shown
on Customer, checked with errors naming the field."""

from __future__ import annotations

from typing import Any

import pytest

FIELDS = "id defaultPaymentMethod stripeCustomerId stripePaymentMethodId"
CREATE = f"""mutation($input: CreateCustomerInput!) {{ createCustomer(input: $input) {{
  customer {{ {FIELDS} }} userErrors {{ code field message }} }} }}"""
ATTACH = f"""mutation($input: AttachPaymentMethodInput!) {{ attachPaymentMethod(input: $input) {{
  customer {{ {FIELDS} }} userErrors {{ code field message }} }} }}"""
GET = f"query($id: ID!) {{ customer(id: $id) {{ {FIELDS} }} }}"


async def _create(tenant: Any, **inp: Any) -> dict[str, Any]:
    return (await tenant.data(CREATE, {"input": inp}))["createCustomer"]


async def _attach(tenant: Any, **inp: Any) -> dict[str, Any]:
    return (await tenant.data(ATTACH, {"input": inp}))["attachPaymentMethod"]


def _errors(payload: dict[str, Any]) -> list[tuple[str, list[str]]]:
    return [(e["code"], e["field"]) for e in payload["userErrors"]]


async def test_stripe_ids_at_create_are_shown_on_the_customer(tenant):
    d = await _create(tenant, stripeCustomerId="cus_NffrFeUfNV2Hib", stripePaymentMethodId="pm_1")
    c = d["customer"]
    assert d["userErrors"] == []
    assert (c["stripeCustomerId"], c["stripePaymentMethodId"], c["defaultPaymentMethod"]) == (
        "cus_NffrFeUfNV2Hib",
        "pm_1",
        None,
    )
    assert (await tenant.data(GET, {"id": c["id"]}))["customer"] == c


async def test_attach_sets_stripe_ids_and_keeps_the_rest(tenant):
    cid = (await _create(tenant, paymentMethod="pm_card_visa"))["customer"]["id"]
    d = await _attach(
        tenant, customerId=cid, stripeCustomerId="cus_A", stripePaymentMethodId="pm_card_visa"
    )
    assert d["userErrors"] == []
    assert d["customer"] == {
        "id": cid,
        "defaultPaymentMethod": "pm_card_visa",
        "stripeCustomerId": "cus_A",
        "stripePaymentMethodId": "pm_card_visa",
    }
    # A new payment method for the Stripe customer already on file.
    d = await _attach(tenant, customerId=cid, stripePaymentMethodId="pm_2")
    assert d["userErrors"] == [] and d["customer"]["stripePaymentMethodId"] == "pm_2"
    assert d["customer"]["stripeCustomerId"] == "cus_A"
    # The test card alone, as before: the Stripe ids stay.
    d = await _attach(tenant, customerId=cid, paymentMethod="pm_card_chargeDeclined")
    got = (await tenant.data(GET, {"id": cid}))["customer"]
    assert got["defaultPaymentMethod"] == "pm_card_chargeDeclined"
    assert (got["stripeCustomerId"], got["stripePaymentMethodId"]) == ("cus_A", "pm_2")


@pytest.mark.parametrize(
    ("inp", "expected"),
    [
        ({"stripeCustomerId": "pm_1"}, [("INVALID", ["input", "stripeCustomerId"])]),
        ({"stripeCustomerId": "cus_ x"}, [("INVALID", ["input", "stripeCustomerId"])]),
        ({"stripeCustomerId": "cus_" + "a" * 252}, [("INVALID", ["input", "stripeCustomerId"])]),
        (
            {"stripeCustomerId": "cus_1", "stripePaymentMethodId": "card_1"},
            [("INVALID", ["input", "stripePaymentMethodId"])],
        ),
        # Stripe charges a saved payment method with its customer.
        ({"stripePaymentMethodId": "pm_1"}, [("REQUIRED", ["input", "stripeCustomerId"])]),
    ],
)
async def test_bad_stripe_ids_at_create_name_the_field(tenant, inp, expected):
    d = await _create(tenant, **inp)
    assert d["customer"] is None and _errors(d) == expected, d


async def test_bad_stripe_ids_at_attach_name_the_field_and_change_nothing(tenant):
    cid = (await _create(tenant, paymentMethod="pm_card_visa"))["customer"]["id"]
    cases = [
        ({}, [("REQUIRED", ["input", "paymentMethod"])]),
        ({"stripeCustomerId": "cus_1"}, [("REQUIRED", ["input", "paymentMethod"])]),
        ({"stripePaymentMethodId": "pm_1"}, [("REQUIRED", ["input", "stripeCustomerId"])]),
        (
            {"stripePaymentMethodId": "x", "stripeCustomerId": "y"},
            [
                ("INVALID", ["input", "stripeCustomerId"]),
                ("INVALID", ["input", "stripePaymentMethodId"]),
            ],
        ),
    ]
    for inp, expected in cases:
        d = await _attach(tenant, customerId=cid, **inp)
        assert d["customer"] is None and _errors(d) == expected, (inp, d)
    got = (await tenant.data(GET, {"id": cid}))["customer"]
    assert (got["stripeCustomerId"], got["stripePaymentMethodId"]) == (None, None)


async def test_another_accounts_customer_gets_no_stripe_ids(tenant, other_tenant):
    theirs = (await _create(other_tenant, stripeCustomerId="cus_T"))["customer"]["id"]
    d = await _attach(
        tenant, customerId=theirs, stripeCustomerId="cus_M", stripePaymentMethodId="pm_M"
    )
    assert d["customer"] is None and _errors(d) == [("NOT_FOUND", ["input", "customerId"])]
    got = (await other_tenant.data(GET, {"id": theirs}))["customer"]
    assert (got["stripeCustomerId"], got["stripePaymentMethodId"]) == ("cus_T", None)
