"""Migration 0011 on a database with a customer, an invoice and a payment attempt (both
backends): the rows keep their values and get empty Stripe ids and codes, an old attempt
does not need the customer, and the attempts' unique (invoice, attempt) key survives (a
SQLite table rebuild would lose it)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from tortoise import connections
from tortoise.exceptions import IntegrityError

from meterbill.config import Settings
from meterbill.db.models import Customer, PaymentAttempt
from meterbill.services.accounts import create_account
from meterbill.services.now import utcnow
from tests import services as svc
from tests.integration.migration_support import database_at

_ROWS = [
    (
        "customers",
        "id, account_id, name, default_payment_method, created_at",
        lambda a, now: ["cus_old", a, "Old", "pm_card_visa", now],
    ),
    (
        "invoices",
        "id, account_id, customer_id, status, billing_reason, collection_method, currency, "
        "period_start, period_end, subtotal, total, amount_due, amount_paid, "
        "collection_pending, payment_failed, created_at",
        lambda a, now: [
            "in_old",
            a,
            "cus_old",
            "OPEN",
            "MANUAL",
            "CHARGE_AUTOMATICALLY",
            "usd",
            now,
            now,
            500,
            500,
            500,
            0,
            False,
            True,
            now,
        ],
    ),
    (
        "payment_attempts",
        "invoice_id, attempt, amount, currency, payment_method, succeeded, failure_message, "
        "created_at",
        lambda a, now: ["in_old", 1, 500, "usd", "pm_card_chargeDeclined", False, "No.", now],
    ),
]


async def _before(settings: Settings) -> None:
    async with database_at(settings, "models.0010_webhooks"):
        account, _ = await create_account("Before 0011")
        conn = connections.get("default")
        pg = conn.capabilities.dialect == "postgres"
        now = utcnow()
        for table, columns, values in _ROWS:
            row = values(account.id, now)
            marks = ", ".join(f"${i}" if pg else "?" for i in range(1, len(row) + 1))
            await conn.execute_query(f"INSERT INTO {table} ({columns}) VALUES ({marks})", row)


async def _attempt(n: int, **kw: Any) -> PaymentAttempt:
    return await PaymentAttempt.create(
        invoice_id="in_old",
        attempt=n,
        amount=500,
        currency="usd",
        payment_method="pm_1",
        created_at=utcnow(),
        **kw,
    )


async def _migrate_and_check(settings: Settings) -> None:
    await _before(settings)
    async with database_at(settings):
        cus = await Customer.get(id="cus_old")
        assert (cus.default_payment_method, cus.stripe_customer_id) == ("pm_card_visa", None)
        assert cus.stripe_payment_method_id is None
        [old] = await PaymentAttempt.filter(invoice_id="in_old")
        assert (old.failure_message, old.failure_code, old.decline_code) == ("No.", None, None)
        assert old.needs_customer_action is False
        new = await _attempt(
            2,
            succeeded=False,
            failure_code="card_declined",
            decline_code="insufficient_funds",
            needs_customer_action=True,
        )
        await new.refresh_from_db()
        assert (new.decline_code, new.needs_customer_action) == ("insufficient_funds", True)
        with pytest.raises(IntegrityError):
            await _attempt(1, succeeded=True)


def test_0011_on_a_database_with_attempts(tmp_path: Path) -> None:
    with svc.fresh_database_url(tmp_path) as url:
        asyncio.run(_migrate_and_check(Settings(database_url=url)))
