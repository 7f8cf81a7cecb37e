"""API keys and scopes over GraphQL. Every catalog root field is taken from the built schema,
so a field added to the catalog is covered by these scope tests without editing them."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from graphql import (
    GraphQLInputType,
    get_named_type,
    is_composite_type,
    is_enum_type,
    is_input_object_type,
    is_list_type,
    is_non_null_type,
)

from meterbill.db.models import ApiKey, Product
from meterbill.graphql.catalog import CatalogMutation, CatalogQuery
from meterbill.graphql.schema import build_schema
from tests.conftest import checked_status

SCHEMA = build_schema()
_SCALARS: dict[str, Any] = {
    "ID": "nope_0",
    "String": "x",
    "Int": 1,
    "Boolean": True,
    "BigInt": 1,
    "Decimal": "1",
    "DateTime": "2024-01-01T00:00:00Z",
}


def _catalog_fields(kind: str, part: type) -> list[tuple[str, str]]:
    root = SCHEMA.get_type_by_name("Query" if kind == "query" else "Mutation")
    gql_root = SCHEMA._schema.query_type if kind == "query" else SCHEMA._schema.mutation_type
    assert root is not None and gql_root is not None
    names = {
        SCHEMA.config.name_converter.get_graphql_name(f) for f in root.fields if f.origin is part
    }  # type: ignore[union-attr]
    assert names <= set(gql_root.fields)
    return [(kind, n) for n in sorted(names)]


FIELDS = _catalog_fields("query", CatalogQuery) + _catalog_fields("mutation", CatalogMutation)
IDS = [name for _, name in FIELDS]


def _sample(t: GraphQLInputType) -> Any:
    """A value of input type `t` that passes validation (its required fields only)."""
    if is_non_null_type(t):
        return _sample(t.of_type)  # type: ignore[union-attr]
    if is_list_type(t):
        return [_sample(t.of_type)]  # type: ignore[union-attr]
    if is_enum_type(t):
        return next(iter(t.values))  # type: ignore[union-attr]
    if is_input_object_type(t):
        fields = t.fields.items()  # type: ignore[union-attr]
        return {n: _sample(f.type) for n, f in fields if is_non_null_type(f.type)}
    return _SCALARS[t.name]  # type: ignore[union-attr]


def operation(kind: str, name: str) -> tuple[str, dict[str, Any]]:
    """A minimal valid document calling one root field, with its variables."""
    root = SCHEMA._schema.query_type if kind == "query" else SCHEMA._schema.mutation_type
    field = root.fields[name]  # type: ignore[union-attr]
    args = {a: arg.type for a, arg in field.args.items() if is_non_null_type(arg.type)}
    decl = ", ".join(f"${a}: {t}" for a, t in args.items())
    call = name + (f"({', '.join(f'{a}: ${a}' for a in args)})" if args else "")
    sel = " { __typename }" if is_composite_type(get_named_type(field.type)) else ""
    doc = f"{kind}{f'({decl})' if decl else ''} {{ {call}{sel} }}"
    return doc, {a: _sample(t) for a, t in args.items()}


def test_every_catalog_field_is_listed():
    assert {"meter", "meters", "apiKeys", "createPrice", "revokeApiKey"} <= set(IDS)


async def post(client, query: str, variables=None, headers=None) -> dict[str, Any]:
    body = {"query": query, "variables": variables or {}}
    return checked_status(await client.post("/graphql", json=body, headers=headers or {}))


def refused(body: dict[str, Any], code: str) -> None:
    assert body["data"] is None, body
    assert body["errors"][0]["extensions"]["code"] == code, body


CREATE_KEY = """mutation($name: String!, $scopes: [ApiKeyScope!]!) {
  createApiKey(input: {name: $name, scopes: $scopes}) {
    apiKey { id name scopes prefix revokedAt } secret userErrors { code field } } }"""
REVOKE_KEY = """mutation($id: ID!) { revokeApiKey(input: {id: $id}) {
  apiKey { id revokedAt } userErrors { code field } } }"""
API_KEYS = "{ apiKeys { id name scopes prefix createdAt revokedAt } }"


async def new_key(tenant, *scopes: str, name: str = "k") -> tuple[str, str]:
    d = (await tenant.data(CREATE_KEY, {"name": name, "scopes": list(scopes)}))["createApiKey"]
    assert d["userErrors"] == []
    return d["apiKey"]["id"], d["secret"]


@pytest.mark.parametrize(("kind", "name"), FIELDS, ids=IDS)
async def test_without_a_valid_key_every_field_is_unauthenticated(tenant, kind, name):
    doc, variables = operation(kind, name)
    key_id, revoked = await new_key(tenant, "ADMIN")
    await tenant.data(REVOKE_KEY, {"id": key_id})
    bad_headers: list[dict[str, str]] = [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic " + tenant.secret},
        {"Authorization": tenant.secret},  # no scheme
        {"Authorization": "Bearer mb_sk_" + "x" * 40},  # well-formed, unknown
        {"Authorization": "Bearer " + tenant.secret + "x"},
        {"Authorization": "Bearer " + hashlib.sha256(tenant.secret.encode()).hexdigest()},
        {"Authorization": "Bearer " + revoked},
    ]
    for headers in bad_headers:
        refused(await post(tenant.client, doc, variables, headers), "UNAUTHENTICATED")


@pytest.mark.parametrize(("kind", "name"), FIELDS, ids=IDS)
async def test_read_key_runs_queries_only(tenant, kind, name):
    _, secret = await new_key(tenant, "READ")
    body = await tenant.gql(*operation(kind, name), key=secret)
    if kind == "query" and name != "apiKeys":
        assert "errors" not in body, body
        assert name in body["data"]
    else:
        refused(body, "FORBIDDEN")


@pytest.mark.parametrize(("kind", "name"), FIELDS, ids=IDS)
async def test_usage_write_key_may_not_touch_the_catalog(tenant, kind, name):
    _, secret = await new_key(tenant, "USAGE_WRITE")
    refused(await tenant.gql(*operation(kind, name), key=secret), "FORBIDDEN")


@pytest.mark.parametrize(("kind", "name"), FIELDS, ids=IDS)
async def test_admin_key_may_use_every_field(tenant, kind, name):
    _, secret = await new_key(tenant, "ADMIN")
    body = await tenant.gql(*operation(kind, name), key=secret)
    assert "errors" not in body, body
    assert name in body["data"]


async def test_read_plus_usage_write_still_cannot_mutate_the_catalog(tenant):
    _, secret = await new_key(tenant, "READ", "USAGE_WRITE")
    assert (await tenant.data("{ meters { edges { cursor } } }", key=secret))["meters"]
    refused(await tenant.gql(*operation("mutation", "createProduct"), key=secret), "FORBIDDEN")


async def test_created_key_secret_is_shown_once_and_stored_only_as_a_hash(tenant):
    d = (await tenant.data(CREATE_KEY, {"name": "ci", "scopes": ["READ", "ADMIN"]}))["createApiKey"]
    secret, key = d["secret"], d["apiKey"]
    assert secret.startswith("mb_sk_") and len(secret) >= 40
    assert secret.startswith(key["prefix"]) and len(key["prefix"]) < len(secret) // 2
    assert key["name"] == "ci" and set(key["scopes"]) == {"READ", "ADMIN"}
    assert key["revokedAt"] is None
    listed = await tenant.data(API_KEYS)
    assert secret not in str(listed)
    assert {k["id"] for k in listed["apiKeys"]} >= {key["id"]}
    assert "secret" not in str(SCHEMA._schema.type_map["ApiKey"].fields).lower()  # type: ignore[attr-defined]
    row = await ApiKey.get(id=key["id"])
    values = {f: getattr(row, f) for f in ApiKey._meta.db_fields}
    assert not [f for f, v in values.items() if isinstance(v, str) and secret in v], values
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    # A second key never repeats the first's secret.
    assert (await new_key(tenant, "READ"))[1] != secret
    me = await tenant.data("{ apiKeys { id } }", key=secret)
    assert key["id"] in {k["id"] for k in me["apiKeys"]}


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"name": " ", "scopes": ["READ"]}, ["input", "name"]),
        ({"name": "k", "scopes": []}, ["input", "scopes"]),
    ],
)
async def test_create_key_rejects_bad_input(tenant, variables, field):
    d = (await tenant.data(CREATE_KEY, variables))["createApiKey"]
    assert d["apiKey"] is None and d["secret"] is None
    assert d["userErrors"][0]["field"] == field


async def test_revoked_key_is_refused_while_other_keys_keep_working(tenant):
    read_id, read = await new_key(tenant, "READ", name="reader")
    gone_id, gone = await new_key(tenant, "ADMIN", name="old")
    d = (await tenant.data(REVOKE_KEY, {"id": gone_id}))["revokeApiKey"]
    assert d["userErrors"] == [] and d["apiKey"]["revokedAt"] is not None
    refused(await tenant.gql("{ meters { edges { cursor } } }", key=gone), "UNAUTHENTICATED")
    assert (await tenant.data("{ meters { edges { cursor } } }", key=read))["meters"]
    keys = {k["id"]: k for k in (await tenant.data(API_KEYS))["apiKeys"]}
    assert keys[gone_id]["revokedAt"] is not None and keys[read_id]["revokedAt"] is None
    # Revoking again is harmless and keeps the first revocation time.
    again = (await tenant.data(REVOKE_KEY, {"id": gone_id}))["revokeApiKey"]
    assert again["apiKey"]["revokedAt"] == d["apiKey"]["revokedAt"]


async def test_keys_belong_to_their_account(tenant, other_tenant):
    theirs, _ = await new_key(other_tenant, "ADMIN", name="theirs")
    d = (await tenant.data(REVOKE_KEY, {"id": theirs}))["revokeApiKey"]
    assert d["apiKey"] is None
    assert d["userErrors"] == [{"code": "NOT_FOUND", "field": ["input", "id"]}]
    mine = {k["id"] for k in (await tenant.data(API_KEYS))["apiKeys"]}
    assert theirs not in mine and len(mine) == 1
    assert (await other_tenant.data("{ meters { edges { cursor } } }"))["meters"]


CREATE_PRODUCT = 'createProduct(input: {name: "p"}) { product { id } }'


@pytest.mark.parametrize(
    "doc",
    [
        f"mutation {{ ...M }} fragment M on Mutation {{ {CREATE_PRODUCT} }}",
        f"mutation {{ ... on Mutation {{ {CREATE_PRODUCT} }} }}",
        "mutation { ... { ...M } } fragment M on Mutation { ...N } "
        f"fragment N on Mutation {{ {CREATE_PRODUCT} }}",
        f"mutation {{ __typename ... @include(if: true) {{ {CREATE_PRODUCT} }} }}",
        f"mutation {{ p: {CREATE_PRODUCT} }}",
        "query { ...Q } fragment Q on Query { apiKeys { id } }",
        "query { ... on Query { apiKeys { id } } }",
    ],
)
async def test_fragments_and_aliases_at_the_root_do_not_bypass_scopes(tenant, doc):
    _, secret = await new_key(tenant, "READ")
    refused(await tenant.gql(doc, key=secret), "FORBIDDEN")
    assert await Product.filter(account_id=tenant.account_id).count() == 0


async def test_the_chosen_operation_is_the_one_checked(tenant):
    _, secret = await new_key(tenant, "READ")
    doc = (
        "query Q { meters { edges { cursor } } } "
        'mutation M { createProduct(input: {name: "p"}) { product { id } } }'
    )
    body = {"query": doc, "operationName": "M"}
    resp = await tenant.client.post(
        "/graphql", json=body, headers={"Authorization": f"Bearer {secret}"}
    )
    refused(resp.json(), "FORBIDDEN")
    assert await Product.filter(account_id=tenant.account_id).count() == 0
    body["operationName"] = "Q"
    resp = await tenant.client.post(
        "/graphql", json=body, headers={"Authorization": f"Bearer {secret}"}
    )
    assert resp.json()["data"]["meters"] == {"edges": []}


async def test_queries_over_get_are_checked_too(tenant):
    _, secret = await new_key(tenant, "READ")
    for query, headers, code in (
        ("{ apiKeys { id } }", {"Authorization": f"Bearer {secret}"}, "FORBIDDEN"),
        ("{ meters { edges { cursor } } }", {}, "UNAUTHENTICATED"),
    ):
        resp = await tenant.client.get("/graphql", params={"query": query}, headers=headers)
        refused(resp.json(), code)
    resp = await tenant.client.get(
        "/graphql",
        params={"query": "{ meters { edges { cursor } } }"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert resp.json() == {"data": {"meters": {"edges": []}}}


async def test_introspection_needs_no_key(client):
    body = await post(client, '{ __schema { queryType { name } } __type(name: "Meter") { name } }')
    assert "errors" not in body, body
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"
    assert body["data"]["__type"]["name"] == "Meter"
    # ...but introspection does not carry a data field past the check.
    refused(await post(client, "{ __typename meters { edges { cursor } } }"), "UNAUTHENTICATED")


async def test_both_endpoints_refuse_a_missing_key_with_401_and_one_body(tenant):
    graphql = await tenant.client.post(
        "/graphql", json={"query": "{ meters { edges { cursor } } }"}
    )
    bulk = await tenant.client.post(
        "/v1/meter_events",
        content=b"",
        headers={"Content-Type": "application/x-ndjson", "Authorization": "Bearer mb_sk_nope"},
    )
    for resp in (graphql, bulk):
        assert resp.status_code == 401
        assert resp.headers["www-authenticate"] == "Bearer"
        assert resp.json() == {
            "data": None,
            "errors": [
                {
                    "message": "a valid API key is required: Authorization: Bearer mb_sk_...",
                    "extensions": {"code": "UNAUTHENTICATED"},
                }
            ],
        }
