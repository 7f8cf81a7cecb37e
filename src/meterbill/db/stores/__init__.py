"""Storage behind one interface per concern, one implementation per backend (PostgreSQL,
SQLite), chosen once when the database is set up (db/setup.init_db). Services call these
and never write SQL or ask which backend they run on.

The module-level functions are the stores' operations on the current backend."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise import connections

from meterbill.db.stores.credits import CreditStore, PostgresCredits, SqliteCredits
from meterbill.db.stores.events import EventStore, PostgresEvents, SqliteEvents
from meterbill.db.stores.plans import PlanStore, PostgresPlans, SqlitePlans
from meterbill.db.stores.rollups import PostgresRollups, RollupStore, SqliteRollups
from meterbill.db.stores.rows import Columns, PostgresRows, Rows, RowStore, SqliteRows
from meterbill.db.stores.uniques import PostgresUniques, SqliteUniques, UniqueStore
from meterbill.db.stores.usage_reads import PostgresUsageReads, SqliteUsageReads, UsageReadStore
from meterbill.db.stores.webhooks import PostgresWebhooks, SqliteWebhooks, WebhookStore

__all__ = ["Columns", "Stores", "configure", "current", "insert_rows", "update_rows"]


@dataclass(frozen=True)
class Stores:
    rows: RowStore
    rollups: RollupStore
    webhooks: WebhookStore
    credits: CreditStore
    uniques: UniqueStore
    usage_reads: UsageReadStore
    events: EventStore
    plans: PlanStore


_BY_DIALECT = {
    "postgres": lambda: Stores(
        rows=PostgresRows(),
        rollups=PostgresRollups(),
        webhooks=PostgresWebhooks(),
        credits=PostgresCredits(),
        uniques=PostgresUniques(),
        usage_reads=PostgresUsageReads(),
        events=PostgresEvents(),
        plans=PostgresPlans(),
    ),
    "sqlite": lambda: Stores(
        rows=SqliteRows(),
        rollups=SqliteRollups(),
        webhooks=SqliteWebhooks(),
        credits=SqliteCredits(),
        uniques=SqliteUniques(),
        usage_reads=SqliteUsageReads(),
        events=SqliteEvents(),
        plans=SqlitePlans(),
    ),
}
_current: Stores | None = None


def configure(dialect: str | None) -> None:
    """Choose the stores for `dialect` ("postgres", "sqlite"); None forgets the choice."""
    global _current
    _current = None if dialect is None else _BY_DIALECT[dialect]()


def current() -> Stores:
    """The stores chosen at set-up (or, for a tool that opened Tortoise itself, the ones of
    its default connection)."""
    if _current is None:
        configure(connections.get("default").capabilities.dialect)
    assert _current is not None
    return _current


async def insert_rows(table: str, columns: Columns, rows: Rows) -> None:
    await current().rows.insert(table, columns, rows)


async def update_rows(table: str, columns: Columns, rows: Rows) -> None:
    await current().rows.update(table, columns, rows)


async def reserve_invoice_numbers(account_id: str, count: int) -> tuple[int, str]:
    return await current().rows.reserve_invoice_numbers(account_id, count)
