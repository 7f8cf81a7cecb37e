"""Migration 0021 on a database whose invoices took credits (both backends): each invoice's
applications move onto its row in the order paid, an invoice that took none gets none, the
old table is gone, voiding a migrated invoice gives exactly its credits back, and migrating
back to 0020 restores the rows."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from tortoise import Tortoise, connections
from tortoise.migrations.api import migrate

from meterbill.billing.credits import Application, applications_from_text
from meterbill.config import Settings
from meterbill.db.models import CreditGrant, Invoice
from meterbill.db.setup import tortoise_config
from meterbill.services.accounts import create_account
from meterbill.services.invoices import void_invoice
from tests import services as svc
from tests.integration.migration_support import database_at

AT = datetime(2026, 3, 1, tzinfo=UTC)
# Grant "b" paid first: the order kept is the order paid, not the ids'.
PAID = [("in_took", "credgr_b", 700), ("in_took", "credgr_a", 300), ("in_other", "credgr_a", 5)]


async def _insert(table: str, values: dict[str, object]) -> None:
    conn = connections.get("default")
    pg = conn.capabilities.dialect == "postgres"
    marks = ", ".join(f"${i}" if pg else "?" for i in range(1, len(values) + 1))
    sql = f"INSERT INTO {table} ({', '.join(values)}) VALUES ({marks})"
    await conn.execute_query(sql, list(values.values()))


async def _before(settings: Settings) -> str:
    async with database_at(settings, "models.0020_plain_rollup_keys"):
        account, _ = await create_account("Before 0021")
        a = account.id
        await _insert(
            "customers", {"id": "cus_old", "account_id": a, "name": "Old", "created_at": AT}
        )
        for gid, available in (("credgr_a", 1000), ("credgr_b", 300)):
            await _insert(
                "credit_grants",
                {
                    "id": gid,
                    "account_id": a,
                    "customer_id": "cus_old",
                    "category": "PAID",
                    "currency": "usd",
                    "amount": available + 1000,
                    "available_amount": available,
                    "price_ids": "",
                    "priority": 50,
                    "effective_at": AT,
                    "created_at": AT,
                    "recorded_at": AT,
                },
            )
        for iid, took in (("in_took", 1000), ("in_other", 5), ("in_none", 0)):
            await _insert(
                "invoices",
                {
                    "id": iid,
                    "account_id": a,
                    "customer_id": "cus_old",
                    "status": "OPEN",
                    "billing_reason": "MANUAL",
                    "collection_method": "SEND_INVOICE",
                    "currency": "usd",
                    "period_start": AT,
                    "period_end": AT,
                    "subtotal": 2000,
                    "total": 2000,
                    "amount_due": 2000 - took,
                    "amount_paid": 0,
                    "total_credits_applied": took,
                    "collection_pending": False,
                    "payment_failed": False,
                    "created_at": AT,
                    "finalized_at": AT,
                },
            )
        for invoice_id, grant_id, amount in PAID:
            await _insert(
                "credit_applications",
                {
                    "account_id": a,
                    "invoice_id": invoice_id,
                    "grant_id": grant_id,
                    "amount": amount,
                    "created_at": AT,
                },
            )
        return a


async def _tables() -> set[str]:
    conn = connections.get("default")
    if conn.capabilities.dialect == "postgres":
        rows = await conn.execute_query_dict("SELECT tablename AS name FROM pg_tables")
    else:
        rows = await conn.execute_query_dict("SELECT name FROM sqlite_master WHERE type='table'")
    return {r["name"] for r in rows}


async def _migrate_and_check(settings: Settings) -> None:
    account_id = await _before(settings)
    async with database_at(settings):
        assert "credit_applications" not in await _tables()
        rows = {i.id: i.credit_applications for i in await Invoice.all()}
        assert applications_from_text("in_took", rows["in_took"]) == [
            Application("in_took", "credgr_b", 700),
            Application("in_took", "credgr_a", 300),
        ]
        assert applications_from_text("in_other", rows["in_other"]) == [
            Application("in_other", "credgr_a", 5)
        ]
        assert rows["in_none"] == ""
        await void_invoice(account_id, "in_took")
        left = {g.id: g.available_amount for g in await CreditGrant.all()}
        assert left == {"credgr_a": 1300, "credgr_b": 1000}
    await migrate(config=tortoise_config(settings), target="models.0020_plain_rollup_keys")
    await Tortoise.close_connections()
    async with database_at(settings, "models.0020_plain_rollup_keys"):
        conn = connections.get("default")
        back = await conn.execute_query_dict(
            "SELECT invoice_id, grant_id, amount FROM credit_applications ORDER BY id"
        )
        assert sorted((r["invoice_id"], r["grant_id"], r["amount"]) for r in back) == sorted(PAID)


def test_migration_moves_applications_onto_invoices(tmp_path: Path) -> None:
    with svc.fresh_database_url(tmp_path) as url:
        asyncio.run(_migrate_and_check(Settings(database_url=url)))
