"""SQL of usage alerts where the ORM cannot say it: the trigger insert whose duplicates the
unique (alert, customer, period_start) key decides, and the billing periods of many
(customer, meter) pairs in one statement. Both backends ($n on PostgreSQL, ? on SQLite)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from meterbill.db.usage_sql import is_postgres


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
