"""A `meterbill worker` with MB_PAYMENT_PROVIDER=stripe SIGKILLed after Stripe (a local
fake) took the charge and before meterbill recorded it: the attempt's transaction dies
with the process, and the worker started after it asks again with the same idempotency
key and records Stripe's first answer. Exactly one charge. PostgreSQL + Redis."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from tortoise import Tortoise

from meterbill.config import Settings
from meterbill.db.models import Invoice, PaymentAttempt
from meterbill.db.setup import init_db, run_migrations
from meterbill.services import catalog, subscriptions
from meterbill.services.now import utcnow
from tests import services as svc
from tests.integration.billing_setup import make_catalog
from tests.stripe_fake import SECRET, FakeStripe


class _Deployment:
    """A PostgreSQL database and a Redis db of this test's own, the fake Stripe, and the
    environment of a worker process charging through it."""

    async def start(self) -> None:
        self.pg, self.redis = svc.require_pg(), svc.require_redis()
        self.name, self.db_url = await asyncio.to_thread(svc.create_pg_database, self.pg)
        self.redis_url = await asyncio.to_thread(svc.claim_redis_db, self.redis)
        settings = Settings(database_url=self.db_url, redis_url=self.redis_url)
        await run_migrations(settings)
        await init_db(settings)
        self.fake = await FakeStripe().start()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MB_")}
        self.env.update(
            MB_DATABASE_URL=self.db_url,
            MB_REDIS_URL=self.redis_url,
            MB_INVOICE_GRACE_PERIOD="0",
            MB_PAYMENT_PROVIDER="stripe",
            MB_STRIPE_API_KEY=SECRET,
            MB_STRIPE_API_BASE=self.fake.url,
        )
        self.procs: list[subprocess.Popen[bytes]] = []

    def worker(self) -> subprocess.Popen[bytes]:
        p = subprocess.Popen(
            [sys.executable, "-m", "meterbill.cli", "worker"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.procs.append(p)
        return p

    async def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                await asyncio.to_thread(p.wait, 20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        await self.fake.close()
        await Tortoise.close_connections()
        await asyncio.to_thread(svc.release_redis_db, self.redis_url)
        await asyncio.to_thread(svc.drop_pg_database, self.pg, self.name)


@pytest.fixture
async def stripe_deployment() -> AsyncIterator[_Deployment]:
    d = _Deployment()
    await d.start()
    try:
        yield d
    finally:
        await d.close()


async def _until(check, within: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {within} s")


async def test_a_worker_killed_between_charge_and_record_charges_once(
    stripe_deployment: _Deployment,
) -> None:
    d, fake = stripe_deployment, stripe_deployment.fake
    cat = await make_catalog("Killed worker", interval="DAY")
    cus = await catalog.create_customer(
        cat.account_id,
        catalog.CustomerSpec(
            stripe_customer_id="cus_kill", stripe_payment_method_id="pm_card_visa"
        ),
    )
    # This process charges with the test cards: the customer has none, so the first invoice
    # stays OPEN uncharged. The daily period ends in a few seconds, grace 0: the worker's
    # billing pass closes, finalizes and charges the cycle invoice through the fake.
    start = utcnow() - timedelta(days=1) + timedelta(seconds=3)
    sub = await subscriptions.create_subscription(
        cat.account_id,
        subscriptions.SubscriptionRequest(
            customer_id=cus.id,
            items=[subscriptions.ItemRequest(cat.license_price, 2)],
            backdate_start_date=start,
        ),
    )
    fake.hold_after_charge = True  # Stripe charges; its answer waits for the kill
    first = d.worker()
    await asyncio.wait_for(fake.charged.wait(), 60)
    first.send_signal(signal.SIGKILL)
    await asyncio.to_thread(first.wait, 20)

    cycle = await Invoice.get(subscription_id=sub.id, billing_reason="SUBSCRIPTION_CYCLE")
    assert (cycle.status, cycle.collection_pending) == ("OPEN", True)
    assert not await PaymentAttempt.filter(invoice_id=cycle.id).exists()
    [charge] = fake.charges
    assert charge["metadata"]["meterbill_invoice_id"] == cycle.id
    assert charge["amount"] == cycle.amount_due == 20000

    fake.hold_after_charge = False
    fake.release.set()
    d.worker()

    async def paid() -> bool:
        return (await Invoice.get(id=cycle.id)).status == "PAID"

    await _until(paid, 60, "the restarted worker recording the charge")
    assert len(fake.charges_for(cycle.id)) == 1
    mine = [r for r in fake.requests if r.params.get("metadata[meterbill_invoice_id]") == cycle.id]
    assert len(mine) >= 2 and {r.key for r in mine} == {f"meterbill-{cycle.id}-1"}
    assert mine[-1].replayed
    [attempt] = await PaymentAttempt.filter(invoice_id=cycle.id)
    assert attempt.succeeded and attempt.provider_reference == charge["id"]
