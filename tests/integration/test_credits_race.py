"""Credits are applied exactly once under concurrency (the grant row is the lock): one
grant shared by five subscriptions of one customer whose periods close at the same
instant, finalized by concurrent runners (each invoice in its own transaction, at once),
on the deployment's backend; and by two `meterbill worker` processes on PostgreSQL. The
sum applied is min(grant, usage) whatever the interleaving."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from arq import create_pool
from arq.connections import RedisSettings

from meterbill.billing.credits import applications_from_text
from meterbill.db.models import CreditGrant, Invoice, Meter
from meterbill.db.setup import init_db
from meterbill.services import billing_steps, catalog, queue, subscriptions, test_clocks
from meterbill.services.credits import grants
from meterbill.services.now import utcnow
from meterbill.worker.settings import QUEUE
from tests.billing_helpers import add_rollup_usage
from tests.integration.billing_setup import Catalog, make_catalog
from tests.integration.test_billing_workers import _Services, _until

START = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
SUBS = 5
TOKENS = 3000  # 2000 over the free 1000 at 4: 8000 per invoice, 40000 for the five
PER_INVOICE = 8000


@pytest.fixture(autouse=True)
def reset_grace() -> Iterator[None]:
    yield
    billing_steps.configure(None)


async def _five_subscriptions(
    cat: Catalog, clock_id: str | None, backdate: datetime | None = None
) -> tuple[str, list[str]]:
    spec = catalog.CustomerSpec(name="Five", payment_method="pm_card_visa", test_clock_id=clock_id)
    cus = await catalog.create_customer(cat.account_id, spec)
    subs = []
    for _ in range(SUBS):
        req = subscriptions.SubscriptionRequest(
            customer_id=cus.id,
            items=[
                subscriptions.ItemRequest(cat.usage_price),
                subscriptions.ItemRequest(cat.license_price, 1),
            ],
            backdate_start_date=backdate,
        )
        subs.append((await subscriptions.create_subscription(cat.account_id, req)).id)
    return cus.id, subs


async def _applied(account_id: str, sub_ids: list[str]) -> tuple[int, list[Invoice]]:
    cycle = await Invoice.filter(
        account_id=account_id, subscription_id__in=sub_ids, billing_reason="SUBSCRIPTION_CYCLE"
    )
    apps = [a for i in cycle for a in applications_from_text(i.id, i.credit_applications)]
    assert sum(a.amount for a in apps) == sum(i.total_credits_applied for i in cycle)
    for i in cycle:
        assert i.status != "DRAFT"
        assert i.amount_due == i.total - i.total_credits_applied
    return sum(a.amount for a in apps), cycle


@pytest.mark.parametrize("grace", [0, 3600])
@pytest.mark.parametrize("granted", [25_000, 40_000, 100_000, 1])
async def test_concurrent_finalizations_share_one_grant_exactly(
    db: Any, grace: int, granted: int
) -> None:
    billing_steps.configure(grace)
    cat = await make_catalog()
    clock = await test_clocks.create_test_clock(cat.account_id, START, "five")
    cus, subs = await _five_subscriptions(cat, clock.id)
    meter = await Meter.get(id=cat.meter_id)
    await add_rollup_usage(meter, cus, Decimal(TOKENS), START + timedelta(days=3))
    grant = await grants.create_credit_grant(
        cat.account_id, grants.GrantRequest(customer_id=cus, amount=granted, currency="usd")
    )
    end = START.replace(month=4)
    # Every invoice in its own transaction, all at once (grace 0: closed and finalized in
    # one; else closed to drafts, then finalized concurrently).
    await asyncio.gather(*(billing_steps.close_these([s], end) for s in subs))
    if grace:
        drafts = await Invoice.filter(subscription_id__in=subs, status="DRAFT")
        assert len(drafts) == SUBS
        at = end + timedelta(seconds=grace)
        await asyncio.gather(*(billing_steps.finalize_these([i.id], at) for i in drafts))
    applied, cycle = await _applied(cat.account_id, subs)
    assert len(cycle) == SUBS
    assert all(i.total == PER_INVOICE + 10000 for i in cycle)
    assert applied == min(granted, SUBS * PER_INVOICE)
    left = await CreditGrant.get(id=grant.id)
    assert left.available_amount == granted - applied
    # Finalizing or closing again changes nothing.
    await billing_steps.close_these(subs, end)
    await billing_steps.finalize_these([i.id for i in cycle], end + timedelta(hours=2))
    assert (await _applied(cat.account_id, subs))[0] == applied


async def test_two_worker_processes_on_postgres_apply_one_grant_once() -> None:
    async with _Services(grace=0) as s:
        await init_db(s.settings)
        billing_steps.configure(0)
        pool = await create_pool(RedisSettings.from_dsn(s.redis_url), default_queue_name=QUEUE)
        queue.set_pool(pool)
        try:
            cat = await make_catalog("Daily", interval="DAY")
            # Wall-clock daily periods ending a few seconds from now, all at one instant.
            start = utcnow().replace(microsecond=0) - timedelta(days=1) + timedelta(seconds=12)
            cus, subs = await _five_subscriptions(cat, None, backdate=start)
            meter = await Meter.get(id=cat.meter_id)
            await add_rollup_usage(meter, cus, Decimal(TOKENS), utcnow() - timedelta(minutes=1))
            granted = 25_000
            grant = await grants.create_credit_grant(
                cat.account_id,
                grants.GrantRequest(customer_id=cus, amount=granted, currency="usd"),
            )
            s.start_workers(2)

            async def done() -> bool:
                n = await Invoice.filter(
                    subscription_id__in=subs, billing_reason="SUBSCRIPTION_CYCLE", status="PAID"
                ).count()
                return n == SUBS

            await _until(done, 90, "five cycle invoices paid by two worker processes")
            applied, cycle = await _applied(cat.account_id, subs)
            assert applied == min(granted, SUBS * PER_INVOICE) == granted
            assert sum(i.amount_paid for i in cycle) == SUBS * (PER_INVOICE + 10000) - granted
            assert (await CreditGrant.get(id=grant.id)).available_amount == 0
        finally:
            queue.set_pool(None)
            await pool.aclose()
