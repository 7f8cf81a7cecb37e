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


class ErrorCodes(SchemaExtension):
    """Every error carries extensions.code; internal ones are logged here, then masked."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        for error in getattr(result, "errors", None) or []:
            ext = error.extensions if error.extensions is not None else {}
            if "code" in ext:
                continue
            if _is_internal(error):
                log.error("internal error at %s", error.path, exc_info=error.original_error)
                ext["code"] = "INTERNAL"
            elif any(s in error.message for s in _TOO_COMPLEX):
                ext["code"] = "QUERY_TOO_COMPLEX"
            else:
                ext["code"] = "BAD_USER_INPUT"
            error.extensions = ext


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
        lambda: _Mask(should_mask_error=_is_internal, error_message="Internal error."),
        ErrorCodes,
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: AddValidationRules(list(_RULES)),
    ]
