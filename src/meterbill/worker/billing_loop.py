"""The billing pass of one worker process: at start-up, then at every multiple of TICK
seconds of the wall clock, each process runs billing_tick itself.

Not an arq cron: arq enqueues a cron's job on the queue all workers share, so with two
worker processes one of them could take both start-up passes (two passes interleaved on
one core) while the other took none and idled until the next tick. The bench saw it: of
two workers started together on 5,000 due subscriptions, one closed all of them. Row locks
(SKIP LOCKED) split the work between the processes' passes; a pass loops over batches
while any are left that it can lock, so a worker only waits for the next tick when the
rest is another worker's or not yet due."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from meterbill.worker.loops import finish
from meterbill.worker.tasks import billing_tick

log = logging.getLogger("meterbill.billing")
TICK = 10.0


class BillingLoop:
    def __init__(self, tick: float = TICK) -> None:
        self.tick = tick
        self.passes = 0  # finished passes, failed or not
        # True while a pass runs: the webhook loop of the process starts no new attempts
        # meanwhile (worker/webhook_loop.py), so deliveries never slow billing down.
        self.busy = False
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="meterbill-billing")

    async def stop(self, grace: float = 2.0) -> None:
        """Let a running pass finish its batch for up to `grace` seconds, then cancel it:
        its open transaction rolls back and the rows are the next pass's (charges carry a
        per-attempt idempotency key)."""
        if self._task is None:
            return
        self._stopping.set()
        await finish(self._task, grace)
        self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            self.busy = True
            try:
                await billing_tick({})
            except Exception:
                # Like a failed cron job: logged, and the next tick tries again.
                log.exception("billing pass failed")
            finally:
                self.busy = False
            self.passes += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.tick - time.time() % self.tick)
