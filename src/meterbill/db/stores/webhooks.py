"""SQL of the webhook tables (db/models/webhooks.py) for both backends: claiming the fan-out
queue and due deliveries, loading what an attempt needs, writing outcomes in batches."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from meterbill.db.stores.rows import Columns, dialect, insert_rows, update_rows
from meterbill.db.usage_sql import is_postgres

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


def _in(conn: Any, column: str, values: Sequence[Any], first: int = 1) -> tuple[str, list[Any]]:
    """`column IN values` as SQL and its arguments, for the connection's backend."""
    if is_postgres(conn):
        return f"{column} = ANY(${first})", [list(values)]
    return f"{column} IN ({', '.join('?' for _ in values)})", list(values)


async def add_pending(rows: Sequence[tuple[str, datetime]]) -> None:
    await insert_rows("webhook_pending", PENDING_COLUMNS, rows)


async def claim_pending(conn: Any, limit: int) -> list[str]:
    """Take (delete) up to `limit` oldest queued event ids in the open transaction; on
    PostgreSQL rows another transaction holds are skipped."""
    if is_postgres(conn):
        rows = await conn.execute_query_dict(
            "DELETE FROM webhook_pending WHERE event_id IN (SELECT event_id FROM "
            "webhook_pending ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED) "
            "RETURNING event_id",
            [limit],
        )
        return [r["event_id"] for r in rows]
    rows = await conn.execute_query_dict(
        "SELECT event_id FROM webhook_pending ORDER BY created_at LIMIT ?", [limit]
    )
    got = [r["event_id"] for r in rows]
    if got:
        where, args = _in(conn, "event_id", got)
        await conn.execute_query(f"DELETE FROM webhook_pending WHERE {where}", args)
    return got


async def events(conn: Any, event_ids: Sequence[str], columns: str) -> list[dict[str, Any]]:
    if not event_ids:
        return []
    where, args = _in(conn, "id", event_ids)
    return list(
        await conn.execute_query_dict(f"SELECT {columns} FROM domain_events WHERE {where}", args)
    )


async def enabled_endpoints(conn: Any, account_ids: Sequence[str]) -> list[dict[str, Any]]:
    if not account_ids:
        return []
    where, args = _in(conn, "account_id", account_ids)
    sql = (
        "SELECT id, account_id, enabled_events FROM webhook_endpoints "
        f"WHERE {where} AND status = 'ENABLED'"
    )
    return list(await conn.execute_query_dict(sql, args))


async def insert_deliveries(rows: Sequence[Sequence[Any]]) -> None:
    await insert_rows("webhook_deliveries", DELIVERY_COLUMNS, rows)


async def due(conn: Any, now: datetime, per_endpoint: int, limit: int) -> list[dict[str, Any]]:
    """Due PENDING deliveries, oldest first, at most `per_endpoint` of each endpoint."""
    sql = (
        "SELECT id, endpoint_id FROM (SELECT id, endpoint_id, next_attempt_at, ROW_NUMBER() "
        "OVER (PARTITION BY endpoint_id ORDER BY next_attempt_at, id) AS rn "
        "FROM webhook_deliveries WHERE status = 'PENDING' AND next_attempt_at <= $1) w "
        "WHERE rn <= $2 ORDER BY next_attempt_at, id LIMIT $3"
    )
    return list(await conn.execute_query_dict(dialect(conn, sql), [now, per_endpoint, limit]))


async def lease(
    conn: Any, ids: Sequence[str], now: datetime, until: datetime
) -> list[dict[str, Any]]:
    """Move the due ones of `ids` to `until` (their lease): a row another worker leased
    first is no longer due and is left out. Returns the leased rows."""
    if not ids:
        return []
    where, args = _in(conn, "id", ids, 3)
    sql = dialect(
        conn,
        "UPDATE webhook_deliveries SET next_attempt_at = $1 WHERE status = 'PENDING' AND "
        "next_attempt_at <= $2 AND ",
    )
    sql += where + " RETURNING id, account_id, event_id, endpoint_id, attempt_count"
    return list(await conn.execute_query_dict(sql, [until, now, *args]))


async def save_outcomes(rows: Sequence[Sequence[Any]]) -> None:
    await update_rows("webhook_deliveries", OUTCOME_COLUMNS, rows)
