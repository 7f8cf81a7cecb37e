"""The wall-clock billing claim (close_due) reads its batch from an index in claim order
instead of scanning and sorting every subscription: on PostgreSQL the partial index of
migration 0008, on SQLite the (test_clock_id, current_period_end) index."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from tortoise import Tortoise, connections

from meterbill.config import Settings
from meterbill.db.models import Subscription
from meterbill.db.setup import init_db, run_migrations
from meterbill.services.billing_steps import LIVE
from tests import services as svc

INDEX = "subscriptions_wall_clock_due"


def _claim() -> Any:
    # The same query close_due runs.
    return (
        Subscription.filter(
            test_clock_id=None, status__in=LIVE, current_period_end__lte=datetime.now(UTC)
        )
        .order_by("current_period_end")
        .limit(200)
    )


async def _plan(settings: Settings) -> str:
    await run_migrations(settings)
    await init_db(settings)
    try:
        conn = connections.get("default")
        sql = _claim().sql()
        if settings.is_sqlite:
            params = [*LIVE, datetime.now(UTC).isoformat(), 200]
            _, rows = await conn.execute_query(f"EXPLAIN QUERY PLAN {sql}", params)
            return " ".join(str(r["detail"]) for r in rows)
        # PostgreSQL: the planner's choice for the claim's own text and parameters (a custom
        # plan, as asyncpg gets it), with the statistics of an analysed table.
        pg = await asyncpg.connect(settings.database_url.replace("postgres://", "postgresql://"))
        try:
            await pg.execute("ANALYZE subscriptions")
            await pg.execute("SET enable_seqscan = off")  # an empty table: any index will do
            rows = await pg.fetch(f"EXPLAIN {sql}", *LIVE, datetime.now(UTC), 200)
            return " ".join(r[0] for r in rows)
        finally:
            await pg.close()
    finally:
        await Tortoise.close_connections()


def test_sqlite_billing_claim_searches_an_index(tmp_path: Path) -> None:
    plan = asyncio.run(_plan(Settings(database_url=f"sqlite://{tmp_path}/m.db")))
    assert "SEARCH subscriptions USING INDEX" in plan, plan
    assert "current_period_end<" in plan and "TEMP B-TREE" not in plan, plan  # no sort


def test_postgres_billing_claim_uses_the_partial_index() -> None:
    with svc.fresh_pg_database(svc.require_pg()) as url:
        plan = asyncio.run(_plan(Settings(database_url=url)))
    assert INDEX in plan and "Sort" not in plan, plan
