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
