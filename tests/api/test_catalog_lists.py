"""The lists dashboards use (contract extension live): customers(search:), products, prices."""

from __future__ import annotations

from typing import Any

SEARCH = """query($s: String) { customers(first: 50, search: $s) {
  edges { node { name } } } }"""


async def names(tenant: Any, search: str | None) -> set[str]:
    d = await tenant.data(SEARCH, {"s": search})
    return {e["node"]["name"] for e in d["customers"]["edges"]}


async def test_customers_search_matches_name_email_or_external_id_in_any_case(tenant, other_tenant):
    for name, email, ext in (
        ("Ada Lovelace", "ada@engine.test", "cust-001"),
        ("Charles Babbage", "charles@engine.test", "CUST-002"),
        ("Grace Hopper", "grace@navy.test", None),
    ):
        await tenant.data(
            "mutation($n: String, $e: String, $x: String) { createCustomer(input: "
            "{name: $n, email: $e, externalId: $x}) { customer { id } } }",
            {"n": name, "e": email, "x": ext},
        )
    await other_tenant.data(
        'mutation { createCustomer(input: {name: "Ada Other"}) { customer { id } } }'
    )
    assert await names(tenant, "ada") == {"Ada Lovelace"}
    assert await names(tenant, "ENGINE.test") == {"Ada Lovelace", "Charles Babbage"}
    assert await names(tenant, "cust-00") == {"Ada Lovelace", "Charles Babbage"}
    assert await names(tenant, "  hopper ") == {"Grace Hopper"}
    assert await names(tenant, "nobody") == set()
    assert await names(tenant, None) == {"Ada Lovelace", "Charles Babbage", "Grace Hopper"}
    assert await names(tenant, "") == {"Ada Lovelace", "Charles Babbage", "Grace Hopper"}


async def test_customers_search_too_long_names_the_argument(tenant):
    body = await tenant.gql(SEARCH, {"s": "x" * 201})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "search" in body["errors"][0]["message"]


async def test_products_and_prices_newest_first_filtered(tenant, other_tenant):
    ids = []
    for n in ("Seats", "Tokens"):
        d = await tenant.data(
            "mutation($n: String!) { createProduct(input: {name: $n}) { product { id } } }",
            {"n": n},
        )
        ids.append(d["createProduct"]["product"]["id"])
    await other_tenant.data(
        'mutation { createProduct(input: {name: "Theirs"}) { product { id } } }'
    )
    d = await tenant.data("{ products { edges { node { id name } } pageInfo { hasNextPage } } }")
    assert [e["node"]["name"] for e in d["products"]["edges"]] == ["Tokens", "Seats"]
    for pid, amount in ((ids[0], 1000), (ids[1], 5)):
        d = await tenant.data(
            "mutation($p: ID!, $a: BigInt!) { createPrice(input: {productId: $p, currency: "
            '"usd", unitAmount: $a, recurring: {interval: MONTH}}) { price { id } } }',
            {"p": pid, "a": amount},
        )
    d = await tenant.data("{ prices(first: 10) { edges { node { unitAmount } } } }")
    assert [e["node"]["unitAmount"] for e in d["prices"]["edges"]] == [5, 1000]
    d = await tenant.data(
        "query($p: ID) { prices(productId: $p, active: true) { edges { node { unitAmount } } } }",
        {"p": ids[0]},
    )
    assert [e["node"]["unitAmount"] for e in d["prices"]["edges"]] == [1000]
    d = await tenant.data("{ prices(active: false) { edges { node { id } } } }")
    assert d["prices"]["edges"] == []
