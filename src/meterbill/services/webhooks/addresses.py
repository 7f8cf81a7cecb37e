"""SSRF protection: an endpoint's host must resolve only to public addresses (no loopback,
private, link-local, multicast, reserved or unspecified one) unless
MB_WEBHOOK_ALLOW_PRIVATE=true. Checked at create/update and again before every attempt, on
the addresses the attempt then connects to (services/webhooks/send.py pins them), so a name
that resolves to something else later (DNS rebinding) gains nothing."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

IP = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(Exception):
    """The url may not be delivered to; the message says why (no secret in it). `final`
    when retrying cannot help (a non-public address), not when the name did not resolve."""

    def __init__(self, message: str, final: bool = True) -> None:
        super().__init__(message)
        self.final = final


@dataclass(frozen=True)
class Target:
    url: SplitResult
    host: str
    port: int
    addresses: tuple[str, ...]


def parse(url: str) -> SplitResult:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise Refused("url is not a valid URL") from exc
    if parts.scheme not in ("http", "https"):
        raise Refused("url must be http or https")
    if not parts.hostname:
        raise Refused("url has no host")
    if parts.username is not None or parts.password is not None:
        raise Refused("url must not hold credentials")
    return parts


def private(ip: IP) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return private(ip.ipv4_mapped)
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


async def resolve_host(host: str, port: int, allow_private: bool) -> tuple[str, ...]:
    """The host's addresses; Refused when it does not resolve or (unless private ones are
    allowed) any of them is not public."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused(f"url host {host} does not resolve", final=False) from exc
    found = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
    if not found:
        raise Refused(f"url host {host} does not resolve", final=False)
    if not allow_private:
        for a in found:
            if private(ipaddress.ip_address(a.split("%", 1)[0])):
                raise Refused(
                    f"url host {host} resolves to a non-public address ({a}); set "
                    "MB_WEBHOOK_ALLOW_PRIVATE=true to allow it"
                )
    return found


async def resolve(url: str, allow_private: bool) -> Target:
    """The url parsed and its host resolved and checked (resolve_host)."""
    parts = parse(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return Target(parts, host, port, await resolve_host(host, port, allow_private))
