"""Tells the request log and metrics which operation ran: its type and root fields (names
from the schema, so bounded), and the client's operation name (truncated)."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import FragmentDefinitionNode, OperationDefinitionNode
from strawberry.extensions import SchemaExtension

from meterbill.graphql.auth import _root_fields
from meterbill.web.observability import note

MAX_FIELDS_IN_LABEL = 3


class OperationInfo(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        doc = ctx.graphql_document
        ops = [
            d for d in (doc.definitions if doc else ()) if isinstance(d, OperationDefinitionNode)
        ]
        if ctx.operation_name:
            ops = [o for o in ops if o.name and o.name.value == ctx.operation_name]
        if ops and doc is not None:
            fragments = {
                d.name.value: d.selection_set
                for d in doc.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            fields = sorted(set(_root_fields(ops[0].selection_set, fragments)))
            label = ",".join(fields) if len(fields) <= MAX_FIELDS_IN_LABEL else "multiple"
            note(
                operation_type=ops[0].operation.value,
                operation=label,
                operation_name=(ctx.operation_name or "")[:100] or None,
            )
        yield
