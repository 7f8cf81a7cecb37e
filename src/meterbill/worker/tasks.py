"""Tasks: unpack arguments, call one service."""

from __future__ import annotations

from typing import Any

from meterbill.services import housekeeping as hk


async def housekeeping(ctx: dict[str, Any]) -> int:
    return await hk.heartbeat(ctx["worker_name"])


FUNCTIONS = [housekeeping]
