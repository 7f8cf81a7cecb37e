"""Fan-out of "this customer's usage of this meter changed" from whoever changes usage (the
aggregation fold, cancelMeterEvent) to the subscriptions waiting for it.

Embedded, every party lives in one process: announce() wakes the local listeners directly.
Scaled out, the workers that fold usage are other processes: announce() publishes the changed
keys on a Redis channel after the fold has committed, and every API process runs forward(),
which wakes its own listeners. A message says only *which* keys changed; each listener reads
the value from the database, so a lost or late message never shows a wrong number, and a burst
of changes wakes a listener once (an asyncio.Event coalesces)."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson

log = logging.getLogger("meterbill.live")

CHANNEL = "meterbill:live"
# (account id, meter id, customer id)
Key = tuple[str, str, str]

_listeners: dict[Key, set[asyncio.Event]] = defaultdict(set)
# The Redis client to publish on; None: this process is the whole deployment (embedded).
_publisher: Any = None


def publish_to(redis: Any) -> None:
    """Scaled out: announce() publishes on Redis instead of waking local listeners only."""
    global _publisher
    _publisher = redis


def wake(keys: Iterable[Key]) -> None:
    for key in keys:
        for event in _listeners.get(key, ()):
            event.set()


def wake_all() -> None:
    for events in _listeners.values():
        for event in events:
            event.set()


@contextmanager
def listen(key: Key) -> Iterator[asyncio.Event]:
    """An Event set whenever `key`'s usage may have changed, registered while in the block."""
    event = asyncio.Event()
    _listeners[key].add(event)
    try:
        yield event
    finally:
        _listeners[key].discard(event)
        if not _listeners[key]:
            del _listeners[key]


async def announce(keys: Iterable[Key]) -> None:
    """Call after the change has committed. Never fails the caller: the change is stored
    either way, and a listener that missed it catches up at the next one."""
    found = {(str(a), str(m), str(c)) for a, m, c in keys}
    if not found:
        return
    if _publisher is None:
        wake(found)
        return
    try:
        await _publisher.publish(CHANNEL, orjson.dumps(sorted(found)))
    except Exception as exc:  # noqa: BLE001 - any Redis failure
        log.warning("live usage announcement lost (%s)", type(exc).__name__)


async def forward(redis: Any, retry_seconds: float = 1.0) -> None:
    """Run for the life of a scaled-out API process: wake local listeners for every key the
    workers announce. After a lost connection every listener is woken once, since whatever
    was announced meanwhile is unknown."""
    while True:
        pubsub = redis.pubsub()
        try:
            await pubsub.subscribe(CHANNEL)
            wake_all()
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    wake(tuple(k) for k in orjson.loads(message["data"]))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - Redis went away: resubscribe when back
            log.warning("live usage channel lost (%s); resubscribing", type(exc).__name__)
            await asyncio.sleep(retry_seconds)
        finally:
            try:
                await pubsub.aclose()
            except Exception:  # noqa: BLE001
                pass
