"""Migration 0019 on a database with identifiers (both backends). PostgreSQL: the rows of
meter_event_ids are rekeyed by their 16-byte key (no identifier text, no received_at index),
every one still decides duplicates, per account, a duplicate still answers with its
original event, and an event found through the new key can be canceled; a new identifier
goes in beside them; meter_events has no foreign keys left. SQLite: nothing changes and
the same answers hold."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from tortoise import connections

from meterbill.config import Settings
from meterbill.db.models import Meter
from meterbill.services import usage
from meterbill.services.now import utcnow
from meterbill.services.usage.events import cancel_event
from meterbill.services.usage.record import record_event
from tests import services as svc
from tests.integration.migration_support import database_at
from tests.integration.usage_support import event, record, rollup_sum, setup_meter

_COLUMNS = (
    "account_id, meter_id, customer_id, identifier, event_name, value, timestamp, "
    "dimensions_key, status, created_at"
)


async def _before(settings: Settings) -> dict[str, tuple[str, str, dict[str, int]]]:
    """Two accounts, each with events "one" and "two" stored before 0019."""
    async with database_at(settings, "models.0018_credit_grant_hot"):
        conn = connections.get("default")
        pg = conn.capabilities.dialect == "postgres"
        marks = ", ".join(f"${i}" if pg else "?" for i in range(1, 11))
        now = utcnow()
        out = {}
        for name in ("a", "b"):
            account, meter, cus = await setup_meter()
            ids = {}
            for ident, value, hours in (("one", "1", 2), ("two", "2", 30)):
                at = now - timedelta(hours=hours)
                got = await conn.execute_query_dict(
                    f"INSERT INTO meter_events ({_COLUMNS}) VALUES ({marks}) RETURNING id",
                    [account, meter, cus, ident, "tokens", Decimal(value) if pg else value,
                     at, "", "ACCEPTED", at],
                )  # fmt: skip
                ids[ident] = int(got[0]["id"])
                if pg:
                    await conn.execute_query(
                        "INSERT INTO meter_event_ids (account_id, identifier, event_id, "
                        '"timestamp", received_at) VALUES ($1, $2, $3, $4, $4)',
                        [account, ident, ids[ident], at],
                    )
            out[name] = (account, cus, ids)
        return out


async def _migrate_and_check(settings: Settings) -> None:
    accounts = await _before(settings)
    async with database_at(settings):
        conn = connections.get("default")
        if conn.capabilities.dialect == "postgres":
            cols = await conn.execute_query_dict(
                "SELECT attname FROM pg_attribute WHERE attrelid = 'meter_event_ids'::regclass "
                "AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
            )
            assert [c["attname"] for c in cols] == ["key", "event_id", "timestamp", "received_at"]
            indexes = await conn.execute_query_dict(
                "SELECT indexrelid::regclass::text AS name FROM pg_index "
                "WHERE indrelid = 'meter_event_ids'::regclass"
            )
            assert len(indexes) == 1  # the primary key (key) only
            rows = await conn.execute_query_dict("SELECT count(*) AS n FROM meter_event_ids")
            assert rows[0]["n"] == 4
            # No foreign keys checked per inserted event, on the parent or a partition.
            fks = await conn.execute_query_dict(
                "SELECT conrelid::regclass::text AS t FROM pg_constraint "
                "WHERE contype = 'f' AND conrelid::regclass::text LIKE 'meter_events%'"
            )
            assert fks == []
        for account, cus, ids in accounts.values():
            # Each account's identifiers are its own: both count once in both accounts.
            statuses = await record(
                account, [event(cus, 4, None, "one"), event(cus, 8, None, "new")]
            )
            assert statuses == ["DUPLICATE", "ACCEPTED"]
            again = await record_event(account, event(cus, 16, None, "two"))
            assert again.status == "DUPLICATE"
            assert again.event is not None and again.event.id == ids["two"]
            canceled = await cancel_event(account, "tokens", "one")
            assert (canceled.id, canceled.status) == (ids["one"], "CANCELED")
        await usage.drain()
        # The new events only (the old ones were folded before, in rollups not written here).
        for account, _, _ in accounts.values():
            meter = await Meter.get(account_id=account).values_list("id", flat=True)
            assert await rollup_sum(meter) == (Decimal(8), 1)


def test_migration_rekeys_identifiers(tmp_path: Path) -> None:
    with svc.fresh_database_url(tmp_path) as url:
        asyncio.run(_migrate_and_check(Settings(database_url=url)))
