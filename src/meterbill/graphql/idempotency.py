"""The Idempotency-Key header on mutations, for every mutation at once (see
services/idempotency.py for the rules). Runs after ScopeCheck, so a refused request never
takes a key, and after validation, so an invalid document never does either."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from meterbill.graphql.errors import GqlError
from meterbill.graphql.limits import finish_errors
from meterbill.services import idempotency as idem

HEADER = "idempotency-key"
REPLAYED_HEADER = "Idempotent-Replayed"


def _stored(result: Any) -> dict[str, Any] | None:
    """The response to keep, or None when the request had no outcome (retry may run)."""
    data = getattr(result, "data", None)
    if not isinstance(data, dict) or not data or any(v is None for v in data.values()):
        return None
    errors = finish_errors(list(result.errors or [])) or []
    # A secret (createApiKey, createWebhookEndpoint) is shown once: kept only as its hash
    # or encrypted form, never in a stored response; a replay answers it null.
    kept = {k: _without_secret(v) for k, v in data.items()}
    return {"data": kept, "errors": [e.formatted for e in errors]}


def _without_secret(payload: Any) -> Any:
    if isinstance(payload, dict) and payload.get("secret") is not None:
        return {**payload, "secret": None}
    return payload


def _replayed(stored: dict[str, Any]) -> GraphQLExecutionResult:
    errors = [
        GraphQLError(e["message"], path=e.get("path"), extensions=e.get("extensions"))
        for e in stored.get("errors") or []
    ]
    return GraphQLExecutionResult(data=stored["data"], errors=errors or None)


class Idempotency(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:  # type: ignore[override]
        ctx = self.execution_context
        request = getattr(ctx.context, "request", None)
        key = request.headers.get(HEADER) if request is not None else None
        if key is None or ctx.result is not None or ctx.operation_type != OperationType.MUTATION:
            yield
            return
        claim: idem.Claim | None = None
        problem = idem.check_key(key)
        if problem:
            ctx.result = GraphQLExecutionResult(
                data=None, errors=[GqlError("BAD_USER_INPUT", problem)]
            )
        else:
            fp = idem.fingerprint(ctx.query, ctx.variables, ctx.operation_name)
            try:
                claim = await idem.claim(ctx.context.account_id, key, fp)
            except idem.KeyConflict as exc:
                ctx.result = GraphQLExecutionResult(
                    data=None, errors=[GqlError(exc.code, exc.message)]
                )
            else:
                if not claim.run:
                    ctx.result = _replayed(claim.response or {"data": None})
                    response = getattr(ctx.context, "response", None)
                    if response is not None:
                        response.headers[REPLAYED_HEADER] = "true"
        if claim is None or not claim.run:
            yield
            return
        assert claim.row_id is not None
        try:
            yield
        except BaseException:
            await idem.release(claim.row_id)
            raise
        stored = _stored(ctx.result)
        if stored is None:
            await idem.release(claim.row_id)
        else:
            await idem.complete(claim.row_id, stored)
