"""Webhook delivery in every worker process (the arq worker's and the embedded one): fan
the event log out into deliveries, then attempt the due ones, several at once.

Like the billing pass, a loop of the process rather than an arq job: attempts wait on
remote endpoints for up to MB_WEBHOOK_TIMEOUT seconds each and must not hold arq's job
slots (aggregation, billing) meanwhile. Each process attempts at most
MB_WEBHOOK_MAX_IN_FLIGHT deliveries at once, at most MB_WEBHOOK_ENDPOINT_CONCURRENCY of one
endpoint: a slow or dead endpoint fills its own slots only, the others' deliveries go on.
Outcomes are written in batches, one statement per pass. Attempts that a stopped process
leaves unfinished are retried when their lease ends (services/webhooks/deliveries.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from typing import Any

from meterbill.services.clock import utcnow
from meterbill.services.webhooks import config, deliveries, fanout, send, signing

log = logging.getLogger("meterbill.webhooks")
POLL = 0.2


class WebhookLoop:
    def __init__(self, poll: float = POLL) -> None:
        self.poll = poll
        self.attempts = 0
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._in_flight: Counter[str] = Counter()
        self._sends: set[asyncio.Task[None]] = set()
        self._done: list[Any] = []

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="meterbill-webhooks")

    async def stop(self, grace: float = 2.0) -> None:
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        done, _ = await asyncio.wait({self._task}, timeout=grace)
        if not done:
            self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    async def _run(self) -> None:
        conf = config()
        http = self._http = send.client(conf.max_in_flight)
        try:
            while not self._stopping:
                try:
                    await self._pass()
                except Exception:
                    log.exception("webhook pass failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll)
                self._wake.clear()
        finally:
            for t in self._sends:
                t.cancel()
            await asyncio.gather(*self._sends, return_exceptions=True)
            # Outcomes already known are kept; cancelled attempts are retried after
            # their lease.
            with contextlib.suppress(Exception):
                await self._flush()
            await http.aclose()

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
        await fanout.fan_out()
        conf = config()
        room = conf.max_in_flight - sum(self._in_flight.values())
        free = {ep: conf.endpoint_concurrency - n for ep, n in self._in_flight.items() if n}
        jobs = await deliveries.take(free, conf.endpoint_concurrency, room)
        for job in jobs:
            if not job.enabled:
                self._done.append(deliveries.disabled_row(job, utcnow()))
                continue
            self._in_flight[job.endpoint_id] += 1
            task = asyncio.create_task(self._attempt(job))
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)

    async def _attempt(self, job: deliveries.Job) -> None:
        conf = config()
        try:
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
            self._in_flight[job.endpoint_id] -= 1
            if self._in_flight[job.endpoint_id] <= 0:
                del self._in_flight[job.endpoint_id]
            self._wake.set()
