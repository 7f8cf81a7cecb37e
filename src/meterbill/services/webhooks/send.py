"""One HTTP attempt of a delivery: POST, no redirects followed, the whole attempt (connect,
send, answer, body) within the timeout, at most BODY_LIMIT bytes of the answer read.

The client connects only to addresses addresses.py allows: its network backend resolves
each host itself and checks every address before connecting, so the check holds for the
connection actually made (a host re-resolved to a private address between the check before
the attempt and the connect is refused too). trust_env=False: no proxy from the
environment stands in between."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from meterbill.services.webhooks import addresses, config

BODY_LIMIT = 4096
ERROR_LIMIT = 300


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status: int | None = None
    error: str | None = None
    # No retry: the url is refused (not public), so the delivery is FAILED at once.
    final: bool = False


class _CheckedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        target = await addresses.resolve_host(host, port, config().allow_private)
        error: Exception | None = None
        for ip in target:
            try:
                return await self.inner.connect_tcp(
                    ip, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def client(max_connections: int) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
        retries=0,
    )
    # httpx takes no network backend; its pool (httpcore) does.
    transport._pool._network_backend = _CheckedBackend()
    return httpx.AsyncClient(transport=transport, follow_redirects=False, trust_env=False)


def _short(text: str) -> str:
    return text if len(text) <= ERROR_LIMIT else text[: ERROR_LIMIT - 3] + "..."


async def _read_some(resp: httpx.Response) -> bytes:
    got = b""
    async for chunk in resp.aiter_raw():
        got += chunk
        if len(got) >= BODY_LIMIT:
            break
    return got[:BODY_LIMIT]


async def attempt(
    http: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    payload: bytes,
    seconds: float,
    allow_private: bool,
) -> Outcome:
    """One POST of `payload`, answered with 2xx within `seconds` or failed."""
    try:
        await addresses.resolve(url, allow_private)
    except addresses.Refused as exc:
        return Outcome(False, error=_short(str(exc)), final=exc.final)
    try:
        async with asyncio.timeout(seconds):
            async with http.stream(
                "POST", url, content=payload, headers=headers, timeout=seconds
            ) as resp:
                body = await _read_some(resp)
    except TimeoutError:
        return Outcome(False, error=f"timeout: no answer within {seconds:g} s")
    except addresses.Refused as exc:
        return Outcome(False, error=_short(str(exc)), final=exc.final)
    except httpx.TimeoutException:
        return Outcome(False, error=f"timeout: no answer within {seconds:g} s")
    except httpx.HTTPError as exc:
        kind = type(exc).__name__
        return Outcome(False, error=_short(f"{kind}: {exc}" if str(exc) else kind))
    if 200 <= resp.status_code < 300:
        return Outcome(True, status=resp.status_code)
    if 300 <= resp.status_code < 400:
        msg = f"HTTP {resp.status_code}: redirect not followed"
    else:
        snippet = body[:200].decode("utf-8", "replace").strip()
        msg = f"HTTP {resp.status_code}" + (f": {snippet}" if snippet else "")
    return Outcome(False, status=resp.status_code, error=_short(msg))
