"""SQL of usage alerts where the ORM cannot say it: the trigger insert whose duplicates the
unique (alert, customer, period_start) key decides, the billing periods of many
(customer, meter) pairs in one statement, and the rows of alert_checks_due (the folds whose
alerts are still to be evaluated: SQLite's claim marks them here, PostgreSQL's in its own
statement, db/usage_sql.py). Both backends ($n on PostgreSQL, ? on SQLite)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from meterbill.db.usage_sql import (
    ALERTS_DUE_HEAD,
    ALERTS_DUE_TABLE,
    ALERTS_DUE_TAIL,
    is_postgres,
)


class TriggerRow(NamedTuple):
    account_id: str
    alert_id: str
    customer_id: str
    period_start: datetime
    value: str
    created_at: datetime


_TRIGGER_COLUMNS = ", ".join(TriggerRow._fields)


def _marks(conn: Any, rows: int, width: int) -> str:
    pg = is_postgres(conn)
    return ", ".join(
        "(" + ", ".join(f"${r * width + c + 1}" if pg else "?" for c in range(width)) + ")"
        for r in range(rows)
    )


async def insert_triggers(conn: Any, rows: Sequence[TriggerRow]) -> list[TriggerRow]:
    """Insert the triggers not yet there (in the caller's transaction); returns those this
    statement inserted. A concurrent insert of the same key makes the database wait for it
    and then skip the row: exactly one of two workers inserts it."""
    if not rows:
        return []
    params = [v for r in rows for v in r]
    sql = (
        f"INSERT INTO billing_alert_triggers ({_TRIGGER_COLUMNS}) "
        f"VALUES {_marks(conn, len(rows), len(TriggerRow._fields))} "
        "ON CONFLICT (alert_id, customer_id, period_start) DO NOTHING "
        "RETURNING alert_id, customer_id"
    )
    got = {(r["alert_id"], r["customer_id"]) for r in await conn.execute_query_dict(sql, params)}
    return [r for r in rows if (r.alert_id, r.customer_id) in got]


# Subscriptions that still bill (not CANCELED, not INCOMPLETE_EXPIRED) with an item whose price
# is on the meter.
_PERIODS = (
    "SELECT DISTINCT s.customer_id, p.meter_id, s.current_period_start AS ps, "
    "s.current_period_end AS pe FROM subscriptions s "
    "JOIN subscription_items i ON i.subscription_id = s.id "
    "JOIN prices p ON p.id = i.price_id "
    "WHERE s.status NOT IN ('CANCELED', 'INCOMPLETE_EXPIRED') AND s.customer_id IN ({c}) "
    "AND p.meter_id IN ({m})"
)


async def subscription_periods(
    conn: Any, customers: Sequence[str], meters: Sequence[str]
) -> list[tuple[str, str, datetime, datetime]]:
    """(customer, meter, current period start, end) of each billing subscription with a
    price on one of `meters`, for `customers`."""
    if not customers or not meters:
        return []
    pg = is_postgres(conn)
    n = len(customers)
    c = ", ".join(f"${k + 1}" if pg else "?" for k in range(n))
    m = ", ".join(f"${n + k + 1}" if pg else "?" for k in range(len(meters)))
    rows = await conn.execute_query_dict(_PERIODS.format(c=c, m=m), [*customers, *meters])
    return [(r["customer_id"], r["meter_id"], _ts(r["ps"]), _ts(r["pe"])) for r in rows]


def _ts(v: Any) -> datetime:
    # asyncpg returns aware datetimes; SQLite the text the driver wrote.
    if isinstance(v, str):
        v = datetime.fromisoformat(v)
    return (v if v.tzinfo is not None else v.replace(tzinfo=UTC)).astimezone(UTC)  # type: ignore[no-any-return]


class CheckDue(NamedTuple):
    account_id: str
    meter_id: str
    customer_id: str
    folds: int


async def mark_checks_due(conn: Any, keys: Sequence[tuple[str, str, str]]) -> None:
    """The (account, meter, customer) keys a fold touched, of meters with ACTIVE alerts, are
    due an evaluation (in the fold's transaction; SQLite's claim)."""
    pg = is_postgres(conn)
    for account, meter, customer in sorted(keys, key=lambda k: k[1:]):
        marks = [f"${n}" if pg else "?" for n in range(1, 4)]
        await conn.execute_query(
            f"{ALERTS_DUE_HEAD} SELECT {marks[0]}, {marks[1]}, {marks[2]}, 1 "
            "WHERE EXISTS (SELECT 1 FROM billing_alerts "
            f"WHERE meter_id = {marks[1]} AND status = 'ACTIVE') {ALERTS_DUE_TAIL}",
            [account, meter, customer] if pg else [account, meter, customer, meter],
        )


async def checks_due(
    conn: Any, keys: Sequence[tuple[str, str]] | None, limit: int = 1000
) -> list[CheckDue]:
    """The due rows of `keys` ((meter, customer) pairs), or any `limit` of them (None)."""
    cols = "account_id, meter_id, customer_id, folds"
    if keys is None:
        sql = f"SELECT {cols} FROM {ALERTS_DUE_TABLE} ORDER BY id LIMIT {int(limit)}"
        rows = await conn.execute_query_dict(sql)
    elif not keys:
        return []
    else:
        sql = (
            f"SELECT {cols} FROM {ALERTS_DUE_TABLE} WHERE (meter_id, customer_id) IN "
            f"(VALUES {_marks(conn, len(keys), 2)})"
        )
        rows = await conn.execute_query_dict(sql, [v for k in keys for v in k])
    return [
        CheckDue(r["account_id"], r["meter_id"], r["customer_id"], int(r["folds"])) for r in rows
    ]


async def clear_checks(conn: Any, rows: Sequence[CheckDue]) -> None:
    """Delete the due rows an evaluation read, unless a fold has written them since (its
    `folds` is then greater: the row stays for that fold's evaluation or the sweep)."""
    if not rows:
        return
    # Passed as text, cast in SQL: the VALUES' parameter types are text on PostgreSQL.
    keys = sorted((r.meter_id, r.customer_id, str(r.folds)) for r in rows)
    # (SQLite takes a row value IN only from a subquery: VALUES on both.)
    await conn.execute_query(
        f"DELETE FROM {ALERTS_DUE_TABLE} WHERE (meter_id, customer_id, folds) IN "
        f"(SELECT column1, column2, CAST(column3 AS BIGINT) FROM "
        f"(VALUES {_marks(conn, len(keys), 3)}) AS v)",
        [v for k in keys for v in k],
    )
