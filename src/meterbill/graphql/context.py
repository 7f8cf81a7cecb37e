"""Per-request context: who calls, and the request's dataloaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import HTTPConnection
from starlette.responses import Response
from strawberry.types import Info as _Info

from meterbill.services.accounts import Principal


@dataclass
class Context:
    request: HTTPConnection | None
    response: Response | None
    principal: Principal | None
    # Loaders are created lazily per request (see graphql/loaders.py) so a batch never
    # leaks across requests or accounts.
    loaders: dict[str, Any] = field(default_factory=dict)
    # Set when the caller's key is over its rate limit: the request is refused (graphql/http.py).
    retry_after: int | None = None
    # ... because its address spent its budget of failed authentications (no key was looked up).
    auth_refused: bool = False
    # Set when the database could not be asked who the caller is: answered with 503.
    unavailable: bool = False
    # Secrets this request hands out (createApiKey): never kept outside their hash, so a
    # stored response for an Idempotency-Key has them as null (graphql/idempotency.py).
    issued_secrets: list[str] = field(default_factory=list)
    # A WebSocket connection's connection_init payload (graphql-transport-ws), which
    # carries its key: browsers cannot set headers on a WebSocket.
    connection_params: dict[str, Any] | None = None

    @property
    def account_id(self) -> str:
        # The auth extension has already refused any operation without a principal.
        assert self.principal is not None
        return self.principal.account_id


Info = _Info[Context, None]
