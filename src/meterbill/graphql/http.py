"""The /graphql endpoint: strawberry's ASGI app with our context."""

from __future__ import annotations

import json
from typing import Any

import orjson
from starlette.requests import Request
from strawberry.asgi import GraphQL

from meterbill.config import Settings
from meterbill.graphql.context import Context
from meterbill.graphql.schema import build_schema
from meterbill.services.accounts import authenticate


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class GraphQLApp(GraphQL[Context, None]):
    # orjson: a 1000-event recordMeterEvents body decodes in 0.36 ms instead of 0.68 ms.
    # It refuses integers beyond 64 bits, which json (and so the API before it) accepts:
    # those fall back, and validation answers for them as before.
    def decode_json(self, data: str | bytes) -> object:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            return json.loads(data)

    def encode_json(self, data: object) -> str | bytes:
        try:
            return orjson.dumps(data)
        except TypeError:
            return json.dumps(data, separators=(",", ":"))

    async def get_context(self, request: Any, response: Any) -> Context:
        secret = bearer(request)
        principal = await authenticate(secret) if secret else None
        return Context(request=request, response=response, principal=principal)


def graphql_app(settings: Settings) -> GraphQLApp:
    return GraphQLApp(
        build_schema(introspection=settings.introspection),
        graphql_ide="graphiql" if settings.graphiql_enabled else None,
    )
