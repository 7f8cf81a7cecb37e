"""Document limits, error codes and masking (meterbill.graphql.limits), and the switches for
introspection and GraphiQL."""

from __future__ import annotations

import logging

from meterbill.graphql.limits import MAX_ALIASES, MAX_DEPTH, MAX_TOKENS
from tests.apps import new_key, running


def _nested(depth: int) -> str:
    # Depth as graphql-depth-limit counts it: `{ a { b } }` is 1 deep. Field names need not
    # exist: the depth rule measures the document itself.
    inner = "leaf"
    for i in range(depth):
        inner = f"f{i} {{ {inner} }}"
    return "{ " + inner + " }"


def _codes(body: dict) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors") or []]


def _depth_errors(body: dict) -> list[dict]:
    return [e for e in body.get("errors") or [] if "maximum operation depth" in e["message"]]


async def test_depth_eleven_is_refused_ten_is_not(tenant):
    deep = await tenant.gql(_nested(MAX_DEPTH + 1))
    errors = _depth_errors(deep)
    assert errors and errors[0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert f"maximum operation depth of {MAX_DEPTH}" in errors[0]["message"]
    assert deep.get("data") is None
    assert _depth_errors(await tenant.gql(_nested(MAX_DEPTH))) == []


async def test_depth_through_fragments_counts(tenant):
    frag = "fragment F on Query { " + _nested(MAX_DEPTH + 1)[2:-2] + " }"
    body = await tenant.gql("{ ...F } " + frag)
    assert _depth_errors(body) and "QUERY_TOO_COMPLEX" in _codes(body)


async def test_too_many_aliases(tenant):
    ok = " ".join(f"a{i}: __typename" for i in range(MAX_ALIASES))
    assert (await tenant.data("{ " + ok + " }"))["a0"] == "Query"
    body = await tenant.gql("{ " + ok + " extra: __typename }")
    assert _codes(body) == ["QUERY_TOO_COMPLEX"]
    assert "aliases" in body["errors"][0]["message"]


async def test_too_many_tokens(tenant):
    body = await tenant.gql("{ " + "__typename " * (MAX_TOKENS + 1) + "}")
    assert _codes(body) == ["QUERY_TOO_COMPLEX"]
    assert "token" in body["errors"][0]["message"]


async def test_a_limit_message_in_the_callers_text_is_not_a_limit(tenant):
    # Codes come from the limits' own rules, not from matching message text: a syntax
    # error that quotes the caller's "aliases found" is a plain BAD_USER_INPUT.
    for text in ("aliases found", "exceeds maximum operation depth", "Document contains more than"):
        body = await tenant.gql('{ __typename "' + text + '" }')
        assert text in body["errors"][0]["message"]
        assert _codes(body) == ["BAD_USER_INPUT"], body


async def test_first_over_100_is_bad_user_input(tenant):
    for field in ("meters", "customers"):
        body = await tenant.gql(f"{{ {field}(first: 101) {{ edges {{ cursor }} }} }}")
        assert _codes(body) == ["BAD_USER_INPUT"], body
        err = body["errors"][0]
        assert err["extensions"]["field"] == ["first"]
        assert "100" in err["message"]
        assert not (await tenant.gql(f"{{ {field}(first: 100) {{ edges {{ cursor }} }} }}")).get(
            "errors"
        )
    body = await tenant.gql("{ meters(first: -1) { edges { cursor } } }")
    assert _codes(body) == ["BAD_USER_INPUT"]


async def test_syntax_and_validation_errors_stay_readable(tenant):
    body = await tenant.gql("{ meters(first: ")
    assert _codes(body) == ["BAD_USER_INPUT"] and "Syntax Error" in body["errors"][0]["message"]
    body = await tenant.gql("{ nosuchfield }")
    assert _codes(body) == ["BAD_USER_INPUT"] and "nosuchfield" in body["errors"][0]["message"]


SECRET = "hunter2-db-password"


async def test_internal_errors_are_masked_and_logged(tenant, monkeypatch, caplog):
    from meterbill.services import catalog

    async def broken(account_id, meter_id):  # type: ignore[no-untyped-def]
        raise RuntimeError(f"SELECT * FROM \"meters\" WHERE password='{SECRET}'")

    monkeypatch.setattr(catalog, "get_meter", broken)
    with caplog.at_level(logging.ERROR, logger="meterbill"):
        body = await tenant.gql('{ meter(id: "mtr_x") { id } }')
    assert _codes(body) == ["INTERNAL"]
    assert body["errors"][0]["message"] == "Internal error."
    text = str(body)
    for leak in (SECRET, "SELECT", "Traceback", "RuntimeError", "meters\\"):
        assert leak not in text, leak
    # The operator still sees what happened.
    assert any(SECRET in (r.exc_text or "") or SECRET in str(r.exc_info) for r in caplog.records)


async def test_user_errors_stay_readable(tenant):
    d = await tenant.data(
        'mutation { createMeter(input: {displayName: "", eventName: "e", aggregation: SUM}) '
        "{ meter { id } userErrors { field code message } } }"
    )
    errors = d["createMeter"]["userErrors"]
    assert errors == [
        {
            "field": ["input", "displayName"],
            "code": "REQUIRED",
            "message": "displayName is required",
        }
    ]


INTROSPECT = "{ __schema { queryType { name } } }"


async def test_introspection_switch(deployment):
    async with running(deployment, introspection=True) as client:
        _, key = await new_key()
        r = await client.post(
            "/graphql", json={"query": INTROSPECT}, headers={"Authorization": f"Bearer {key}"}
        )
        assert r.json()["data"]["__schema"]["queryType"]["name"] == "Query"
    async with running(deployment, introspection=False) as client:
        _, key = await new_key()
        r = await client.post(
            "/graphql", json={"query": INTROSPECT}, headers={"Authorization": f"Bearer {key}"}
        )
        body = r.json()
        assert body.get("data") is None
        assert "introspection" in body["errors"][0]["message"].lower()
        # Ordinary queries still work.
        r = await client.post(
            "/graphql",
            json={"query": "{ apiKeys { id } }"},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert len(r.json()["data"]["apiKeys"]) == 1


async def test_graphiql_switch(deployment):
    browser = {"accept": "text/html"}
    async with running(deployment, graphiql=True) as client:
        r = await client.get("/graphql", headers=browser)
        assert r.status_code == 200 and "graphiql" in r.text.lower()
    async with running(deployment, graphiql=False) as client:
        r = await client.get("/graphql", headers=browser)
        assert r.status_code == 404
        assert "graphiql" not in r.text.lower()


async def test_errors_raised_by_extension_hooks_are_masked_too(tenant, monkeypatch, caplog):
    """An exception raised while an extension is entered skips every on_operation exit;
    the HTTP view's last gate must still mask it."""
    from meterbill.graphql.auth import ScopeCheck

    def broken(self):  # type: ignore[no-untyped-def]
        raise RuntimeError(f"redis://:{SECRET}@10.0.0.1 refused")

    monkeypatch.setattr(ScopeCheck, "_check", broken)
    with caplog.at_level(logging.ERROR, logger="meterbill"):
        body = await tenant.gql("{ apiKeys { id } }")
    assert _codes(body) == ["INTERNAL"]
    assert body["errors"][0]["message"] == "Internal error."
    assert SECRET not in str(body)
    assert any(SECRET in str(r.exc_info) for r in caplog.records)


async def test_scalar_parse_errors_are_the_callers_mistake(tenant):
    """Found by the fuzzer: a bad Decimal literal was reported as INTERNAL."""
    doc = (
        "mutation($p: ID!, $d: Decimal) { createPrice(input: {productId: $p, currency: "
        '"usd", unitAmountDecimal: $d, recurring: {interval: MONTH}}) { price { id } } }'
    )
    for bad in ("", "abc", "NaN", "Infinity", True, [1]):
        body = await tenant.gql(doc, {"p": "prod_x", "d": bad})
        assert _codes(body) == ["BAD_USER_INPUT"], (bad, body)
    literal = (
        'mutation { createPrice(input: {productId: "prod_x", currency: "usd", '
        'unitAmountDecimal: "x1", recurring: {interval: MONTH}}) { price { id } } }'
    )
    body = await tenant.gql(literal)
    assert _codes(body) == ["BAD_USER_INPUT"], body
    assert "decimal" in body["errors"][0]["message"].lower()
    big = literal.replace('unitAmountDecimal: "x1"', 'unitAmount: "12a"')
    assert _codes(await tenant.gql(big)) == ["BAD_USER_INPUT"]


async def test_nul_characters_are_refused_before_any_resolver(tenant):
    """Found by the fuzzer on PostgreSQL: U+0000 in a string reached the database."""
    from meterbill.db.models import Product

    bodies = [
        await tenant.gql('{ meter(id: "\\u0000") { id } }'),
        await tenant.gql("query($id: ID!) { meter(id: $id) { id } }", {"id": "mtr_\x00"}),
        await tenant.gql(
            "mutation($n: String!) { createProduct(input: {name: $n}) { product { id } } }",
            {"n": "a\x00b"},
        ),
    ]
    for body in bodies:
        assert _codes(body) == ["BAD_USER_INPUT"], body
        assert "U+0000" in body["errors"][0]["message"]
    assert await Product.filter(account_id=tenant.account_id).count() == 0
