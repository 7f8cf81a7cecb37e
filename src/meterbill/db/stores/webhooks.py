"""Storage of the webhook tables (db/models/webhooks.py), one implementation per backend:
taking rows of the fan-out queue and due deliveries (SKIP LOCKED on PostgreSQL; SQLite has
one writer), loading what fan-out needs, writing deliveries and outcomes in batches.

The statements both backends share are written once with PostgreSQL's $n placeholders;
the SQLite store turns them into ?s and `= ANY($n)` into IN lists."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from meterbill.db import stores
from meterbill.db.stores.rows import Columns

DELIVERY_COLUMNS: Columns = (
    ("id", "text"),
    ("account_id", "text"),
    ("event_id", "text"),
    ("endpoint_id", "text"),
    ("status", "text"),
    ("attempt_count", "int"),
    ("next_attempt_at", "timestamptz"),
    ("created_at", "timestamptz"),
)
OUTCOME_COLUMNS: Columns = (
    ("id", "text"),
    ("status", "text"),
    ("attempt_count", "int"),
    ("last_attempt_at", "timestamptz"),
    ("next_attempt_at", "timestamptz"),
    ("last_response_status", "int"),
    ("last_error", "text"),
)
PENDING_COLUMNS: Columns = (("event_id", "text"), ("created_at", "timestamptz"))

_DUE = (
    "SELECT id, endpoint_id FROM (SELECT id, endpoint_id, next_attempt_at, ROW_NUMBER() "
    "OVER (PARTITION BY endpoint_id ORDER BY next_attempt_at, id) AS rn "
    "FROM webhook_deliveries WHERE status = 'PENDING' AND next_attempt_at <= $1) w "
    "WHERE rn <= $2 ORDER BY next_attempt_at, id LIMIT $3"
)
_LEASE = (
    "UPDATE webhook_deliveries SET next_attempt_at = $1 WHERE status = 'PENDING' AND "
    "next_attempt_at <= $2 AND {ids} RETURNING id, account_id, event_id, endpoint_id, "
    "attempt_count"
)


class WebhookStore(ABC):
    @abstractmethod
    async def claim_pending(self, conn: Any, limit: int) -> list[str]:
        """Take (delete) up to `limit` oldest queued event ids in the open transaction;
        rows another transaction holds are not waited for."""

    @abstractmethod
    def _in(self, column: str, values: Sequence[Any], n: int) -> tuple[str, list[Any]]:
        """`column` is one of `values`, as SQL with its arguments (first placeholder $n)."""

    @abstractmethod
    def _sql(self, sql: str) -> str:
        """`sql` written with $n placeholders, for this backend."""

    async def events(self, conn: Any, ids: Sequence[str], columns: str) -> list[dict[str, Any]]:
        if not ids:
            return []
        where, args = self._in("id", ids, 1)
        sql = self._sql(f"SELECT {columns} FROM domain_events WHERE {where}")
        return list(await conn.execute_query_dict(sql, args))

    async def enabled_endpoints(self, conn: Any, accounts: Sequence[str]) -> list[dict[str, Any]]:
        if not accounts:
            return []
        where, args = self._in("account_id", accounts, 1)
        sql = self._sql(
            "SELECT id, account_id, enabled_events FROM webhook_endpoints "
            f"WHERE {where} AND status = 'ENABLED'"
        )
        return list(await conn.execute_query_dict(sql, args))

    async def due(
        self, conn: Any, now: datetime, per_endpoint: int, limit: int
    ) -> list[dict[str, Any]]:
        """Due PENDING deliveries, oldest first, at most `per_endpoint` of each endpoint (a
        backlog of one does not hide the others')."""
        return list(await conn.execute_query_dict(self._sql(_DUE), [now, per_endpoint, limit]))

    async def lease(
        self, conn: Any, ids: Sequence[str], now: datetime, until: datetime
    ) -> list[dict[str, Any]]:
        """Move the still-due ones of `ids` to `until` (their lease): a row another worker
        leased first is no longer due and is left out. Returns the leased rows."""
        if not ids:
            return []
        where, args = self._in("id", ids, 3)
        sql = self._sql(_LEASE.format(ids=where))
        return list(await conn.execute_query_dict(sql, [until, now, *args]))


class PostgresWebhooks(WebhookStore):
    async def claim_pending(self, conn: Any, limit: int) -> list[str]:
        rows = await conn.execute_query_dict(
            "DELETE FROM webhook_pending WHERE event_id IN (SELECT event_id FROM "
            "webhook_pending ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED) "
            "RETURNING event_id",
            [limit],
        )
        return [r["event_id"] for r in rows]

    def _in(self, column: str, values: Sequence[Any], n: int) -> tuple[str, list[Any]]:
        return f"{column} = ANY(${n})", [list(values)]

    def _sql(self, sql: str) -> str:
        return sql


_MARK = re.compile(r"\$\d+")


class SqliteWebhooks(WebhookStore):
    async def claim_pending(self, conn: Any, limit: int) -> list[str]:
        # One writer at a time: the open transaction holds the database.
        rows = await conn.execute_query_dict(
            "SELECT event_id FROM webhook_pending ORDER BY created_at LIMIT ?", [limit]
        )
        got = [r["event_id"] for r in rows]
        if got:
            where, args = self._in("event_id", got, 1)
            await conn.execute_query(f"DELETE FROM webhook_pending WHERE {where}", args)
        return got

    def _in(self, column: str, values: Sequence[Any], n: int) -> tuple[str, list[Any]]:
        return f"{column} IN ({', '.join('?' for _ in values)})", list(values)

    def _sql(self, sql: str) -> str:
        return _MARK.sub("?", sql)


def _store() -> WebhookStore:
    return stores.current().webhooks


async def add_pending(rows: Sequence[tuple[str, datetime]]) -> None:
    await stores.insert_rows("webhook_pending", PENDING_COLUMNS, rows)


async def insert_deliveries(rows: Sequence[Sequence[Any]]) -> None:
    await stores.insert_rows("webhook_deliveries", DELIVERY_COLUMNS, rows)


async def save_outcomes(rows: Sequence[Sequence[Any]]) -> None:
    await stores.update_rows("webhook_deliveries", OUTCOME_COLUMNS, rows)


async def claim_pending(conn: Any, limit: int) -> list[str]:
    return await _store().claim_pending(conn, limit)


async def events(conn: Any, ids: Sequence[str], columns: str) -> list[dict[str, Any]]:
    return await _store().events(conn, ids, columns)


async def enabled_endpoints(conn: Any, accounts: Sequence[str]) -> list[dict[str, Any]]:
    return await _store().enabled_endpoints(conn, accounts)


async def due(conn: Any, now: datetime, per_endpoint: int, limit: int) -> list[dict[str, Any]]:
    return await _store().due(conn, now, per_endpoint, limit)


async def lease(
    conn: Any, ids: Sequence[str], now: datetime, until: datetime
) -> list[dict[str, Any]]:
    return await _store().lease(conn, ids, now, until)
