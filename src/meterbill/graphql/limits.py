"""Limits on documents and the shaping of errors that leave the API.

Extensions are built per request (an instance shared by concurrent requests would see
another request's execution context), but the validation rule classes are built once:
the validation cache is keyed by them, so new rule classes per request would miss it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)

log = logging.getLogger("meterbill.graphql")

MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_TOKENS = 5000
_TOO_COMPLEX = (
    "exceeds maximum operation depth",
    "aliases found",
    "token limit",
    "Document contains more than",
)


def _is_internal(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


INTERNAL_MESSAGE = "Internal error."


def finish_error(error: GraphQLError) -> GraphQLError:
    """The error as it may leave the API: with extensions.code, and masked when internal
    (logged here first). Errors that already carry a code pass unchanged."""
    ext = error.extensions if error.extensions is not None else {}
    if "code" in ext:
        return error
    if _is_internal(error):
        log.error("internal error at %s", error.path, exc_info=error.original_error)
        return GraphQLError(
            INTERNAL_MESSAGE,
            nodes=error.nodes,
            path=error.path,
            extensions={"code": "INTERNAL"},
        )
    ext["code"] = (
        "QUERY_TOO_COMPLEX" if any(s in error.message for s in _TOO_COMPLEX) else "BAD_USER_INPUT"
    )
    error.extensions = ext
    return error


def finish_errors(errors: list[GraphQLError] | None) -> list[GraphQLError] | None:
    return [finish_error(e) for e in errors] if errors else errors


class ErrorCodes(SchemaExtension):
    """Every error carries extensions.code; internal ones are logged here, then masked.

    Errors raised while an extension hook is entered (a syntax error under ParserCache, a
    failing extension) bypass every extension's on_operation: the HTTP view applies
    finish_errors() again to whatever it sends (graphql/http.py)."""

    def on_operation(self) -> Iterator[None]:
        yield
        errors = getattr(self.execution_context.result, "errors", None) or []
        for error in errors:
            # Internal errors keep their original here: _Mask (which exits after) masks them.
            if "code" not in (error.extensions or {}) and _is_internal(error):
                log.error("internal error at %s", error.path, exc_info=error.original_error)
                error.extensions = {**(error.extensions or {}), "code": "INTERNAL"}
            else:
                finish_error(error)


class _Mask(MaskErrors):
    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL"}
        return masked


_RULES = (
    *QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
    *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
)


def extensions() -> list[Callable[[], SchemaExtension]]:
    # Order matters for on_operation exits (reverse order): codes are set before masking.
    return [
        lambda: _Mask(should_mask_error=_is_internal, error_message=INTERNAL_MESSAGE),
        ErrorCodes,
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: AddValidationRules(list(_RULES)),
    ]
