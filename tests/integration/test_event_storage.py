"""Event storage over time (issue 18), on the deployment's backend, each test in a database
of its own (retention at fixed instants far from today must not touch other tests' rows):
retention removes raw events older than MB_EVENT_RETENTION_DAYS and keeps rollups and
invoices; partitions are made ahead (PostgreSQL) and on demand for test clocks far away;
identifiers stay unique for 35 days, also across a partition boundary and between
concurrent requests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tortoise import Tortoise, connections
from tortoise.transactions import in_transaction

from meterbill.config import Settings
from meterbill.db import partitions, stores
from meterbill.db.models import (
    Invoice,
    MeterEvent,
    MeterEventPending,
    Subscription,
    TestClock,
    UsageRollup,
)
from meterbill.db.setup import init_db, run_migrations
from meterbill.db.stores.events import DUPLICATE, INSERTED, Outcome, Pending
from meterbill.db.usage_sql import EventRow
from meterbill.services import catalog, test_clocks, usage
from meterbill.services.housekeeping import keep_events
from meterbill.services.now import utcnow
from meterbill.services.usage import EventInput, record_events
from tests import services as svc
from tests.integration.billing_setup import make_catalog, subscribe
from tests.integration.usage_support import rollup_sum

GRACE = 3600


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def _run(tmp_path: Path, scenario: Callable[[bool], Awaitable[None]]) -> None:
    async def main(url: str) -> None:
        settings = Settings(database_url=url)
        await run_migrations(settings)
        await init_db(settings)
        try:
            await scenario(connections.get("default").capabilities.dialect == "postgres")
        finally:
            await Tortoise.close_connections()

    with svc.fresh_database_url(tmp_path) as url:
        asyncio.run(main(url))


async def _move_clock(clock_id: str, to: datetime) -> None:
    await TestClock.filter(id=clock_id).update(status="ADVANCING", frozen_time=to)
    assert await test_clocks.run_test_clock(clock_id)


def _tokens(customer: str, value: int, ident: str, at: datetime) -> EventInput:
    return EventInput("tokens", {"customer_id": customer, "value": value}, ident, at)


async def _statuses(account: str, events: list[EventInput]) -> list[str]:
    return [r.status for r in await record_events(account, events)]


async def _invoices(account: str) -> list[tuple[Any, ...]]:
    rows = await Invoice.filter(account_id=account).order_by("created_at", "id")
    return [(i.id, i.status, i.total, i.amount_due, i.period_start) for i in rows]


def test_retention_removes_old_raw_events_and_keeps_rollups_and_invoices(tmp_path: Path):
    async def scenario(pg: bool) -> None:
        cat = await make_catalog("Retention")
        clock = await test_clocks.create_test_clock(cat.account_id, utc(2031, 1, 1), None)
        spec = catalog.CustomerSpec(name="c", payment_method="pm_card_visa", test_clock_id=clock.id)
        sub_id = await subscribe(cat, spec)
        sub = await Subscription.get(id=sub_id)
        cus = sub.customer_id
        # Week of Monday 2031-01-06 (made on demand: far from today's pre-made weeks).
        await _move_clock(clock.id, utc(2031, 1, 10))
        old = _tokens(cus, 3000, "old", utc(2031, 1, 9, 12))
        assert await _statuses(cat.account_id, [old]) == ["ACCEPTED"]
        # Week of 2031-01-27: younger than the retention at the instant below.
        await _move_clock(clock.id, utc(2031, 1, 31, 13))
        young = _tokens(cus, 1000, "young", utc(2031, 1, 31, 12))
        assert await _statuses(cat.account_id, [young]) == ["ACCEPTED"]
        await usage.drain()
        await _move_clock(clock.id, utc(2031, 2, 1) + timedelta(seconds=GRACE + 60))
        invoices = await _invoices(cat.account_id)
        # The first invoice (the seat), then January's: 4,000 tokens (1,000 free, 3,000 at 4
        # cents) and February's seat.
        assert [i[2] for i in invoices] == [10000, 12000 + 10000], invoices
        rollups = await rollup_sum(cat.meter_id)
        assert rollups == (Decimal(4000), 2)
        minutes = await UsageRollup.filter(meter_id=cat.meter_id).count()

        # 2032-03-01 - 400 days = 2031-01-26: the first week is wholly older.
        kept = await keep_events(400, utc(2032, 3, 1))
        assert await MeterEvent.filter(identifier="old").count() == 0
        assert await MeterEvent.filter(identifier="young").count() == 1
        assert await rollup_sum(cat.meter_id) == rollups
        assert await UsageRollup.filter(meter_id=cat.meter_id).count() == minutes
        assert await _invoices(cat.account_id) == invoices
        if pg:
            assert kept.dropped >= 1
            weeks = await partitions.existing(connections.get("default"))
            assert utc(2031, 1, 6) not in weeks
            assert utc(2031, 1, 27) in weeks
        else:
            assert kept.events_deleted == 1
        # Once more: nothing left to do (idempotent).
        again = await keep_events(400, utc(2032, 3, 1))
        assert (again.dropped, again.events_deleted) == (0, 0)

    _run(tmp_path, scenario)


def test_an_event_not_yet_folded_is_never_removed(tmp_path: Path):
    async def scenario(pg: bool) -> None:
        cat = await make_catalog("Pending retention")
        clock = await test_clocks.create_test_clock(cat.account_id, utc(2031, 1, 10), None)
        spec = catalog.CustomerSpec(name="c", test_clock_id=clock.id)
        cus = (await catalog.create_customer(cat.account_id, spec)).id
        ev = _tokens(cus, 5, "waiting", utc(2031, 1, 9, 12))
        assert await _statuses(cat.account_id, [ev]) == ["ACCEPTED"]
        # No worker has folded it: the retention keeps it (and its week's partition).
        await keep_events(400, utc(2032, 3, 1))
        assert await MeterEvent.filter(identifier="waiting").count() == 1
        assert await MeterEventPending.all().count() == 1
        await usage.drain()
        assert await rollup_sum(cat.meter_id) == (Decimal(5), 1)
        await keep_events(400, utc(2032, 3, 1))
        assert await MeterEvent.filter(identifier="waiting").count() == 0
        assert await rollup_sum(cat.meter_id) == (Decimal(5), 1)

    _run(tmp_path, scenario)


def test_partitions_are_made_ahead_once_by_concurrent_workers_and_on_demand(tmp_path: Path):
    async def scenario(pg: bool) -> None:
        now = utc(2030, 6, 5, 10)
        results = await asyncio.gather(*(keep_events(400, now) for _ in range(3)))
        if pg:
            weeks = await partitions.existing(connections.get("default"))
            # 35 days of late events and the week in progress behind, 4 weeks ahead.
            wanted = partitions.weeks_between(now - timedelta(days=42), now + timedelta(days=28))
            assert set(wanted) <= weeks
            assert sum(r.created for r in results) == len(wanted)
        assert (await keep_events(400, now)).created == 0
        # A test clock far in the past and one far in the future: their weeks are made when
        # their first event comes, and the events are stored and folded.
        cat = await make_catalog("Far clocks")
        for at in (utc(2001, 3, 1), utc(2093, 11, 20)):
            clock = await test_clocks.create_test_clock(cat.account_id, at, None)
            spec = catalog.CustomerSpec(name="c", test_clock_id=clock.id)
            cus = (await catalog.create_customer(cat.account_id, spec)).id
            ev = _tokens(cus, 2, f"far-{at.year}", at - timedelta(days=34))
            assert await _statuses(cat.account_id, [ev]) == ["ACCEPTED"]
            if pg:
                weeks = await partitions.existing(connections.get("default"))
                assert partitions.week_start(at - timedelta(days=34)) in weeks
        await usage.drain()
        assert await rollup_sum(cat.meter_id) == (Decimal(4), 2)

    _run(tmp_path, scenario)


def test_identifiers_are_unique_for_35_days_and_across_a_partition_boundary(tmp_path: Path):
    async def scenario(pg: bool) -> None:
        cat = await make_catalog("Dedupe")
        # Monday 2030-01-07 00:00 UTC starts a new weekly partition.
        clock = await test_clocks.create_test_clock(cat.account_id, utc(2030, 1, 7, 0, 2), None)
        spec = catalog.CustomerSpec(name="c", test_clock_id=clock.id)
        cus = (await catalog.create_customer(cat.account_id, spec)).id
        acct = cat.account_id
        before = _tokens(cus, 1, "x", utc(2030, 1, 6, 23, 59))
        assert await _statuses(acct, [before]) == ["ACCEPTED"]
        after = _tokens(cus, 1, "x", utc(2030, 1, 7, 0, 1))
        late = _tokens(cus, 1, "x", utc(2030, 1, 7) - timedelta(days=34))
        assert await _statuses(acct, [after, late]) == ["DUPLICATE", "DUPLICATE"]
        # One request, both sides of the boundary: the first counts.
        pair = [_tokens(cus, 1, "y", utc(2030, 1, 7, 0, 1)), _tokens(cus, 1, "y", before.timestamp)]
        assert await _statuses(acct, pair) == ["ACCEPTED", "DUPLICATE"]
        # Housekeeping 35 days after they were received keeps them unique.
        await keep_events(400, utcnow() + timedelta(days=35))
        assert await _statuses(acct, [after]) == ["DUPLICATE"]
        if pg:
            # Past the dedupe window (36 days) the identifier rows go (the events stay).
            kept = await keep_events(400, utcnow() + timedelta(days=37))
            assert kept.identifiers_deleted == 2
            assert await MeterEvent.filter(account_id=acct).count() == 2
        await usage.drain()
        assert await rollup_sum(cat.meter_id) == (Decimal(2), 2)

    _run(tmp_path, scenario)


def test_concurrent_duplicates_across_a_partition_boundary_count_once(tmp_path: Path):
    async def scenario(pg: bool) -> None:
        meter_cat = await make_catalog("Race")
        spec = catalog.CustomerSpec(name="c")
        cus = (await catalog.create_customer(meter_cat.account_id, spec)).id
        now = utcnow()
        boundary = partitions.week_start(now)
        events = stores.current().events
        await events.ensure([boundary - timedelta(seconds=1), boundary], now)

        def row(at: datetime) -> EventRow:
            return EventRow(
                meter_cat.account_id, meter_cat.meter_id, cus, "same", "tokens",
                Decimal(1), at, "", now,
            )  # fmt: skip

        first_in = asyncio.Event()
        release = asyncio.Event()

        async def first() -> list[Outcome]:
            async with in_transaction() as conn:
                got = await events.insert_guarded(
                    conn, [Pending(row(boundary - timedelta(seconds=1)), None)]
                )
                first_in.set()
                await release.wait()
            return got

        async def second() -> list[Outcome]:
            await first_in.wait()
            async with in_transaction() as conn:
                return await events.insert_guarded(conn, [Pending(row(boundary), None)])

        a = asyncio.create_task(first())
        b = asyncio.create_task(second())
        await first_in.wait()
        await asyncio.sleep(0.3)
        if pg:
            # The second waits for the first's uncommitted identifier, in another week.
            assert not b.done()
        release.set()
        got = await asyncio.gather(a, b)
        assert [[o.status for o in g] for g in got] == [[INSERTED], [DUPLICATE]]
        assert await MeterEvent.filter(identifier="same").count() == 1
        assert await MeterEventPending.all().count() == 1
        await usage.drain()
        assert await rollup_sum(meter_cat.meter_id) == (Decimal(1), 1)

    _run(tmp_path, scenario)


def test_a_drop_that_died_half_way_is_finished_by_the_next_housekeeping(tmp_path: Path):
    if svc.pg_server_url() is None or svc.redis_server_url() is None:
        pytest.skip("partitions are PostgreSQL's (SQLite retention: the tests above)")

    async def scenario(pg: bool) -> None:
        assert pg
        conn = connections.get("default")
        now = utcnow()
        week = utc(2031, 1, 6)
        await stores.current().events.ensure([week], now)
        # Detached (the first half of a drop), not yet dropped.
        name = partitions.partition_name(week)
        await conn.execute_script(f"ALTER TABLE meter_events DETACH PARTITION {name}")
        assert week not in await partitions.existing(conn)
        kept = await keep_events(400, utc(2032, 3, 1))
        assert kept.dropped >= 1
        gone = await conn.execute_query_dict("SELECT to_regclass($1) AS t", [name])
        assert gone[0]["t"] is None

    _run(tmp_path, scenario)
