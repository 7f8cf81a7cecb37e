"""Products and prices over GraphQL: what is stored reads back the same, every invalid
input names its field, and another account's rows stay out of reach."""

from __future__ import annotations

from typing import Any

import pytest

from meterbill.db.models import Price, Product

PRODUCT = """mutation($input: CreateProductInput!) { createProduct(input: $input) {
  product { id name description active createdAt } userErrors { code field } } }"""
GET_PRODUCT = "query($id: ID!) { product(id: $id) { id name description active createdAt } }"
METER = """mutation($e: String!) { createMeter(input: {displayName: "M", eventName: $e,
  aggregation: SUM}) { meter { id } } }"""
PRICE_FIELDS = """id currency nickname active billingScheme unitAmount unitAmountDecimal
  tiersMode transformQuantity { divideBy round }
  recurring { interval intervalCount usageType meter { id eventName } }
  product { id name } tiers { upTo unitAmountDecimal flatAmountDecimal }"""
PRICE = f"""mutation($input: CreatePriceInput!) {{ createPrice(input: $input) {{
  price {{ {PRICE_FIELDS} }} userErrors {{ code field message }} }} }}"""
GET_PRICE = f"query($id: ID!) {{ price(id: $id) {{ {PRICE_FIELDS} }} }}"


async def product_id(tenant, name: str = "API") -> str:
    return (await tenant.data(PRODUCT, {"input": {"name": name}}))["createProduct"]["product"]["id"]


async def meter_id(tenant, event: str = "api_requests") -> str:
    return (await tenant.data(METER, {"e": event}))["createMeter"]["meter"]["id"]


@pytest.fixture
async def refs(tenant, other_tenant) -> dict[str, str]:
    """Ids the tables below name by placeholder."""
    return {
        "$product": await product_id(tenant),
        "$meter": await meter_id(tenant),
        "$their_product": await product_id(other_tenant),
        "$their_meter": await meter_id(other_tenant),
    }


def fill(value: Any, refs: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: fill(v, refs) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, refs) for v in value]
    return refs.get(value, value) if isinstance(value, str) else value


def price_input(**over: Any) -> dict[str, Any]:
    return {"productId": "$product", "currency": "usd", "recurring": {"interval": "MONTH"}, **over}


async def create_price(tenant, refs, **over: Any) -> dict[str, Any]:
    variables = {"input": fill(price_input(**over), refs)}
    return (await tenant.data(PRICE, variables))["createPrice"]


# ------------------------------------------------------------------ products


async def test_create_and_read_product(tenant, other_tenant):
    inp = {"name": " API access ", "description": "Metered API"}
    d = (await tenant.data(PRODUCT, {"input": inp}))["createProduct"]
    p = d["product"]
    assert d["userErrors"] == [] and p["id"].startswith("prod_")
    assert (p["name"], p["description"], p["active"]) == ("API access", "Metered API", True)
    assert (await tenant.data(GET_PRODUCT, {"id": p["id"]}))["product"] == p
    assert (await other_tenant.data(GET_PRODUCT, {"id": p["id"]}))["product"] is None
    assert (await tenant.data(GET_PRODUCT, {"id": "prod_unknown"}))["product"] is None


@pytest.mark.parametrize(
    ("inp", "code", "field"),
    [
        ({"name": ""}, "REQUIRED", ["input", "name"]),
        ({"name": "   "}, "REQUIRED", ["input", "name"]),
        ({"name": "n" * 201}, "INVALID", ["input", "name"]),
        ({"name": "n", "description": "d" * 1001}, "INVALID", ["input", "description"]),
    ],
)
async def test_create_product_rejects_bad_input(tenant, inp, code, field):
    d = (await tenant.data(PRODUCT, {"input": inp}))["createProduct"]
    assert d["product"] is None and d["userErrors"] == [{"code": code, "field": field}]
    assert await Product.filter(account_id=tenant.account_id).count() == 0


async def test_product_name_is_required_by_the_schema(tenant):
    body = await tenant.gql(PRODUCT, {"input": {"description": "no name"}})
    assert body["data"] is None and body["errors"]


# ------------------------------------------------------------------ prices

PER_UNIT = {"billingScheme": "PER_UNIT", "tiersMode": None, "tiers": None}


@pytest.mark.parametrize(
    ("over", "expected"),
    [
        ({"unitAmount": 1500}, {"unitAmount": 1500, "unitAmountDecimal": "1500"}),
        ({"unitAmount": 0}, {"unitAmount": 0, "unitAmountDecimal": "0"}),
        ({"unitAmountDecimal": "0.0004"}, {"unitAmount": None, "unitAmountDecimal": "0.0004"}),
        ({"unitAmountDecimal": "12.5"}, {"unitAmount": None, "unitAmountDecimal": "12.5"}),
        ({"unitAmountDecimal": "25.000"}, {"unitAmount": 25, "unitAmountDecimal": "25"}),
        (
            {"unitAmountDecimal": "0.000000000001"},
            {"unitAmount": None, "unitAmountDecimal": "0.000000000001"},
        ),
    ],
)
async def test_per_unit_price_reads_back(tenant, refs, over, expected):
    d = await create_price(tenant, refs, nickname="std", **over)
    p = d["price"]
    assert d["userErrors"] == [] and p["id"].startswith("price_")
    assert {k: p[k] for k in [*expected, *PER_UNIT]} == {**expected, **PER_UNIT}
    assert (p["currency"], p["nickname"], p["active"]) == ("usd", "std", True)
    assert p["product"] == {"id": refs["$product"], "name": "API"}
    assert p["recurring"] == {
        "interval": "MONTH",
        "intervalCount": 1,
        "usageType": "LICENSED",
        "meter": None,
    }
    assert p["transformQuantity"] is None
    assert (await tenant.data(GET_PRICE, {"id": p["id"]}))["price"] == p


@pytest.mark.parametrize("mode", ["GRADUATED", "VOLUME"])
async def test_tiered_price_reads_back_its_tiers(tenant, refs, mode):
    tiers = [
        {"upTo": 1000, "unitAmount": 10},
        {"upTo": 5000, "unitAmountDecimal": "0.5", "flatAmount": 100},
        {"flatAmountDecimal": "2500.25"},
    ]
    d = await create_price(
        tenant, refs, billingScheme="TIERED", tiersMode=mode, tiers=tiers, currency="eur"
    )
    assert d["userErrors"] == []
    p = d["price"]
    assert (p["billingScheme"], p["tiersMode"], p["currency"]) == ("TIERED", mode, "eur")
    assert (p["unitAmount"], p["unitAmountDecimal"]) == (None, None)
    assert p["tiers"] == [
        {"upTo": 1000, "unitAmountDecimal": "10", "flatAmountDecimal": None},
        {"upTo": 5000, "unitAmountDecimal": "0.5", "flatAmountDecimal": "100"},
        {"upTo": None, "unitAmountDecimal": None, "flatAmountDecimal": "2500.25"},
    ]
    assert (await tenant.data(GET_PRICE, {"id": p["id"]}))["price"] == p


async def test_metered_price_reads_back_its_meter_and_transform(tenant, refs):
    d = await create_price(
        tenant,
        refs,
        unitAmountDecimal="0.25",
        transformQuantity={"divideBy": 1000, "round": "UP"},
        recurring={
            "interval": "WEEK",
            "intervalCount": 2,
            "usageType": "METERED",
            "meterId": "$meter",
        },
    )
    assert d["userErrors"] == []
    p = d["price"]
    assert p["recurring"] == {
        "interval": "WEEK",
        "intervalCount": 2,
        "usageType": "METERED",
        "meter": {"id": refs["$meter"], "eventName": "api_requests"},
    }
    assert p["transformQuantity"] == {"divideBy": 1000, "round": "UP"}
    assert (await tenant.data(GET_PRICE, {"id": p["id"]}))["price"] == p


def _tiered(*tiers: dict[str, Any], **over: Any) -> dict[str, Any]:
    return {"billingScheme": "TIERED", "tiersMode": "GRADUATED", "tiers": list(tiers), **over}


OPEN = {"unitAmount": 1}
METERED = {"interval": "MONTH", "usageType": "METERED"}
THEIR_METER = {**METERED, "meterId": "$their_meter"}
LICENSED_METER = {"interval": "MONTH", "meterId": "$meter"}
INVALID_PRICES: list[tuple[str, dict[str, Any], list[tuple[str, list[str]]]]] = [
    ("both unit amounts", {"unitAmount": 1, "unitAmountDecimal": "1"},
     [("INVALID", ["input", "unitAmountDecimal"])]),
    ("no unit amount", {}, [("REQUIRED", ["input", "unitAmount"])]),
    ("tiers on PER_UNIT", {"unitAmount": 1, "tiers": [OPEN]}, [("INVALID", ["input", "tiers"])]),
    ("tiersMode on PER_UNIT", {"unitAmount": 1, "tiersMode": "VOLUME"},
     [("INVALID", ["input", "tiersMode"])]),
    ("upTo not increasing", _tiered({"upTo": 10, **OPEN}, {"upTo": 10, **OPEN}, OPEN),
     [("INVALID", ["input", "tiers", "1", "upTo"])]),
    ("upTo decreasing", _tiered({"upTo": 10, **OPEN}, {"upTo": 5, **OPEN}, OPEN),
     [("INVALID", ["input", "tiers", "1", "upTo"])]),
    ("open tier not last", _tiered(OPEN, {"upTo": 10, **OPEN}),
     [("REQUIRED", ["input", "tiers", "0", "upTo"]), ("INVALID", ["input", "tiers", "1", "upTo"])]),
    ("upTo zero", _tiered({"upTo": 0, **OPEN}, OPEN),
     [("INVALID", ["input", "tiers", "0", "upTo"])]),
    ("tier without amounts", _tiered({"upTo": 10}, OPEN),
     [("REQUIRED", ["input", "tiers", "0", "unitAmount"])]),
    ("no tiers", _tiered(), [("REQUIRED", ["input", "tiers"])]),
    ("no tiersMode", _tiered(OPEN, tiersMode=None), [("REQUIRED", ["input", "tiersMode"])]),
    ("unit amount on TIERED", _tiered(OPEN, unitAmount=5), [("INVALID", ["input", "unitAmount"])]),
    ("negative unitAmount", {"unitAmount": -5}, [("INVALID", ["input", "unitAmount"])]),
    ("unitAmount too big", {"unitAmount": "9007199254740993000"},
     [("INVALID", ["input", "unitAmount"])]),
    ("negative decimal", {"unitAmountDecimal": "-0.5"},
     [("INVALID", ["input", "unitAmountDecimal"])]),
    ("negative tier flat", _tiered({"flatAmount": -1}),
     [("INVALID", ["input", "tiers", "0", "flatAmount"])]),
    ("13 decimals", {"unitAmountDecimal": "0.0000000000001"},
     [("INVALID", ["input", "unitAmountDecimal"])]),
    ("13 decimals on a tier", _tiered({"unitAmountDecimal": "1.0000000000001"}),
     [("INVALID", ["input", "tiers", "0", "unitAmountDecimal"])]),
    ("transformQuantity on TIERED", _tiered(OPEN, transformQuantity={"divideBy": 2, "round": "UP"}),
     [("INVALID", ["input", "transformQuantity"])]),
    ("divideBy 0", {"unitAmount": 1, "transformQuantity": {"divideBy": 0, "round": "DOWN"}},
     [("INVALID", ["input", "transformQuantity", "divideBy"])]),
    ("METERED without meterId", {"unitAmount": 1, "recurring": METERED},
     [("REQUIRED", ["input", "recurring", "meterId"])]),
    ("LICENSED with meterId", {"unitAmount": 1, "recurring": LICENSED_METER},
     [("INVALID", ["input", "recurring", "meterId"])]),
    ("intervalCount 0", {"unitAmount": 1, "recurring": {"interval": "DAY", "intervalCount": 0}},
     [("INVALID", ["input", "recurring", "intervalCount"])]),
    ("over three years", {"unitAmount": 1, "recurring": {"interval": "MONTH", "intervalCount": 37}},
     [("INVALID", ["input", "recurring", "intervalCount"])]),
    ("unknown currency", {"unitAmount": 1, "currency": "xyz"},
     [("INVALID", ["input", "currency"])]),
    ("upper-case currency", {"unitAmount": 1, "currency": "USD"},
     [("INVALID", ["input", "currency"])]),
    ("unknown product", {"unitAmount": 1, "productId": "prod_unknown"},
     [("NOT_FOUND", ["input", "productId"])]),
    ("another account's product", {"unitAmount": 1, "productId": "$their_product"},
     [("NOT_FOUND", ["input", "productId"])]),
    ("another account's meter", {"unitAmount": 1, "recurring": THEIR_METER},
     [("NOT_FOUND", ["input", "recurring", "meterId"])]),
    ("several at once", {"unitAmount": -1, "currency": "zzz", "productId": "prod_unknown"},
     [("INVALID", ["input", "currency"]), ("INVALID", ["input", "unitAmount"]),
      ("NOT_FOUND", ["input", "productId"])]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("over", "errors"), [c[1:] for c in INVALID_PRICES], ids=[c[0] for c in INVALID_PRICES]
)
async def test_invalid_price_names_its_field(tenant, refs, over, errors):
    d = await create_price(tenant, refs, **over)
    assert d["price"] is None
    got = sorted((e["code"], e["field"]) for e in d["userErrors"])
    assert got == sorted(errors), d["userErrors"]
    assert all(e["message"] for e in d["userErrors"])
    assert await Price.filter(account_id=tenant.account_id).count() == 0


async def test_another_accounts_price_reads_as_null(tenant, other_tenant, refs):
    mine = (await create_price(tenant, refs, unitAmount=100))["price"]
    assert (await other_tenant.data(GET_PRICE, {"id": mine["id"]}))["price"] is None
    assert (await tenant.data(GET_PRICE, {"id": "price_unknown"}))["price"] is None
    assert (await tenant.data(GET_PRICE, {"id": mine["id"]}))["price"] == mine
