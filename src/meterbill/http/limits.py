"""Request-body limits for POST /graphql, as a pure ASGI middleware.

The body is read here, at most `max_body_bytes` (+ one chunk) of it: a declared
Content-Length over the limit is refused before reading anything, and a chunked body is
counted while it streams and refused as soon as it passes the limit. A body that is not a
JSON object with the GraphQL request members is refused with 400 and a JSON error body
(strawberry would answer in plain text). The accepted body is then replayed to the app."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from meterbill.web.errors import send_error


def decode(body: bytes) -> Any:
    """The body's JSON as the GraphQL view decodes it (graphql/http.py): orjson, and Python's
    json for what orjson refuses but JSON allows (integers past 64 bits, \\u escapes of
    lone surrogates), so that the API, not this gate, says what is wrong with such values."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)


class _TooLarge(Exception):
    pass


class _Gone(Exception):
    pass


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", []):
        if k.lower() == name:
            return v.decode("latin-1")
    return None


def shape_error(data: Any) -> str | None:
    """Why a decoded JSON body is not a GraphQL request, or None when it is one."""
    if not isinstance(data, dict):
        return "the body must be a JSON object (batches are not supported)"
    if not isinstance(data.get("query"), str):
        return "query must be a string"
    if not isinstance(data.get("variables"), dict | None):
        return "variables must be an object or null"
    if not isinstance(data.get("operationName"), str | None):
        return "operationName must be a string or null"
    if not isinstance(data.get("extensions"), dict | None):
        return "extensions must be an object or null"
    return None


class BodyLimit:
    def __init__(
        self, app: ASGIApp, *, max_bytes: int, read_timeout: float = 10.0, path: str = "/graphql"
    ):
        self.app = app
        self.max_bytes = max_bytes
        # The whole body within this many seconds: a client sending a byte a second would
        # otherwise hold its connection (and the server's memory for it) indefinitely.
        self.read_timeout = read_timeout
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                await send_error(send, 400, "BAD_REQUEST", "invalid Content-Length")
                return
            if int(declared) > self.max_bytes:
                await self._too_large(send)
                return
        try:
            async with asyncio.timeout(self.read_timeout):
                body = await self._read(receive)
        except TimeoutError:
            message = f"the request body was not received within {self.read_timeout:g} s"
            await send_error(send, 408, "REQUEST_TIMEOUT", message, {"Connection": "close"})
            return
        except _TooLarge:
            await self._too_large(send)
            return
        except _Gone:
            return
        ctype = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            await send_error(send, 415, "BAD_REQUEST", "Content-Type must be application/json")
            return
        try:
            problem = shape_error(decode(body))
        except (ValueError, RecursionError):  # json's own nesting limit
            problem = "the body is not valid JSON"
        if problem:
            await send_error(send, 400, "BAD_REQUEST", problem)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Gone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _too_large(self, send: Send) -> None:
        await send_error(
            send, 413, "PAYLOAD_TOO_LARGE", f"request body exceeds {self.max_bytes} bytes"
        )


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: wait for disconnect like the server would

    return replay
