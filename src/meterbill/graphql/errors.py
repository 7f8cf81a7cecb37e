"""The single place that maps domain errors to userErrors and GraphQL errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry
from graphql import GraphQLError

from meterbill.billing.errors import BadUserInput, DomainError, FieldError
from meterbill.graphql.enums import UserErrorCode

T = TypeVar("T")


@strawberry.type
class UserError:
    field: list[str] | None = strawberry.field(
        description='Path to the offending input field, e.g. ["input", "tiers", "1", "upTo"].'
    )
    code: UserErrorCode
    message: str


def user_error(e: FieldError) -> UserError:
    return UserError(
        field=list(e.field) if e.field else None, code=UserErrorCode(e.code), message=e.message
    )


def user_errors(exc: DomainError) -> list[UserError]:
    return [user_error(e) for e in exc.errors]


class GqlError(GraphQLError):
    def __init__(self, code: str, message: str, **extra: Any):
        super().__init__(message, extensions={"code": code, **extra})


def bad_input(message: str, field: tuple[str, ...] = ()) -> GqlError:
    return GqlError("BAD_USER_INPUT", message, **({"field": list(field)} if field else {}))


async def mutate(
    call: Awaitable[T], ok: Callable[[T], Any], fail: Callable[[list[UserError]], Any]
) -> Any:
    """Run a service call for a mutation: a DomainError becomes userErrors."""
    try:
        result = await call
    except DomainError as exc:
        return fail(user_errors(exc))
    except BadUserInput as exc:
        raise bad_input(exc.message, exc.field) from exc
    return ok(result)


async def query(call: Awaitable[T]) -> T:
    """Run a service call for a query: caller mistakes become BAD_USER_INPUT."""
    try:
        return await call
    except BadUserInput as exc:
        raise bad_input(exc.message, exc.field) from exc
    except DomainError as exc:
        first = exc.errors[0]
        raise bad_input(exc.args[0] if exc.args else first.message, first.field or ()) from exc
