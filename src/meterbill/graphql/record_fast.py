"""recordMeterEvent(s) without strawberry's per-request machinery, for the plain documents
integrations send. With the event path itself cheap (services/usage/single.py), extension
hooks, graphql-core's executor and strawberry's argument/result conversion were about half
of the API's CPU per single event; for a 1000-event batch, strawberry's argument conversion
and the per-event results (built even when not selected) were ~20%.

A document gets a plan once (cached by its text) only if it passes the same parse limits
and validation rules as the general path and has the simplest shape: one mutation whose
only root field is recordMeterEvent(s)(input: $variable), selecting plain fields (aliases and
__typename allowed; no fragments, directives or repeated response keys). A request takes
the plan only when nothing else applies to it either: POST, no Idempotency-Key header, no
NUL in its variables, its variables coerce without error, and its key may record events.
Anything else returns None and the general path answers, with its own errors. The
resolver, its payload object and the leaf serializers are the schema's own; the result
goes through the same error shaping (codes, masking, 503 when the database is down)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, cast

import orjson
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLError,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    OperationDefinitionNode,
    OperationType,
    Undefined,
    VariableNode,
    located_error,
    parse,
    specified_rules,
    visit,
)
from graphql.type import is_input_type, is_leaf_type
from graphql.utilities import coerce_input_value, type_from_ast
from strawberry.schema.schema import validate_document

from meterbill.graphql import usage as gql_usage
from meterbill.graphql.auth import allowed
from meterbill.graphql.idempotency import HEADER as IDEMPOTENCY_HEADER
from meterbill.graphql.limits import (
    _RULES,
    MAX_TOKENS,
    _has_nul,
    _is_unavailable,
    _StringValues,
    finish_error,
    unavailable,
)
from meterbill.services import usage
from meterbill.web.observability import note

ROOT_FIELDS = ("recordMeterEvent", "recordMeterEvents")
MAX_PLANS = 256


@dataclass(frozen=True)
class Selection:
    key: str  # response key: the alias or the field name
    name: str  # schema field name
    python_name: str
    type: GraphQLOutputType
    sub: tuple[Selection, ...] | None  # for object fields


@dataclass(frozen=True)
class Plan:
    operation: OperationDefinitionNode
    field: FieldNode
    root: str  # one of ROOT_FIELDS
    variable: str
    variable_type: GraphQLInputType
    selection: tuple[Selection, ...]
    payload_type: GraphQLObjectType


class _NoPlan(Exception):
    pass


def _python_names(schema: Any, type_name: str) -> dict[str, str]:
    """graphql field name -> attribute of the strawberry object."""
    definition = schema.get_type_by_name(type_name)
    convert = schema.config.name_converter.get_graphql_name
    return {convert(f): f.python_name for f in definition.fields}


def _selections(schema: Any, parent: GraphQLObjectType, node: FieldNode) -> tuple[Selection, ...]:
    if node.selection_set is None:
        raise _NoPlan
    names = _python_names(schema, parent.name)
    out: list[Selection] = []
    seen: set[str] = set()
    for sel in node.selection_set.selections:
        if not isinstance(sel, FieldNode) or sel.directives or sel.arguments:
            raise _NoPlan
        key = sel.alias.value if sel.alias else sel.name.value
        if key in seen:
            raise _NoPlan  # graphql merges repeated keys; the general path does that
        seen.add(key)
        name = sel.name.value
        if name == "__typename":
            out.append(Selection(key, name, "", parent, None))
            continue
        field_type = parent.fields[name].type
        inner = field_type
        while isinstance(inner, GraphQLNonNull | GraphQLList):
            inner = inner.of_type
        sub = None
        if isinstance(inner, GraphQLObjectType):
            sub = _selections(schema, inner, sel)
        elif not is_leaf_type(inner):
            raise _NoPlan
        out.append(Selection(key, name, names[name], field_type, sub))
    return tuple(out)


def build_plan(schema: Any, query: str) -> Plan | None:
    """A plan for `query`, or None when the general path must run it."""
    try:
        doc: DocumentNode = parse(query, max_tokens=MAX_TOKENS)
    except GraphQLError:
        return None
    gql_schema = schema._schema
    # The rules the general path runs: graphql's, ours (limits.py), strawberry's own.
    if validate_document(gql_schema, doc, (*specified_rules, *_RULES)):
        return None
    nul = _StringValues()
    visit(doc, nul)
    if nul.nul or len(doc.definitions) != 1:
        return None
    op = doc.definitions[0]
    if (
        not isinstance(op, OperationDefinitionNode)
        or op.operation != OperationType.MUTATION
        or op.directives
        or len(op.selection_set.selections) != 1
    ):
        return None
    field = op.selection_set.selections[0]
    if not isinstance(field, FieldNode) or field.name.value not in ROOT_FIELDS or field.directives:
        return None
    root = field.name.value
    args = field.arguments or ()
    if len(args) != 1 or not isinstance(args[0].value, VariableNode):
        return None
    variable = args[0].value.name.value
    defs = [d for d in op.variable_definitions or () if d.variable.name.value == variable]
    variable_type = type_from_ast(gql_schema, defs[0].type) if len(defs) == 1 else None
    if not is_input_type(variable_type):
        return None
    mutation = gql_schema.mutation_type
    assert mutation is not None
    payload = mutation.fields[root].type
    while isinstance(payload, GraphQLNonNull):
        payload = payload.of_type
    if not isinstance(payload, GraphQLObjectType):
        return None
    try:
        selection = _selections(schema, payload, field)
    except _NoPlan:
        return None
    return Plan(
        op, field, root, variable, cast(GraphQLInputType, variable_type), selection, payload
    )


class Coercer:
    """MeterEventInput values as EventInputs in one tight loop, for inputs of the plain
    shape JSON gives (dicts of the four fields, strings and a JSON payload), calling the
    schema's own scalar coercions. None for anything else: graphql-core's coercion (and
    after it the general path's errors) decides those."""

    FIELDS = frozenset({"eventName", "payload", "identifier", "timestamp"})

    def __init__(self, gql_schema: Any) -> None:
        t = gql_schema.get_type("MeterEventInput")
        expected = {
            "eventName": "String!",
            "payload": "JSON!",
            "identifier": "String",
            "timestamp": "DateTime",
        }
        fields = getattr(t, "fields", {})
        self.usable = {n: str(f.type) for n, f in fields.items()} == expected and all(
            fields[n].default_value in (None, Undefined) for n in ("identifier", "timestamp")
        )
        self.string = gql_schema.get_type("String").coerce_input_value
        self.json = gql_schema.get_type("JSON").coerce_input_value
        self.datetime = gql_schema.get_type("DateTime").coerce_input_value

    def events(self, items: list[Any]) -> list[usage.EventInput] | None:
        out = []
        string, json, datetime, fields = self.string, self.json, self.datetime, self.FIELDS
        # A batch's events often share a timestamp: each distinct text is parsed once (the
        # parsed value is an immutable datetime).
        stamps: dict[str, Any] = {}
        try:
            for v in items:
                if type(v) is not dict or not v.keys() <= fields:
                    return None
                name, payload = v.get("eventName"), v.get("payload")
                ident, ts = v.get("identifier"), v.get("timestamp")
                if name is None or payload is None:
                    return None
                if ts is not None:
                    if type(ts) is str:
                        parsed = stamps.get(ts)
                        if parsed is None:
                            parsed = stamps[ts] = datetime(ts)
                        ts = parsed
                    else:
                        ts = datetime(ts)
                out.append(
                    usage.EventInput(
                        event_name=string(name),
                        payload=json(payload),
                        identifier=None if ident is None else string(ident),
                        timestamp=ts,
                    )
                )
        except Exception:  # noqa: BLE001 - a scalar refused it: graphql-core's turn
            return None
        return out


def _coerce(coercer: Coercer, raw: Any, plan: Plan) -> list[usage.EventInput] | None:
    """The events of the input variable, or None (the general path answers)."""
    many = plan.root == "recordMeterEvents"
    exact = "[MeterEventInput!]!" if many else "MeterEventInput!"
    if coercer.usable and str(plan.variable_type) == exact:
        shaped = raw if many else [raw]
        if type(shaped) is list:
            fast = coercer.events(shaped)
            if fast is not None:
                return fast
    # What graphql-core's variable coercion ends with, minus its error-reporting pass and
    # depth check (these types nest 3 deep): Undefined when anything is wrong, and then the
    # general path says what.
    value = coerce_input_value(raw, plan.variable_type)
    if value is Undefined:
        return None
    if not many:
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        return None
    # The scalars (String, JSON, DateTime) have parsed these already, as for the resolver.
    return [
        usage.EventInput(
            event_name=v["eventName"],
            payload=v["payload"],
            identifier=v.get("identifier"),
            timestamp=v.get("timestamp"),
        )
        for v in value
    ]


def _any_nul(raw: Any) -> bool:
    """limits._has_nul's answer: for a batch, one orjson.dumps (which writes NUL as \\u0000
    whether in a key or a value) instead of a Python call per value, ~8x cheaper. The text
    also appears for an escaped backslash before "u0000", and orjson refuses some values
    (ints past 64 bits, deep nesting): _has_nul decides those."""
    try:
        text = orjson.dumps(raw)
    except (orjson.JSONEncodeError, TypeError):
        return _has_nul(raw)
    return b"\\u0000" in text and _has_nul(raw)


class Plans:
    """Plans by document text (None remembered too: such documents go the general way)."""

    def __init__(self, schema: Any) -> None:
        self.schema = schema
        self.coercer = Coercer(schema._schema)
        self.plans: OrderedDict[str, Plan | None] = OrderedDict()

    def get(self, query: str) -> Plan | None:
        if query in self.plans:
            self.plans.move_to_end(query)
            return self.plans[query]
        plan = build_plan(self.schema, query)
        self.plans[query] = plan
        if len(self.plans) > MAX_PLANS:
            self.plans.popitem(last=False)
        return plan


def _complete(value: Any, type_: GraphQLOutputType, sub: tuple[Selection, ...] | None) -> Any:
    if isinstance(type_, GraphQLNonNull):
        if value is None:
            raise TypeError("a non-null field resolved to null")
        return _complete(value, type_.of_type, sub)
    if value is None:
        return None
    if isinstance(type_, GraphQLList):
        return [_complete(v, type_.of_type, sub) for v in value]
    if isinstance(type_, GraphQLObjectType):
        assert sub is not None
        return _object(value, type_, sub)
    serialized = type_.serialize(value)  # type: ignore[union-attr]
    if serialized is None:
        raise TypeError(f"{type_} cannot represent {value!r}")
    return serialized


def _object(obj: Any, type_: GraphQLObjectType, sub: tuple[Selection, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for s in sub:
        if s.name == "__typename":
            out[s.key] = type_.name
        else:
            out[s.key] = _complete(getattr(obj, s.python_name), s.type, s.sub)
    return out


async def execute(
    plans: Plans, request: Any, request_data: Any, context: Any
) -> ExecutionResult | None:
    """The answer to this request by its plan, or None (the general path answers)."""
    query = request_data.query
    if not isinstance(query, str) or request.headers.get(IDEMPOTENCY_HEADER) is not None:
        return None
    plan = plans.get(query)
    principal = context.principal
    if plan is None or principal is None:
        return None
    root = plan.root
    if not allowed(principal.scopes, "mutation", root):
        return None
    name = plan.operation.name.value if plan.operation.name else None
    wanted = request_data.operation_name
    if wanted is not None and wanted != name:
        return None
    raw = request_data.variables or {}
    try:
        if not isinstance(raw, dict) or _any_nul(raw):
            return None
    except RecursionError:
        return None  # whatever the general path makes of it
    if plan.variable not in raw:
        return None  # a default value, or the general path's error
    inputs = _coerce(plans.coercer, raw[plan.variable], plan)
    if inputs is None:
        return None
    note(
        operation_type="mutation",
        operation=root,
        operation_name=((wanted or name) or "")[:100] or None,
    )
    key = plan.field.alias.value if plan.field.alias else root
    try:
        if root == "recordMeterEvent":
            payload: Any = await gql_usage.record_one(context.account_id, inputs[0])
        else:
            payload = await gql_usage.record_many(context.account_id, inputs)
        data = {key: _object(payload, plan.payload_type, plan.selection)}
    except Exception as exc:  # noqa: BLE001 - shaped as graphql-core + ErrorCodes would
        error = located_error(exc, [plan.field], [key])
        coded = "code" in (error.extensions or {})
        if not coded and _is_unavailable(error.original_error):
            error = unavailable(error)
        else:
            error = finish_error(error)
        return ExecutionResult(data=None, errors=[error])
    return ExecutionResult(data=data, errors=None)
