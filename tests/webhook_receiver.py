"""A real HTTP receiver on 127.0.0.1 for webhook tests: it verifies every request with the
`standardwebhooks` package, the way a receiver's code would, and records what it got.

`respond` decides each answer (status, optional delay before it); `gate`, when set, holds
every request until the test releases it (a slow endpoint without timing guesses)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    path: str
    at: float  # time.time() when it arrived
    verified: bool
    payload: Any = None

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class Receiver:
    secrets: list[str] = field(default_factory=list)
    respond: Callable[[Received], Awaitable[int] | int] | None = None
    gate: asyncio.Event | None = None
    got: list[Received] = field(default_factory=list)
    answered: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    _runner: web.AppRunner | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def close(self) -> None:
        if self.gate is not None:
            self.gate.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def _verify(self, body: bytes, headers: dict[str, str]) -> tuple[bool, Any]:
        for secret in self.secrets:
            try:
                return True, Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
        return False, None

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        ok, payload = self._verify(body, headers)
        rec = Received(headers, body, request.path, time.time(), ok, payload)
        self.got.append(rec)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.gate is not None:
                await self.gate.wait()
            status = 200
            if self.respond is not None:
                out = self.respond(rec)
                status = await out if not isinstance(out, int) else out
            headers_out = (
                {"Location": f"http://127.0.0.1:{self.port}/moved"}
                if status
                in (
                    301,
                    302,
                    307,
                )
                else {}
            )
            return web.Response(
                status=status, text="ok" if status < 300 else "nope", headers=headers_out
            )
        finally:
            self.in_flight -= 1
            self.answered += 1

    def ids(self) -> set[str]:
        return {r.webhook_id for r in self.got}

    def of_type(self, type_: str) -> list[Received]:
        return [r for r in self.got if orjson.loads(r.body)["type"] == type_]


async def wait_until(check: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    """Poll until `check()` is truthy: a deadline, not a speed assertion."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
