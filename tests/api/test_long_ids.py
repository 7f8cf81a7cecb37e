"""An id longer than any id meterbill issues is a caller's mistake on every backend (the
PostgreSQL driver used to refuse it for a VARCHAR(40) parameter: an INTERNAL error)."""

from __future__ import annotations

import pytest

LONG = "cus_" + "x" * 60


@pytest.mark.parametrize(
    ("doc", "variables"),
    [
        ('{ customer(id: "' + LONG + '") { id } }', None),
        ("query($i: ID!) { customer(id: $i) { id } }", {"i": LONG}),
        (
            'mutation { attachPaymentMethod(input: {customerId: "' + LONG + '", '
            'paymentMethod: "pm_card_visa"}) { userErrors { code } } }',
            None,
        ),
        (
            "mutation($in: AttachPaymentMethodInput!) { attachPaymentMethod(input: $in)"
            " { userErrors { code } } }",
            {"in": {"customerId": LONG, "paymentMethod": "pm_card_visa"}},
        ),
    ],
)
async def test_overlong_ids_are_bad_user_input(tenant, doc, variables):
    body = await tenant.gql(doc, variables)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
    assert "at most 40 characters" in body["errors"][0]["message"]


async def test_an_id_of_the_maximum_length_reads_as_missing(tenant):
    body = await tenant.data("query($i: ID!) { customer(id: $i) { id } }", {"i": "c" * 40})
    assert body == {"customer": None}


async def test_overlong_names_are_user_errors(tenant):
    key = await tenant.data(
        "mutation($n: String!) { createApiKey(input: {name: $n, scopes: [READ]})"
        " { apiKey { id } userErrors { field code } } }",
        {"n": "k" * 201},
    )
    assert key["createApiKey"]["userErrors"] == [{"field": ["input", "name"], "code": "INVALID"}]
    prod = await tenant.data('mutation { createProduct(input: {name: "p"}) { product { id } } }')
    price = await tenant.data(
        'mutation($p: ID!, $n: String) { createPrice(input: {productId: $p, currency: "usd",'
        " nickname: $n, unitAmount: 100, recurring: {interval: MONTH}})"
        " { price { id } userErrors { field code } } }",
        {"p": prod["createProduct"]["product"]["id"], "n": "n" * 201},
    )
    assert price["createPrice"]["userErrors"] == [
        {"field": ["input", "nickname"], "code": "INVALID"}
    ]
