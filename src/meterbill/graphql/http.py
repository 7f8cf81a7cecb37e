"""The /graphql endpoint: strawberry's ASGI app with our context."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, process_result
from strawberry.types import ExecutionResult

from meterbill.config import Settings
from meterbill.graphql.context import Context
from meterbill.graphql.limits import finish_errors
from meterbill.graphql.schema import build_schema
from meterbill.services.accounts import authenticate


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class GraphQLApp(GraphQL[Context, None]):
    async def get_context(self, request: Any, response: Any) -> Context:
        secret = bearer(request)
        principal = await authenticate(secret) if secret else None
        return Context(request=request, response=response, principal=principal)

    async def process_result(self, request: Any, result: ExecutionResult) -> GraphQLHTTPResponse:
        # The last gate before the wire: code and mask whatever the extensions did not see.
        result.errors = finish_errors(result.errors)
        return process_result(result)


def graphql_app(settings: Settings) -> GraphQLApp:
    return GraphQLApp(
        build_schema(introspection=settings.introspection),
        graphql_ide="graphiql" if settings.graphiql_enabled else None,
    )
