"""The bearer key of a request, and what a request without a valid one is told, the same on
every endpoint (401 with this body and challenge)."""

from __future__ import annotations

from starlette.requests import HTTPConnection

UNAUTHENTICATED_MESSAGE = "a valid API key is required: Authorization: Bearer mb_sk_..."
CHALLENGE = ((b"www-authenticate", b"Bearer"),)


def bearer(request: HTTPConnection) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None
