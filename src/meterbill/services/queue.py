"""How services ask the workers for work. Enqueueing is best effort: anything a lost job
would have done is also done by a sweep cron, so a Redis outage never fails a request."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("meterbill.queue")

# The arq queue every process enqueues to and every worker takes from.
QUEUE = "meterbill:queue"

_pool: Any = None


def set_pool(pool: Any) -> None:
    global _pool
    _pool = pool


def get_pool() -> Any:
    return _pool


async def enqueue(function: str, *args: Any, job_id: str | None = None, **kw: Any) -> bool:
    if _pool is None:
        return False
    try:
        await _pool.enqueue_job(function, *args, _job_id=job_id, **kw)
        return True
    except Exception as exc:  # noqa: BLE001 - any Redis failure; the sweep will catch up
        log.warning("enqueue %s failed (%s); the sweep will pick it up", function, exc)
        return False
