"""Limits on documents and the shaping of errors that leave the API.

Extensions are built per request (an instance shared by concurrent requests would see
another request's execution context), but the validation rule classes are built once:
the validation cache is keyed by them, so new rule classes per request would miss it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import orjson
from graphql import (
    ASTValidationRule,
    FieldNode,
    GraphQLError,
    GraphQLSyntaxError,
    Lexer,
    OperationType,
    StringValueNode,
    TokenKind,
    ValidationContext,
    Visitor,
    visit,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.utilities import get_operation_ast
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

from meterbill.billing.events import strings

log = logging.getLogger("meterbill.graphql")

MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_TOKENS = 5000
TOO_COMPLEX = "QUERY_TOO_COMPLEX"


# graphql-core's messages for a value that a scalar refused to parse (a literal or a
# variable): the scalar's ValueError rides along as original_error, but it is the caller's
# mistake, not ours.
_COERCION = ("Expected value of type", "Variable '$")


def _is_internal(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return False
    # Resolver failures always have a path; coercion failures happen before execution.
    return error.path is not None or not error.message.startswith(_COERCION)


INTERNAL_MESSAGE = "Internal error."
UNAVAILABLE_MESSAGE = "the service is temporarily unavailable; retry shortly"


def _is_unavailable(exc: BaseException | None) -> bool:
    """The database (or another backing service) did not answer: not a bug, a 503."""
    from asyncpg.exceptions import (
        AdminShutdownError,
        CannotConnectNowError,
        CrashShutdownError,
        InterfaceError,
        InternalClientError,
        PostgresConnectionError,
    )
    from tortoise.exceptions import DBConnectionError

    # A server restarting: shutting down (57P01, 57P02) or not yet accepting (57P03); and a
    # pooled connection the shutdown cut mid-operation ("cannot switch to state ...").
    restarting = (
        AdminShutdownError | CrashShutdownError | CannotConnectNowError | InternalClientError
    )
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(
            exc,
            OSError
            | TimeoutError
            | DBConnectionError
            | InterfaceError
            | PostgresConnectionError
            | restarting,
        ):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def unavailable(error: GraphQLError) -> GraphQLError:
    return GraphQLError(
        UNAVAILABLE_MESSAGE, nodes=error.nodes, path=error.path, extensions={"code": "UNAVAILABLE"}
    )


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
    ext["code"] = TOO_COMPLEX if _over_token_limit(error) else "BAD_USER_INPUT"
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
        for i, error in enumerate(errors):
            if "code" not in (error.extensions or {}) and _is_unavailable(error.original_error):
                log.warning(
                    "backing service unavailable at %s: %s",
                    error.path,
                    type(error.original_error).__name__,
                )
                errors[i] = unavailable(error)
                continue
            # Internal errors keep their original here: _Mask (which exits after) masks them.
            if "code" not in (error.extensions or {}) and _is_internal(error):
                log.error("internal error at %s", error.path, exc_info=error.original_error)
                error.extensions = {**(error.extensions or {}), "code": "INTERNAL"}
            else:
                finish_error(error)


def _has_nul(value: object) -> bool:
    return any("\x00" in s for s in strings(value))


def _has_surrogate(value: object) -> bool:
    """A lone surrogate in any string of `value` (only JSON variables can carry one: the
    GraphQL lexer refuses them in documents). orjson refuses to write one, so a value it
    writes has none; the walk decides what orjson refuses for other reasons."""
    try:
        orjson.dumps(value)
        return False
    except (orjson.JSONEncodeError, TypeError):
        return _walk_surrogate(value)


def _walk_surrogate(value: object) -> bool:
    return any(not s.isascii() and _lone_surrogate(s) for s in strings(value))


def _lone_surrogate(s: str) -> bool:
    try:
        s.encode()
    except UnicodeEncodeError:
        return True
    return False


# Their input is validated event by event (services/usage/record.py), which names the field
# holding an unstorable string; other operations are refused as a whole.
_RECORD_FIELDS = frozenset({"recordMeterEvent", "recordMeterEvents"})


def _only_records(ctx: object) -> bool:
    document = getattr(ctx, "graphql_document", None)
    if document is None:
        return False
    op = get_operation_ast(document, getattr(ctx, "operation_name", None))
    return (
        op is not None
        and op.operation == OperationType.MUTATION
        and all(
            isinstance(sel, FieldNode) and sel.name.value in _RECORD_FIELDS
            for sel in op.selection_set.selections
        )
    )


class _StringValues(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.nul = False

    def enter_string_value(self, node: StringValueNode, *_: object) -> None:
        self.nul = self.nul or "\x00" in node.value


class NoNulStrings(SchemaExtension):
    """U+0000 in any string input is refused up front: PostgreSQL text cannot hold it, so
    it would otherwise surface as an internal error deep in a service (found by fuzzing).
    So is a lone surrogate (a JSON \\ud800 escape in the variables), except in
    recordMeterEvent(s), which reject such an event naming its field."""

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        found = _has_nul(ctx.variables or {})
        if not found and ctx.graphql_document is not None:
            visitor = _StringValues()
            visit(ctx.graphql_document, visitor)
            found = visitor.nul
        message = "strings must not contain the NUL character (U+0000)" if found else None
        if message is None and _has_surrogate(ctx.variables or {}) and not _only_records(ctx):
            message = "strings must be valid Unicode text (no lone surrogates)"
        if message is not None:
            ctx.result = GraphQLExecutionResult(
                data=None,
                errors=[GraphQLError(message, extensions={"code": "BAD_USER_INPUT"})],
            )
        yield


class _Mask(MaskErrors):
    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL"}
        return masked


def _over_token_limit(error: GraphQLError) -> bool:
    """A syntax error from a document over MAX_TOKENS: the parser stopped at the limit
    (MaxTokensLimiter), so the document is too complex, whatever the message says. Counted
    again here, on the error path only."""
    if not isinstance(error, GraphQLSyntaxError) or error.source is None:
        return False
    lexer, n = Lexer(error.source), 0
    try:
        while lexer.advance().kind != TokenKind.EOF:
            n += 1
            if n > MAX_TOKENS:
                return True
    except GraphQLError:
        pass  # an invalid character past the limit's reach
    return n > MAX_TOKENS


class _CodingContext:
    """A validation context whose reported errors carry extensions.code."""

    def __init__(self, context: ValidationContext, code: str):
        self._context, self._code = context, code

    def report_error(self, error: GraphQLError) -> None:
        error.extensions = {**(error.extensions or {}), "code": self._code}
        self._context.report_error(error)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


def _coded(rule: type[ASTValidationRule], code: str) -> type[ASTValidationRule]:
    """`rule`, whose errors carry `code` (strawberry's limiters do their work in __init__,
    reporting to the context they are given), instead of matching their message text."""

    class Coded(rule):  # type: ignore[misc,valid-type]
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(_CodingContext(context, code))
            self.context = context

    Coded.__name__ = Coded.__qualname__ = f"Coded{rule.__name__}"
    return Coded


_RULES = tuple(
    _coded(rule, TOO_COMPLEX)
    for rule in (
        *QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
        *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
    )
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
        NoNulStrings,
    ]
