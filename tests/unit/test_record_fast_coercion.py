"""record_fast's own coercion of MeterEventInput agrees with graphql-core's wherever it
answers, and declines (None) whatever graphql-core would refuse."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import Undefined, parse
from graphql.utilities import coerce_input_value, type_from_ast

from meterbill.graphql.record_fast import Coercer
from meterbill.graphql.schema import build_schema

OK = {"eventName": "t", "payload": {"customer_id": "c", "value": "1"}}
VARIANTS: list[Any] = [
    OK,
    {**OK, "identifier": "id-1", "timestamp": "2026-01-02T03:04:05.123456Z"},
    {**OK, "identifier": None, "timestamp": None},
    {**OK, "timestamp": "2026-01-02T03:04:05+02:00"},
    {**OK, "payload": []},
    {**OK, "payload": 0},
    {**OK, "timestamp": "2026-01-02T03:04:05"},  # no offset: refused
    {**OK, "timestamp": 5},
    {**OK, "identifier": 5},
    {**OK, "eventName": None},
    {**OK, "eventName": 1},
    {**OK, "payload": None},
    {"eventName": "t"},
    {**OK, "extra": 1},
    None,
    "x",
]


@pytest.mark.parametrize("item", VARIANTS)
def test_agrees_with_graphql_core(item):
    schema = build_schema()._schema
    doc = parse("mutation($i: [MeterEventInput!]!) { recordMeterEvents(input: $i) { accepted } }")
    var_type = type_from_ast(schema, doc.definitions[0].variable_definitions[0].type)
    coercer = Coercer(schema)
    assert coercer.usable
    reference = coerce_input_value([item], var_type)
    ours = coercer.events([item])
    if reference is Undefined:
        assert ours is None
    else:
        assert ours is not None  # every valid variant here has the plain shape
        [v] = reference
        [e] = ours
        assert (e.event_name, e.payload, e.identifier, e.timestamp) == (
            v["eventName"],
            v["payload"],
            v.get("identifier"),
            v.get("timestamp"),
        )
