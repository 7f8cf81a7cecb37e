"""The Idempotency-Key header on mutations, for every mutation at once (see
services/idempotency.py for the rules). Runs after ScopeCheck, so a refused request never
takes a key, and after validation, so an invalid document never does either."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError, SourceLocation
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from meterbill.graphql.errors import GqlError
from meterbill.graphql.limits import (
    INTERNAL_MESSAGE,
    _is_internal,
    _is_unavailable,
    finish_error,
    unavailable,
)
from meterbill.services import idempotency as idem

HEADER = "idempotency-key"
REPLAYED_HEADER = "Idempotent-Replayed"


def _stored(result: Any, issued: list[str]) -> dict[str, Any] | None:
    """The response to keep: whatever it was once execution started (Stripe's rule: a
    mutation may have had effects, INTERNAL included), with the secrets it handed out
    as null. None when execution never started (variables refused before it) or when the
    database answered none of the root fields: the key stays free for the retry."""
    data = getattr(result, "data", None)
    errors = list(getattr(result, "errors", None) or [])
    if data is None and not any(e.path for e in errors):
        return None
    if (
        errors
        and not any(v is not None for v in (data or {}).values())
        and all(_is_unavailable(e.original_error) for e in errors)
    ):
        return None
    kept = _without(data, issued)
    if isinstance(kept, dict):
        # By response key too (createWebhookEndpoint): a secret is shown once, kept only as
        # its hash or encrypted form; a replay answers it null.
        kept = {k: _without_secret(v) for k, v in kept.items()}
    return {"data": kept, "errors": [_as_sent(e).formatted for e in errors]}


def _as_sent(error: GraphQLError) -> GraphQLError:
    # What ErrorCodes and the mask make of it on the way out (without logging it twice).
    if "code" in (error.extensions or {}):
        return error
    if _is_unavailable(error.original_error):
        return unavailable(error)
    if _is_internal(error):
        return GraphQLError(
            INTERNAL_MESSAGE, nodes=error.nodes, path=error.path, extensions={"code": "INTERNAL"}
        )
    return finish_error(error)


def _without(value: Any, secrets: list[str]) -> Any:
    if not secrets:
        return value
    if isinstance(value, dict):
        return {k: _without(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_without(v, secrets) for v in value]
    return None if isinstance(value, str) and value in secrets else value


_CRASHED = {
    "data": None,
    "errors": [{"message": INTERNAL_MESSAGE, "extensions": {"code": "INTERNAL"}}],
}


def _without_secret(payload: Any) -> Any:
    if isinstance(payload, dict) and payload.get("secret") is not None:
        return {**payload, "secret": None}
    return payload


def _replayed(stored: dict[str, Any]) -> GraphQLExecutionResult:
    errors = []
    for e in stored.get("errors") or []:
        error = GraphQLError(e["message"], path=e.get("path"), extensions=e.get("extensions"))
        if e.get("locations"):
            error.locations = [SourceLocation(x["line"], x["column"]) for x in e["locations"]]
        errors.append(error)
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
        except Exception:
            await idem.complete(claim.row_id, _CRASHED)  # it ran: its effects may stand
            raise
        except BaseException:
            await idem.release(claim.row_id)
            raise
        stored = _stored(ctx.result, ctx.context.issued_secrets)
        if stored is None:
            await idem.release(claim.row_id)
        else:
            await idem.complete(claim.row_id, stored)
