"""Plans load in one joined statement, and the upcoming invoice reads on one connection."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from tortoise import connections

from meterbill.billing.pricing import Tier
from meterbill.db.models import TestClock as Clock
from meterbill.db.pinned import pinned
from meterbill.db.usage_sql import is_postgres
from meterbill.services import plans, subscriptions
from tests import billing_helpers as b
from tests.integration.billing_setup import make_catalog, subscribe_many
from tests.sql_log import capture_sql


class _Sql(list[str]):
    """Statements of the task that last cleared the list: the app's worker runs the billing
    cron (whose tick also reads test_clocks) in its own tasks at any moment."""

    task: asyncio.Task[Any] | None = None

    def clear(self) -> None:
        super().clear()
        self.task = asyncio.current_task()


class _Statements(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.sql = _Sql()

    def emit(self, record: logging.LogRecord) -> None:
        if self.sql.task is None or asyncio.current_task() is self.sql.task:
            self.sql.append(record.getMessage())

    def reading(self, table: str) -> list[str]:
        return [s for s in self.sql if f" {table} " in s or f'"{table}"' in s]


@pytest.fixture
def statements() -> Iterator[_Statements]:
    with capture_sql(_Statements()) as handler:
        yield handler


async def test_plans_of_several_subscriptions_in_one_statement(app: Any, statements) -> None:
    cat = await make_catalog()
    subs = await subscribe_many(cat, 3)
    statements.sql.clear()
    got = await plans.plans([*subs, "sub_missing"])
    assert len(statements.sql) == 1
    assert sorted(got) == sorted(subs)
    for sid in subs:
        usage, license_ = got[sid]
        # Items by position (the request's order), each with its own price and spec.
        assert [usage.item.position, license_.item.position] == [0, 1]
        assert usage.item.subscription_id == license_.item.subscription_id == sid
        assert (usage.price.id, license_.price.id) == (cat.usage_price, cat.license_price)
        assert usage.metered and not license_.metered
        assert usage.name == "Alpaca AI usage" and license_.name == "Alpaca AI license fee"
        assert usage.spec.tiers == (
            Tier(up_to=1000, unit_amount=Decimal(0)),
            Tier(up_to=None, unit_amount=Decimal(4)),
        )
        assert license_.spec.unit_amount == Decimal(10000) and license_.spec.tiers == ()
        assert usage.meter is not None and license_.meter is None
        assert (usage.meter.id, usage.meter.account_id) == (cat.meter_id, cat.account_id)
        assert usage.meter.aggregation == "SUM"
    assert await plans.plans([]) == {}


async def test_subscription_plan_is_scoped_and_carries_clock_and_pending(app: Any) -> None:
    cat = await make_catalog()
    other = await make_catalog("Other Corp")
    clock = await Clock.create(account_id=cat.account_id, frozen_time=b.utc(2026, 3, 1))
    (sid,) = await subscribe_many(cat, 1, clock.id)
    assert await plans.subscription_plan(other.account_id, sid) is None
    assert await plans.subscription_plan(cat.account_id, "sub_missing") is None
    found = await plans.subscription_plan(cat.account_id, sid)
    assert found is not None
    sub, items = found
    assert sub.clock_frozen_time == b.utc(2026, 3, 1)
    assert (sub.current_period_start, sub.current_period_end) == (
        b.utc(2026, 3, 1),
        b.utc(2026, 4, 1),
    )
    assert not sub.has_pending and not sub.cancel_at_period_end
    assert [p.price.id for p in items] == [cat.usage_price, cat.license_price]
    await Clock.filter(id=clock.id).update(frozen_time=b.utc(2026, 3, 16))
    await subscriptions.update_item(cat.account_id, items[1].item.id, 2, "CREATE_PRORATIONS")
    found = await plans.subscription_plan(cat.account_id, sid)
    assert found is not None and found[0].has_pending
    assert found[0].clock_frozen_time == b.utc(2026, 3, 16)


async def test_upcoming_invoice_reads_the_plan_once_and_prorations_only_when_pending(
    app: Any, statements
) -> None:
    cat = await make_catalog()
    clock = await Clock.create(account_id=cat.account_id, frozen_time=b.utc(2026, 3, 1))
    (sid,) = await subscribe_many(cat, 1, clock.id)
    statements.sql.clear()
    preview = await subscriptions.upcoming_invoice(cat.account_id, sid)
    assert preview is not None and preview.created_at == b.utc(2026, 3, 1)
    assert len(statements.reading("price_tiers")) == 1
    assert statements.reading("test_clocks") == statements.reading("price_tiers")
    assert statements.reading("pending_items") == statements.reading("price_tiers")  # EXISTS
    # The metered item's usage uses the plan's meter row: the meter is not read again.
    assert statements.reading("meters") == statements.reading("price_tiers")
    await Clock.filter(id=clock.id).update(frozen_time=b.utc(2026, 3, 16))
    found = await plans.subscription_plan(cat.account_id, sid)
    assert found is not None
    await subscriptions.update_item(cat.account_id, found[1][1].item.id, 3, "CREATE_PRORATIONS")
    statements.sql.clear()
    preview = await subscriptions.upcoming_invoice(cat.account_id, sid)
    assert preview is not None
    assert len(statements.reading("pending_items")) == 2  # the EXISTS, then the items
    assert [(d.type, d.amount) for d in preview.lines if d.type == "PRORATION"] == [
        ("PRORATION", -5161),
        ("PRORATION", 15484),
    ]


async def test_pinned_runs_statements_on_one_connection(app: Any) -> None:
    outside = connections.get("default")
    if not is_postgres(outside):
        async with pinned():  # SQLite has a single connection: nothing to pin
            assert connections.get("default") is outside
        return
    setting = "SELECT current_setting('meterbill.pin', true) AS v"
    async with pinned():
        conn = connections.get("default")
        assert conn is not outside
        await conn.execute_query("SELECT set_config('meterbill.pin', 'yes', false)")
        # A second statement sees the session setting: the same connection, not reset.
        assert (await conn.execute_query_dict(setting))[0]["v"] == "yes"
        # Pool connections are released without asyncpg's reset query (db/setup.py): meterbill
        # leaves no session state (tests/unit/test_no_session_state.py), so neither does this.
        await conn.execute_query("SELECT set_config('meterbill.pin', '', false)")
    assert connections.get("default") is outside
    assert (await outside.execute_query_dict(setting))[0]["v"] in (None, "")
