"""Request ids, the request log line and request metrics, as a pure ASGI middleware; and
the /metrics endpoint."""

from __future__ import annotations

import hmac
import itertools
import logging
import os
import re
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from meterbill.logs import REQUEST
from meterbill.services import metrics
from meterbill.services.queue import QUEUE
from meterbill.web.errors import error_body

log = logging.getLogger("meterbill.request")

REQUEST_ID_HEADER = "x-request-id"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_KNOWN_PATHS = ("/graphql", "/healthz", "/readyz", "/metrics")
_QUIET_PATHS = ("/healthz", "/readyz", "/metrics")  # probes and scrapes: DEBUG, not INFO


_HEADER = REQUEST_ID_HEADER.encode()


class _Ids:
    """32 hex characters, unique without a syscall per request (uuid4 reads os.urandom: ~5 us):
    a random prefix per process, drawn again in a forked child, then a counter."""

    def __init__(self) -> None:
        self.pid = -1
        self.prefix = ""
        self.counter = itertools.count()

    def next(self) -> str:
        if self.pid != os.getpid():
            self.pid, self.prefix = os.getpid(), os.urandom(8).hex()
        return f"{self.prefix}{next(self.counter):016x}"


_ids = _Ids()


def _request_id(scope: Scope) -> str:
    for k, v in scope.get("headers", []):
        if k.lower() == _HEADER:
            value = v.decode("latin-1")
            if _SANE_ID.match(value):
                return value
    return _ids.next()


class Observe:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        info: dict[str, Any] = {"request_id": _request_id(scope)}
        token = REQUEST.set(info)
        status = 500
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), info["request_id"].encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error")
            raise
        finally:
            seconds = time.perf_counter() - start
            self._done(scope, info, status, seconds)
            REQUEST.reset(token)

    def _done(self, scope: Scope, info: dict[str, Any], status: int, seconds: float) -> None:
        path = scope["path"] if scope["path"] in _KNOWN_PATHS else "other"
        operation = info.get("operation") or path
        metrics.request_done(operation, str(status), seconds)
        level = logging.DEBUG if path in _QUIET_PATHS and status < 500 else logging.INFO
        if not log.isEnabledFor(level):
            return  # the line's fields are not built for nothing (MB_LOG_LEVEL=WARNING)
        fields = {
            "request_id": info["request_id"],
            "method": scope["method"],
            "path": path,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "account_id": info.get("account_id"),
            "operation_type": info.get("operation_type"),
            "operation": info.get("operation"),
            "operation_name": info.get("operation_name"),
            "error_codes": info.get("error_codes"),
        }
        log.log(level, "request", extra={k: v for k, v in fields.items() if v is not None})


def note(**facts: Any) -> None:
    """Add facts about the current request (account id, operation...) to its log line."""
    info = REQUEST.get()
    if info is not None:
        info.update(facts)


async def metrics_endpoint(request: Request) -> Response:
    pool = request.app.state.pool

    async def queue_depth() -> None:
        metrics.QUEUE_DEPTH.set(await pool.zcard(QUEUE))

    body, content_type = await metrics.render({"queue_depth": queue_depth})
    return Response(body, media_type=content_type)


def protected_metrics(token: str | None) -> Any:
    """/metrics, open (token None: bind the port where only the scraper reaches it) or
    needing `Authorization: Bearer <token>` (MB_METRICS_TOKEN)."""
    if token is None:
        return metrics_endpoint
    expected = f"Bearer {token}".encode()

    async def endpoint(request: Request) -> Response:
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            return Response(
                error_body("UNAUTHENTICATED", "/metrics needs Authorization: Bearer <token>"),
                status_code=401,
                media_type="application/json",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return await metrics_endpoint(request)

    return endpoint
