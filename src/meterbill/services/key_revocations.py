"""A revoked API key stops working in every API process within a second (limits).

Each process remembers valid keys briefly (services/accounts.py) so a request costs no key
lookup. Revoking forgets the key in the revoking process at once and announces it on a
Redis channel (accounts.revoke_api_key); every API process listens here and forgets it too,
typically within milliseconds. Embedded there is one process: forgetting locally is all.
The cache's own lifetime (accounts.AUTH_CACHE_SECONDS, 1 s) bounds the window when an
announcement is lost (Redis down, a listener reconnecting); a listener that (re)connects
also forgets everything."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from meterbill.services import accounts

log = logging.getLogger("meterbill.auth")


async def listen(pool: Any, retry_seconds: float = 0.5) -> None:
    """Forget each announced key in this process, until cancelled."""
    while True:
        pubsub = pool.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(accounts.REVOKED_CHANNEL)
            accounts.forget_all_keys()  # what was announced while not listening
            async for message in pubsub.listen():
                data = message.get("data")
                if isinstance(data, bytes):
                    data = data.decode()
                if isinstance(data, str):
                    accounts.forget_key(data)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - Redis went away: reconnect
            log.warning("key revocation listener lost Redis (%s)", type(exc).__name__)
            accounts.forget_all_keys()
            await asyncio.sleep(retry_seconds)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
