"""Tenant isolation, generated from the schema.

Every Query field with an ID argument and every Mutation whose input holds an ID field (at
any depth) is called as account B with one of account A's real ids in that one place (B's
own ids everywhere else). The answer must be the answer for an id that does not exist at
all (null / empty / NOT_FOUND), and A's world must be unchanged afterwards.

Nothing here lists the fields: a field added later is covered the day it is added. If the
test cannot call it — no fixture for the type an ID names, or no valid input — it FAILS
and says what to add (WORLD builders or INPUT_OVERRIDES below)."""

from __future__ import annotations

import copy
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLType,
    get_named_type,
    is_leaf_type,
)

from meterbill.graphql.schema import build_schema

# ID argument / input field names -> the type whose id they hold (xxxId -> Xxx otherwise).
ID_ALIASES = {
    "item": "SubscriptionItem",
    "subscriptionItem": "SubscriptionItem",
    "object": "Customer",  # events(objectId): the customer's customer.created
    "endpoint": "WebhookEndpoint",
    "alert": "BillingAlert",
}

# Values that make an input valid apart from the ID under test, by coordinate. Merged over
# what the generator makes (required fields + every ID field).
INPUT_OVERRIDES: dict[str, dict[str, Any]] = {
    "Mutation.createPrice": {
        "input": {
            "currency": "usd",
            "unitAmount": 100,
            "recurring": {"interval": "MONTH", "usageType": "METERED"},
        }
    },
    "Mutation.attachPaymentMethod": {"input": {"paymentMethod": "pm_card_visa"}},
    "Mutation.updateMeter": {"input": {"displayName": "renamed by another account"}},
}

CLOCK_TIME = datetime(2026, 1, 1, tzinfo=UTC)
_DAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
SCALARS: dict[str, Any] = {
    "String": "x",
    "Int": 1,
    "BigInt": 100,
    "Float": 1.0,
    "Boolean": False,
    "Decimal": "1",
    "JSON": {},
    "DateTime": (_DAY + timedelta(days=1)).isoformat(),
}
BY_NAME: dict[str, Any] = {
    "startTime": (_DAY - timedelta(days=1)).isoformat(),
    "endTime": _DAY.isoformat(),
    "currency": "usd",
    "email": "x@example.com",
    "paymentMethod": "pm_card_visa",
}


# ------------------------------------------------------------------ the fixture worlds


async def _one(tenant: Any, query: str, variables: dict[str, Any], path: str) -> Any:
    data = await tenant.data(query, variables)
    payload = data[path]
    assert not payload.get("userErrors"), payload
    return payload


async def build_world(tenant: Any, mutations: set[str]) -> dict[str, str]:
    """One of everything, in `tenant`'s account: type name -> id."""
    w: dict[str, str] = {}
    tag = "iso" + secrets.token_hex(4)
    if "createTestClock" in mutations:
        p = await _one(
            tenant,
            'mutation($t: DateTime!) { createTestClock(input: {frozenTime: $t, name: "c"}) '
            "{ testClock { id } userErrors { code message } } }",
            {"t": CLOCK_TIME.isoformat()},
            "createTestClock",
        )
        w["TestClock"] = p["testClock"]["id"]
    else:
        from meterbill.db.models import TestClock

        w["TestClock"] = (
            await TestClock.create(account_id=tenant.account_id, frozen_time=CLOCK_TIME)
        ).id
    p = await _one(
        tenant,
        "mutation($e: String!) { createMeter(input: {displayName: $e, eventName: $e, "
        "aggregation: SUM}) { meter { id } userErrors { code message } } }",
        {"e": tag},
        "createMeter",
    )
    w["Meter"] = p["meter"]["id"]
    p = await _one(
        tenant,
        'mutation { createProduct(input: {name: "P"}) { product { id } '
        "userErrors { code message } } }",
        {},
        "createProduct",
    )
    w["Product"] = p["product"]["id"]
    p = await _one(
        tenant,
        'mutation($p: ID!) { createPrice(input: {productId: $p, currency: "usd", '
        "unitAmount: 1000, recurring: {interval: MONTH}}) { price { id } "
        "userErrors { code message } } }",
        {"p": w["Product"]},
        "createPrice",
    )
    w["Price"] = p["price"]["id"]
    p = await _one(
        tenant,
        'mutation { createCustomer(input: {name: "C", paymentMethod: "pm_card_visa"}) '
        "{ customer { id } userErrors { code message } } }",
        {},
        "createCustomer",
    )
    w["Customer"] = p["customer"]["id"]
    p = await _one(
        tenant,
        'mutation { createApiKey(input: {name: "k", scopes: [READ]}) { apiKey { id } '
        "userErrors { code message } } }",
        {},
        "createApiKey",
    )
    w["ApiKey"] = p["apiKey"]["id"]
    if "createWebhookEndpoint" in mutations:
        # A public address no event here subscribes to: nothing is ever sent to it.
        p = await _one(
            tenant,
            'mutation { createWebhookEndpoint(input: {url: "https://93.184.215.14/h", '
            'enabledEvents: ["invoice.voided"]}) { webhookEndpoint { id } '
            "userErrors { code message } } }",
            {},
            "createWebhookEndpoint",
        )
        w["WebhookEndpoint"] = p["webhookEndpoint"]["id"]
        data = await tenant.data(
            "query($o: ID!) { events(objectId: $o) { edges { node { id } } } }",
            {"o": w["Customer"]},
        )
        w["Event"] = data["events"]["edges"][0]["node"]["id"]
    if "createCreditGrant" in mutations:
        p = await _one(
            tenant,
            "mutation($c: ID!) { createCreditGrant(input: {customerId: $c, amount: 500, "
            'currency: "usd"}) { creditGrant { id } userErrors { code message } } }',
            {"c": w["Customer"]},
            "createCreditGrant",
        )
        w["CreditGrant"] = p["creditGrant"]["id"]
    if "createBillingAlert" in mutations:
        p = await _one(
            tenant,
            'mutation($m: ID!, $c: ID!) { createBillingAlert(input: {title: "a", meterId: $m, '
            'customerId: $c, threshold: "1"}) { billingAlert { id } '
            "userErrors { code message } } }",
            {"m": w["Meter"], "c": w["Customer"]},
            "createBillingAlert",
        )
        w["BillingAlert"] = p["billingAlert"]["id"]
    if "createSubscription" in mutations:
        p = await _one(
            tenant,
            "mutation($c: ID!, $p: ID!) { createSubscription(input: {customerId: $c, "
            "items: [{priceId: $p}]}) { subscription { id items { id } latestInvoice { id } } "
            "userErrors { code message } } }",
            {"c": w["Customer"], "p": w["Price"]},
            "createSubscription",
        )
        sub = p["subscription"]
        w["Subscription"] = sub["id"]
        w["SubscriptionItem"] = sub["items"][0]["id"]
        if sub.get("latestInvoice"):
            w["Invoice"] = sub["latestInvoice"]["id"]
    return w


# ------------------------------------------------------------------ schema walking


def _unwrap(t: GraphQLType) -> GraphQLType:
    while isinstance(t, GraphQLNonNull | GraphQLList):
        t = t.of_type
    return t


def _is_id(t: GraphQLType) -> bool:
    named = _unwrap(t)
    return isinstance(named, GraphQLScalarType) and named.name == "ID"


def id_type_for(name: str, owner: str | None) -> str | None:
    if name in ("id", "ids"):
        return owner
    if name.endswith("Id") or name.endswith("Ids"):
        base = name[:-2] if name.endswith("Id") else name[:-3]
        return ID_ALIASES.get(base, base[:1].upper() + base[1:])
    return None


def selection(t: GraphQLType, depth: int = 3) -> str:
    """Every leaf field without required arguments, `depth` levels down."""
    named = get_named_type(t)
    if is_leaf_type(named):
        return ""
    if not isinstance(named, GraphQLObjectType) or depth == 0:
        return "{ __typename }"
    parts = ["__typename"]
    for fname, field in named.fields.items():
        if any(isinstance(a.type, GraphQLNonNull) for a in field.args.values()):
            continue
        if is_leaf_type(get_named_type(field.type)):
            parts.append(fname)
        elif depth > 1:
            parts.append(f"{fname} {selection(field.type, depth - 1)}")
    return "{ " + " ".join(parts) + " }"


def _payload_owner(payload: GraphQLType) -> str | None:
    named = get_named_type(payload)
    if not isinstance(named, GraphQLObjectType):
        return None
    objects = [
        get_named_type(f.type).name
        for n, f in named.fields.items()
        if n != "userErrors" and isinstance(get_named_type(f.type), GraphQLObjectType)
    ]
    return objects[0] if len(objects) == 1 else None


@dataclass
class IdSlot:
    path: tuple[str | int, ...]  # where in the variables the id goes
    type_name: str | None  # the fixture type it names; None = unknown


def _holds_id(t: GraphQLType, seen: frozenset[str] = frozenset()) -> bool:
    named = _unwrap(t)
    if _is_id(named):
        return True
    if isinstance(named, GraphQLInputObjectType) and named.name not in seen:
        return any(_holds_id(f.type, seen | {named.name}) for f in named.fields.values())
    return False


def _value(t: GraphQLInputType, name: str, owner: str | None, path: tuple, slots: list) -> Any:
    nullable = t.of_type if isinstance(t, GraphQLNonNull) else t
    if isinstance(nullable, GraphQLList):
        return [_value(nullable.of_type, name, owner, (*path, 0), slots)]
    if isinstance(nullable, GraphQLInputObjectType):
        out: dict[str, Any] = {}
        for fname, field in nullable.fields.items():
            if _holds_id(field.type) or isinstance(field.type, GraphQLNonNull):
                out[fname] = _value(field.type, fname, owner, (*path, fname), slots)
        return out
    if isinstance(nullable, GraphQLEnumType):
        return next(iter(nullable.values))
    assert isinstance(nullable, GraphQLScalarType)
    if nullable.name == "ID":
        slots.append(IdSlot(path, id_type_for(name, owner)))
        return None  # filled per case
    if name in BY_NAME:
        return BY_NAME[name]
    return SCALARS.get(nullable.name, "x")


def _merge(base: Any, extra: Any) -> Any:
    if isinstance(base, dict) and isinstance(extra, dict):
        return {k: _merge(base.get(k), v) if k in base else v for k, v in {**base, **extra}.items()}
    return extra


@dataclass
class Case:
    coordinate: str  # Query.meter, Mutation.createPrice
    document: str
    variables: dict[str, Any]
    slots: list[IdSlot]
    root: str


def cases(schema: GraphQLSchema) -> Iterator[Case]:
    for kind, root in (("Query", schema.query_type), ("Mutation", schema.mutation_type)):
        if root is None:
            continue
        for fname, field in root.fields.items():
            owner = (
                get_named_type(field.type).name if kind == "Query" else _payload_owner(field.type)
            )
            slots: list[IdSlot] = []
            variables: dict[str, Any] = {}
            for aname, arg in field.args.items():
                if (
                    kind == "Query"
                    and not _holds_id(arg.type)
                    and not isinstance(arg.type, GraphQLNonNull)
                ):
                    continue
                variables[aname] = _value(arg.type, aname, owner, (aname,), slots)
            if not slots:
                continue
            coordinate = f"{kind}.{fname}"
            variables = _merge(variables, INPUT_OVERRIDES.get(coordinate, {}))
            decl = ", ".join(f"${a}: {field.args[a].type}" for a in variables)
            args = ", ".join(f"{a}: ${a}" for a in variables)
            op = "query" if kind == "Query" else "mutation"
            doc = f"{op}({decl}) {{ {fname}({args}) {selection(field.type)} }}"
            yield Case(coordinate, doc, variables, slots, fname)


def _put(variables: dict[str, Any], path: tuple, value: Any) -> None:
    target: Any = variables
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value


def _fill(case: Case, world: dict[str, str], only: IdSlot | None, value: str | None) -> dict:
    variables = copy.deepcopy(case.variables)
    for slot in case.slots:
        _put(variables, slot.path, value if slot is only else world[slot.type_name or ""])
    return variables


# ------------------------------------------------------------------ judging answers


def _normalize(body: dict[str, Any], ids: list[str]) -> str:
    text = json.dumps(body, sort_keys=True)
    for i in ids:
        text = text.replace(i, "<ID>")
    return text


def _reads_as_missing(body: dict[str, Any], root: str) -> str | None:
    """None when the answer says "no such thing"; else why not."""
    errors = body.get("errors") or []
    if errors:
        codes = {e.get("extensions", {}).get("code") for e in errors}
        return None if codes <= {"NOT_FOUND", "BAD_USER_INPUT"} else f"errors {codes}"
    value = (body.get("data") or {}).get(root)
    if value is None or value == []:
        return None
    if isinstance(value, dict):
        if "userErrors" in value:
            codes = {e["code"] for e in value["userErrors"]}
            return None if "NOT_FOUND" in codes else f"userErrors {codes or 'empty: it ran'}"
        if value.get("edges") == []:
            return None
    return "returned data"


async def _snapshot(tenant: Any, schema: GraphQLSchema, world: dict[str, str]) -> dict:
    """Everything A can read about its fixtures, through every single-object query."""
    assert schema.query_type is not None
    snap: dict[str, Any] = {}
    for fname, field in schema.query_type.fields.items():
        type_name = get_named_type(field.type).name
        if set(field.args) == {"id"} and type_name in world:
            doc = f"query($id: ID!) {{ {fname}(id: $id) {selection(field.type)} }}"
            snap[fname] = await tenant.data(doc, {"id": world[type_name]})
    snap["apiKeys"] = await tenant.data("{ apiKeys { id name revokedAt } }")
    return snap


# ------------------------------------------------------------------ the test


async def test_another_accounts_ids_read_as_missing_everywhere(tenant, other_tenant):
    schema = build_schema()._schema
    assert schema.mutation_type is not None
    mutations = set(schema.mutation_type.fields)
    a = await build_world(tenant, mutations)  # the victim
    b = await build_world(other_tenant, mutations)  # the caller
    before = await _snapshot(tenant, schema, a)

    problems: list[str] = []
    checked: list[str] = []
    for case in cases(schema):
        unknown = [s for s in case.slots if s.type_name not in a or s.type_name not in b]
        if unknown:
            for s in unknown:
                problems.append(
                    f"{case.coordinate}: no fixture id for {'.'.join(map(str, s.path))} "
                    f"(type {s.type_name!r}): add a builder for it to build_world() in "
                    "tests/api/test_tenant_isolation.py (or an ID_ALIASES entry)"
                )
            continue
        for slot in case.slots:
            where = f"{case.coordinate}({'.'.join(map(str, slot.path))})"
            foreign = a[slot.type_name or ""]
            missing = foreign.split("_")[0] + "_" + "Z" * 24
            got = await other_tenant.gql(case.document, _fill(case, b, slot, foreign))
            control = await other_tenant.gql(case.document, _fill(case, b, slot, missing))
            why = _reads_as_missing(got, case.root)
            if why:
                problems.append(f"{where}: account A's id is not refused ({why}): {got}")
            elif _normalize(got, [foreign]) != _normalize(control, [missing]):
                problems.append(
                    f"{where}: A's id and a nonexistent id answer differently "
                    f"(if the input is invalid for other reasons, add INPUT_OVERRIDES): "
                    f"{got} vs {control}"
                )
            checked.append(where)

    assert not problems, "\n".join(problems)
    assert await _snapshot(tenant, schema, a) == before, "account B changed account A's data"
    # Every ID-taking field the foundation has is in there (more come with new fields).
    for expected in (
        "Query.meter(id)",
        "Query.customer(id)",
        "Query.product(id)",
        "Query.price(id)",
        "Query.testClock(id)",
        "Mutation.updateMeter(input.id)",
        "Mutation.deactivateMeter(input.id)",
        "Mutation.createPrice(input.productId)",
        "Mutation.createPrice(input.recurring.meterId)",
        "Mutation.createCustomer(input.testClockId)",
        "Mutation.attachPaymentMethod(input.customerId)",
        "Mutation.revokeApiKey(input.id)",
    ):
        assert expected in checked, (expected, checked)


def test_the_generator_finds_new_id_fields():
    """A schema with fields the fixtures know nothing about is reported, not skipped."""
    from graphql import build_schema as from_sdl

    schema = from_sdl(
        """
        type Widget { id: ID! }
        type WidgetPayload { widget: Widget userErrors: [String!]! }
        input PolishInput { id: ID! gadgetId: ID nested: [Part!] }
        input Part { itemId: ID! }
        type Query { widget(id: ID!): Widget meterOf(gadgetId: ID!): Widget plain: Int }
        type Mutation { polish(input: PolishInput!): WidgetPayload! }
        """
    )
    found = {(c.coordinate, s.path, s.type_name) for c in cases(schema) for s in c.slots}
    assert found == {
        ("Query.widget", ("id",), "Widget"),
        ("Query.meterOf", ("gadgetId",), "Gadget"),
        ("Mutation.polish", ("input", "id"), "Widget"),
        ("Mutation.polish", ("input", "gadgetId"), "Gadget"),
        ("Mutation.polish", ("input", "nested", 0, "itemId"), "SubscriptionItem"),
    }
