"""The worker's billing tasks and the test-clock mutations' guards."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tortoise import Tortoise

from meterbill.billing.errors import DomainError
from meterbill.config import Settings
from meterbill.db.models import Invoice
from meterbill.db.models import TestClock as Clock
from meterbill.db.setup import init_db, run_migrations
from meterbill.services import test_clocks
from meterbill.services.accounts import create_account
from meterbill.worker import tasks
from tests import billing_helpers as b
from tests.integration.billing_setup import make_catalog, subscribe_many


async def test_billing_cron_resumes_a_clock_whose_job_was_lost(app: Any) -> None:
    cat = await make_catalog()
    clock = await Clock.create(account_id=cat.account_id, frozen_time=b.utc(2026, 1, 1))
    subs = await subscribe_many(cat, 2, clock.id)
    # ADVANCING without any job queued: as if Redis lost it.
    await Clock.filter(id=clock.id).update(
        status="ADVANCING", frozen_time=b.utc(2026, 2, 1) + timedelta(hours=2)
    )
    await tasks.billing_tick({})
    assert (await Clock.get(id=clock.id)).status == "READY"
    cycles = await Invoice.filter(subscription_id__in=subs, billing_reason="SUBSCRIPTION_CYCLE")
    assert sorted(i.status for i in cycles) == ["PAID", "PAID"]


async def test_advance_guards(tenant: Any) -> None:
    clock = await b.clock(tenant, b.utc(2026, 1, 1))
    q = (
        "mutation($c: ID!, $t: DateTime!) { advanceTestClock(input: {testClockId: $c, "
        "frozenTime: $t}) { testClock { status } userErrors { field code } } }"
    )
    back = await tenant.data(q, {"c": clock, "t": "2025-12-31T00:00:00Z"})
    assert back["advanceTestClock"]["userErrors"] == [
        {"field": ["input", "frozenTime"], "code": "INVALID"}
    ]
    gone = await tenant.data(q, {"c": "clock_nope", "t": "2026-02-01T00:00:00Z"})
    assert gone["advanceTestClock"]["userErrors"][0]["code"] == "NOT_FOUND"


async def test_advancing_an_advancing_clock_is_a_conflict(tmp_path: Path) -> None:
    # Its own database and no worker: nothing may finish the advance behind the test's back.
    settings = Settings(database_url=f"sqlite://{tmp_path}/c.db", redis_url=None)
    await run_migrations(settings)
    await init_db(settings)
    try:
        account, _ = await create_account("Clocks")
        clock = await test_clocks.create_test_clock(account.id, b.utc(2026, 1, 1), None)
        first = await test_clocks.advance_test_clock(account.id, clock.id, b.utc(2026, 1, 2))
        assert first.status == "ADVANCING"
        with pytest.raises(DomainError) as err:
            await test_clocks.advance_test_clock(account.id, clock.id, b.utc(2026, 1, 3))
        assert [(e.code, e.field) for e in err.value.errors] == [
            ("CONFLICT", ("input", "testClockId"))
        ]
        assert await test_clocks.run_test_clock(clock.id)
        again = await test_clocks.advance_test_clock(account.id, clock.id, b.utc(2026, 1, 3))
        assert again.status == "ADVANCING"
    finally:
        await Tortoise.close_connections()
