"""Tasks: unpack arguments, call one service."""

from __future__ import annotations

from typing import Any

from meterbill.services import housekeeping as hk
from meterbill.services import idempotency


async def housekeeping(ctx: dict[str, Any]) -> int:
    return await hk.heartbeat(ctx["worker_name"])


async def purge_idempotency_keys(ctx: dict[str, Any]) -> int:
    return await idempotency.purge_expired()


FUNCTIONS = [housekeeping, purge_idempotency_keys]
