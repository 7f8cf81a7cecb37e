"""Scope checks for every root field, once per operation (not per resolved field), on the
operation the request chose (several operations need operationName).

ADMIN may do everything; READ may run queries; USAGE_WRITE may only record and cancel
meter events. Checking the operation's root selection covers every field without any
resolver having to remember it."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from strawberry.extensions import SchemaExtension

from meterbill.graphql.errors import GqlError
from meterbill.web.auth import UNAUTHENTICATED_MESSAGE

USAGE_WRITE_FIELDS = frozenset({"recordMeterEvent", "recordMeterEvents", "cancelMeterEvent"})
ADMIN_ONLY_QUERIES = frozenset({"apiKeys"})
PUBLIC_FIELDS = frozenset({"__schema", "__type", "__typename"})


def allowed(scopes: frozenset[str], operation: str, field: str) -> bool:
    if "ADMIN" in scopes:
        return True
    if operation == "mutation":
        return "USAGE_WRITE" in scopes and field in USAGE_WRITE_FIELDS
    return "READ" in scopes and field not in ADMIN_ONLY_QUERIES


def _root_fields(
    selection_set: SelectionSetNode, fragments: dict[str, SelectionSetNode]
) -> Iterator[str]:
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            yield sel.name.value
        elif isinstance(sel, InlineFragmentNode):
            yield from _root_fields(sel.selection_set, fragments)
        elif isinstance(sel, FragmentSpreadNode) and sel.name.value in fragments:
            yield from _root_fields(fragments.pop(sel.name.value), fragments)


class ScopeCheck(SchemaExtension):
    def on_execute(self):  # type: ignore[no-untyped-def]
        ctx = self.execution_context
        error = self._check()
        if error is not None:
            ctx.result = GraphQLExecutionResult(data=None, errors=[error])
        yield

    def _check(self) -> GqlError | None:
        ctx = self.execution_context
        doc = ctx.graphql_document
        if doc is None:
            return None
        ops = [d for d in doc.definitions if isinstance(d, OperationDefinitionNode)]
        # What the request said: ctx.operation_name falls back to the first operation's name.
        wanted = getattr(ctx, "_provided_operation_name", ctx.operation_name)
        if wanted:
            ops = [o for o in ops if o.name and o.name.value == wanted]
        elif len(ops) > 1:
            # The spec's rule (GetOperation): without a name the choice is ambiguous; the
            # executor would run the first, which the client may not have meant.
            return GqlError(
                "BAD_USER_INPUT",
                "operationName is required: the document holds several operations",
            )
        if not ops:
            return None
        op = ops[0]
        fragments = {
            d.name.value: d.selection_set
            for d in doc.definitions
            if isinstance(d, FragmentDefinitionNode)
        }
        fields = [f for f in _root_fields(op.selection_set, fragments) if f not in PUBLIC_FIELDS]
        if not fields:
            return None
        principal = ctx.context.principal
        if principal is None:
            return GqlError("UNAUTHENTICATED", UNAUTHENTICATED_MESSAGE)
        kind = op.operation.value
        denied = [f for f in fields if not allowed(principal.scopes, kind, f)]
        if denied:
            scopes = ", ".join(sorted(principal.scopes))
            return GqlError("FORBIDDEN", f"this key ({scopes}) may not use {', '.join(denied)}")
        return None
