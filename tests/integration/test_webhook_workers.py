"""Events and webhooks with two `meterbill worker` processes on PostgreSQL + Redis, one of
them SIGKILLed during a month-end run of 500 subscriptions: every cycle invoice has exactly
one invoice.finalized and one invoice.paid event, every event of the account reaches the
receiver at least once (it deduplicates by webhook-id, as receivers must), and every event
was fanned out into exactly one delivery per endpoint."""

from __future__ import annotations

import signal
from collections import Counter
from datetime import UTC, datetime, timedelta

from arq import create_pool
from arq.connections import RedisSettings

from meterbill.db.models import DomainEvent, Invoice, WebhookDelivery
from meterbill.db.models import TestClock as Clock
from meterbill.db.setup import init_db
from meterbill.services import billing_steps, queue, test_clocks, webhooks
from meterbill.services.webhooks import endpoints
from meterbill.worker.settings import QUEUE
from tests.integration.billing_setup import assert_billed_once, make_catalog, subscribe_many
from tests.integration.test_billing_workers import _Services, _until
from tests.webhook_receiver import Receiver

N = 500
START = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
HOOK_ENV = {
    "MB_SECRET_KEY": "two-workers-test-key",
    "MB_WEBHOOK_ALLOW_PRIVATE": "true",
    "MB_WEBHOOK_TIMEOUT": "5",
    "MB_WEBHOOK_RETRY_SCHEDULE": "1,1,2,2,5,5,10,10",
}


async def test_sigkill_during_month_end_loses_no_event_and_no_delivery() -> None:
    receiver = await Receiver().start()
    async with _Services(grace=0) as s:
        s.env.update(HOOK_ENV)
        await init_db(s.settings)
        billing_steps.configure(0)
        webhooks.configure(None, secret_key=HOOK_ENV["MB_SECRET_KEY"], allow_private=True)
        pool = await create_pool(RedisSettings.from_dsn(s.redis_url), default_queue_name=QUEUE)
        queue.set_pool(pool)
        try:
            cat = await make_catalog("Month end")
            ep, secret = await endpoints.create_endpoint(cat.account_id, receiver.url, None, None)
            receiver.secrets.append(secret)
            clock = await test_clocks.create_test_clock(cat.account_id, START, "month end")
            subs = await subscribe_many(cat, N, clock.id)
            s.start_workers(2)
            await test_clocks.advance_test_clock(
                cat.account_id, clock.id, clock.frozen_time + timedelta(days=31)
            )

            async def cycle_started() -> bool:
                return (
                    await DomainEvent.filter(
                        account_id=cat.account_id, type="invoice.finalized"
                    ).count()
                    > N
                )  # the N first invoices' events, then the cycle's

            await _until(cycle_started, 120, "the month-end run to start")
            victim = s.procs[0]
            assert victim.poll() is None, "the worker to kill had already exited"
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=10)

            async def billed() -> bool:
                return (await Clock.get(id=clock.id)).status == "READY"

            await _until(billed, 180, "the other worker to finish the month-end run")
            await assert_billed_once(cat.account_id, subs, cycles=1)

            cycle = await Invoice.filter(
                account_id=cat.account_id, billing_reason="SUBSCRIPTION_CYCLE"
            ).values_list("id", flat=True)
            assert len(cycle) == N
            events = await DomainEvent.filter(account_id=cat.account_id).values_list(
                "id", "type", "object_id"
            )
            per_invoice = Counter((o, t) for _, t, o in events if o in set(cycle))
            for inv in cycle:
                assert per_invoice[(inv, "invoice.created")] == 1, inv
                assert per_invoice[(inv, "invoice.finalized")] == 1, inv
                assert per_invoice[(inv, "invoice.paid")] == 1, inv
            assert len({e for e, _, _ in events}) == len(events)

            every = {e for e, _, _ in events}

            async def all_delivered() -> bool:
                return every <= receiver.ids()

            try:
                await _until(all_delivered, 480, f"{len(every)} events to reach the receiver")
            except AssertionError:
                rows = await WebhookDelivery.filter(endpoint_id=ep.id).values_list(
                    "status", "attempt_count", "last_error"
                )
                raise AssertionError(
                    f"received {len(receiver.ids())} of {len(every)}; deliveries "
                    f"{Counter((r[0], r[1]) for r in rows)}; errors "
                    f"{Counter(r[2] for r in rows).most_common(3)}"
                ) from None
            assert all(r.verified for r in receiver.got)
            fanned = Counter(
                await WebhookDelivery.filter(endpoint_id=ep.id).values_list("event_id", flat=True)
            )
            assert set(fanned) == every and set(fanned.values()) == {1}
            # Received more than once only when an attempt was cut off by the kill (or
            # answered after its lease): the receiver deduplicates those by webhook-id.
            print(
                f"events={len(every)} requests={len(receiver.got)} "
                f"duplicates={len(receiver.got) - len(receiver.ids())}"
            )
        finally:
            queue.set_pool(None)
            await pool.aclose()
            webhooks.configure(None)
            await receiver.close()
