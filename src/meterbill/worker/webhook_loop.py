"""Webhook delivery in every worker process (the arq worker's and the embedded one): fan
the event log out into deliveries, then attempt the due ones, several at once.

Like the billing pass, a loop of the process rather than an arq job: attempts wait on
remote endpoints for up to MB_WEBHOOK_TIMEOUT seconds each and must not hold arq's job
slots (aggregation, billing) meanwhile. Each process attempts at most
MB_WEBHOOK_MAX_IN_FLIGHT deliveries at once and at most MB_WEBHOOK_ENDPOINT_CONCURRENCY of
one endpoint, and holds (leases) at most twice that many of an endpoint: a slow or dead
endpoint fills its own slots only, the other endpoints' deliveries go on.

A pass writes the outcomes known so far (one statement), fans out queued events (every POLL
seconds, and at once while batches come full) and leases due deliveries for the free slots.
A finished attempt wakes the loop; passes are at least COALESCE apart so that a burst of
finished attempts costs one pass, not one each. Billing comes first: while the process's
billing pass runs (`yield_to`), no new attempt starts (attempts cost the process's CPU:
month-end runs would slow down by the deliveries they cause); they resume when it ends.
Attempts a stopped process leaves unfinished are taken again when their lease ends
(services/webhooks/deliveries.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from meterbill.services.now import utcnow
from meterbill.services.webhooks import config, deliveries, fanout, send, signing
from meterbill.worker.loops import finish

log = logging.getLogger("meterbill.webhooks")
POLL = 0.1
COALESCE = 0.01
# Deliveries of one endpoint a process may hold, per attempt slot (the rest wait their
# turn in the process; the lease covers the wait, deliveries.lease_seconds).
HOLD_PER_SLOT = 2


class WebhookLoop:
    def __init__(self, poll: float = POLL, yield_to: Callable[[], bool] | None = None) -> None:
        self.poll = poll
        self.yield_to = yield_to
        self.attempts = 0
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._held: Counter[str] = Counter()
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._sends: set[asyncio.Task[None]] = set()
        self._done: list[Any] = []
        self._fanned_at = 0.0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="meterbill-webhooks")

    async def stop(self, grace: float = 2.0) -> None:
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        await finish(self._task, grace)
        self._task = None

    async def _run(self) -> None:
        conf = config()
        self._http = send.client(conf.max_in_flight)
        self._all = asyncio.Semaphore(conf.max_in_flight)
        try:
            while not self._stopping:
                try:
                    await self._pass()
                except Exception:
                    log.exception("webhook pass failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll)
                self._wake.clear()
                await asyncio.sleep(COALESCE)
        finally:
            for t in self._sends:
                t.cancel()
            await asyncio.gather(*self._sends, return_exceptions=True)
            # Outcomes already known are kept; cancelled attempts are retried after
            # their lease.
            with contextlib.suppress(Exception):
                await self._flush()
            await self._http.aclose()

    async def _flush(self) -> None:
        if self._done:
            rows, self._done = self._done, []
            try:
                await deliveries.record(rows)
            except Exception:
                self._done = rows + self._done
                raise

    async def _pass(self) -> None:
        await self._flush()
        if self.yield_to is not None and self.yield_to():
            return
        now = time.monotonic()
        if now - self._fanned_at >= self.poll:
            self._fanned_at = now
            if await fanout.fan_out() and not self._stopping:
                self._fanned_at = 0.0  # more may be queued: again at the next pass
        conf = config()
        hold = conf.endpoint_concurrency * HOLD_PER_SLOT
        room = conf.max_in_flight * HOLD_PER_SLOT - sum(self._held.values())
        free = {ep: hold - n for ep, n in self._held.items() if n}
        for job in await deliveries.take(free, hold, room):
            if not job.enabled:
                self._done.append(deliveries.disabled_row(job))
                continue
            self._held[job.endpoint_id] += 1
            task = asyncio.create_task(self._attempt(job))
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)

    def _slot(self, endpoint_id: str) -> asyncio.Semaphore:
        slot = self._slots.get(endpoint_id)
        if slot is None:
            slot = self._slots[endpoint_id] = asyncio.Semaphore(config().endpoint_concurrency)
        return slot

    async def _attempt(self, job: deliveries.Job) -> None:
        conf = config()
        try:
            async with self._slot(job.endpoint_id), self._all:
                at = utcnow()
                headers = signing.headers(job.signer, job.msg_id, at, job.payload)
                outcome = await send.attempt(
                    self._http, job.url, headers, job.payload, conf.timeout, conf.allow_private
                )
            self.attempts += 1
            self._done.append(deliveries.outcome_row(job, outcome, at))
        except Exception:
            log.exception("webhook attempt failed", extra={"delivery_id": job.delivery_id})
        finally:
            self._held[job.endpoint_id] -= 1
            if self._held[job.endpoint_id] <= 0:
                del self._held[job.endpoint_id]
                self._slots.pop(job.endpoint_id, None)
            self._wake.set()
