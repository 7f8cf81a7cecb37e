"""Dunning under concurrency: a retry that several runners (in one process, and two
`meterbill worker` processes on PostgreSQL + Redis) see due at once is attempted once."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from arq import create_pool
from arq.connections import RedisSettings
from dateutil.relativedelta import relativedelta

from meterbill.db.models import Customer, Invoice, PaymentAttempt
from meterbill.db.models import TestClock as Clock
from meterbill.db.setup import init_db
from meterbill.services import billing_steps, queue, test_clocks
from meterbill.worker.settings import QUEUE
from tests.integration.billing_setup import make_catalog, subscribe_many
from tests.integration.test_billing_workers import _Services, _until, provider  # noqa: F401

N = 8
START = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


async def _declined_cycles(account_id: str, clock_id: str, subs: list[str]) -> list[Invoice]:
    cycle = await Invoice.filter(
        subscription_id__in=subs, billing_reason="SUBSCRIPTION_CYCLE"
    ).order_by("id")
    assert len(cycle) == len(subs)
    assert all(i.status == "OPEN" and i.attempt_count == 1 for i in cycle)
    return cycle


async def _advance(clock_id: str, to: datetime) -> None:
    await Clock.filter(id=clock_id).update(status="ADVANCING", frozen_time=to)


async def _check_retried_once(cycle: list[Invoice]) -> None:
    attempts = await PaymentAttempt.filter(invoice_id__in=[i.id for i in cycle])
    per = Counter((a.invoice_id, a.succeeded) for a in attempts)
    for i in cycle:
        assert per[(i.id, False)] == 1 and per[(i.id, True)] == 1, per
        fresh = await Invoice.get(id=i.id)
        assert (fresh.status, fresh.attempt_count, fresh.next_payment_attempt) == (
            "PAID",
            2,
            None,
        )


async def test_concurrent_runners_retry_each_invoice_once(app: Any, provider: Any) -> None:  # noqa: F811
    cat = await make_catalog()
    clock = await test_clocks.create_test_clock(cat.account_id, START, "dunning race")
    subs = await subscribe_many(cat, N, clock.id)
    customers = [c for c in await Customer.filter(account_id=cat.account_id)]
    await Customer.filter(id__in=[c.id for c in customers]).update(
        default_payment_method="pm_card_chargeDeclined"
    )
    await _advance(clock.id, START + relativedelta(months=1) + timedelta(hours=2))
    await test_clocks.run_test_clock(clock.id)
    cycle = await _declined_cycles(cat.account_id, clock.id, subs)
    await Customer.filter(id__in=[c.id for c in customers]).update(
        default_payment_method="pm_card_visa"
    )
    provider.charges.clear()
    await _advance(clock.id, START + relativedelta(months=1) + timedelta(days=4))
    await asyncio.gather(*(test_clocks.run_test_clock(clock.id) for _ in range(3)))
    assert sorted(provider.charges) == sorted(i.id for i in cycle)  # one charge each
    await _check_retried_once(cycle)


async def test_two_worker_processes_on_postgres_retry_once() -> None:
    async with _Services(grace=3600) as s:
        await init_db(s.settings)
        billing_steps.configure(3600)
        pool = await create_pool(RedisSettings.from_dsn(s.redis_url), default_queue_name=QUEUE)
        queue.set_pool(pool)
        try:
            cat = await make_catalog()
            clock = await test_clocks.create_test_clock(cat.account_id, START, "dunning")
            subs = await subscribe_many(cat, N, clock.id)
            await Customer.filter(account_id=cat.account_id).update(
                default_payment_method="pm_card_chargeDeclined"
            )
            await _advance(clock.id, START + relativedelta(months=1) + timedelta(hours=2))
            await test_clocks.run_test_clock(clock.id)
            cycle = await _declined_cycles(cat.account_id, clock.id, subs)
            await Customer.filter(account_id=cat.account_id).update(
                default_payment_method="pm_card_visa"
            )
            s.start_workers(2)
            # The job goes to one worker; the other's cron picks up the ADVANCING clock.
            await test_clocks.advance_test_clock(
                cat.account_id, clock.id, START + relativedelta(months=1) + timedelta(days=4)
            )

            async def done() -> bool:
                return bool((await Clock.get(id=clock.id)).status == "READY")

            await _until(done, 90, "the retries by two worker processes")
            await _check_retried_once(cycle)
        finally:
            queue.set_pool(None)
            await pool.aclose()
