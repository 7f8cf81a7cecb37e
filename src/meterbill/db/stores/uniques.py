"""UNIQUE_COUNT reads: the distinct values of a meter and customer over a range, from the
coarsest stored grain that fits each piece of it (billing.aggregation.distinct_spans): the
month and day first-seen rows of usage_unique_values (kept by the aggregation workers,
db/stores/rollups.py), raw events for the rest. PostgreSQL counts in SQL (a month of 100,000
values is one index range of 100,000 rows, counted without leaving the database); SQLite
(embedded, small) reads the values and counts in Python."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from meterbill.billing.aggregation import (
    LIKE_ESCAPE,
    SummaryRow,
    dimension_filter_patterns,
    distinct_rows,
    distinct_spans,
    next_month,
    summarize_distinct,
)
from meterbill.db.usage_sql import COUNT_TABLE, UNIQUE_TABLE, is_postgres


class UniqueStore(ABC):
    async def summary(
        self,
        conn: Any,
        key: tuple[str, str, str],
        start: datetime,
        end: datetime,
        window: str | None,
        filter: Mapping[str, object],
        group_by: Sequence[str],
        one_set: bool = False,
    ) -> list[SummaryRow]:
        """meterEventSummaries rows of a UNIQUE_COUNT meter; key: (account, meter,
        customer). `one_set`: the meter has no dimension keys (every event's set is ""), so
        a window that is exactly one stored day or month is its count row."""
        if one_set and not filter and not group_by:
            buckets = _whole_buckets(start, end, window)
            if buckets is not None:
                counts = await _counts(conn, key, *buckets)
                return distinct_rows(counts, start, end, window)
        return await self.values_summary(conn, key, start, end, window, filter, group_by)

    @abstractmethod
    async def values_summary(
        self,
        conn: Any,
        key: tuple[str, str, str],
        start: datetime,
        end: datetime,
        window: str | None,
        filter: Mapping[str, object],
        group_by: Sequence[str],
    ) -> list[SummaryRow]:
        """summary() from the values themselves (any range, filter, groups)."""

    async def count(
        self,
        conn: Any,
        key: tuple[str, str, str],
        start: datetime,
        end: datetime,
        one_set: bool = False,
    ) -> int:
        """The number of distinct values in [start, end) (any instants, to the
        microsecond)."""
        if start >= end:
            return 0
        rows = await self.summary(conn, key, start, end, None, {}, [], one_set)
        return int(rows[0].value)


def _whole_buckets(
    start: datetime, end: datetime, window: str | None
) -> tuple[str, datetime, datetime] | None:
    """(grain, a, b) when every window of [start, end) is exactly one stored bucket of that
    grain (DAY windows; or no window over exactly one UTC month or day), else None."""
    spans = distinct_spans(start, end, window)
    if len(spans) != 1 or spans[0][0] == "event":
        return None
    grain, a, b = spans[0]
    if window == "DAY":
        return grain, a, b
    whole = next_month(a) if grain == "month" else a + timedelta(days=1)
    return (grain, a, b) if b == whole else None


async def _counts(
    conn: Any, key: tuple[str, str, str], grain: str, a: datetime, b: datetime
) -> dict[datetime, int]:
    pg = is_postgres(conn)
    marks = [f"${n}" if pg else "?" for n in range(1, 6)]
    sql = (
        f"SELECT bucket, distinct_values FROM {COUNT_TABLE} WHERE meter_id = {marks[0]} "
        f"AND customer_id = {marks[1]} AND grain = {marks[2]} AND bucket >= {marks[3]} "
        f"AND bucket < {marks[4]} AND dimensions_key = ''"
    )
    rows = await conn.execute_query_dict(sql, [key[1], key[2], grain, a, b])
    return {_ts(r["bucket"]): int(r["distinct_values"]) for r in rows}


def _parts(
    conn: Any,
    key: tuple[str, str, str],
    start: datetime,
    end: datetime,
    window: str | None,
    filter: Mapping[str, object],
    params: list[Any],
) -> str:
    """UNION ALL of (t, d, v) rows: a stored row's bucket start or a raw event's timestamp,
    its dimensions key, the value. `params` gets the placeholders' values."""
    pg = is_postgres(conn)

    def mark(v: Any) -> str:
        params.append(v)
        return f"${len(params)}" if pg else "?"

    parts = []
    patterns = dimension_filter_patterns(filter)
    for grain, a, b in distinct_spans(start, end, window):
        # Placeholders are marked in the order they appear (SQLite's are positional).
        account, meter, customer = (mark(k) for k in key)
        who = f"account_id = {account} AND meter_id = {meter} AND customer_id = {customer}"
        if grain == "event":
            sql = (
                "SELECT timestamp AS t, dimensions_key AS d, unique_value AS v FROM meter_events "
                f"WHERE {who} AND timestamp >= {mark(a)} AND timestamp < {mark(b)} "
                "AND status = 'ACCEPTED' AND unique_value IS NOT NULL"
            )
        else:
            sql = (
                f"SELECT bucket AS t, dimensions_key AS d, value AS v FROM {UNIQUE_TABLE} "
                f"WHERE {who} AND grain = {mark(grain)} AND bucket >= {mark(a)} "
                f"AND bucket < {mark(b)}"
            )
        for p in patterns:
            sql += f" AND dimensions_key LIKE {mark(p)} ESCAPE '{LIKE_ESCAPE}'"
        parts.append(sql)
    return " UNION ALL ".join(parts)


_STEPS = {"HOUR": timedelta(hours=1), "DAY": timedelta(days=1)}


class PostgresUniques(UniqueStore):
    async def values_summary(
        self,
        conn: Any,
        key: tuple[str, str, str],
        start: datetime,
        end: datetime,
        window: str | None,
        filter: Mapping[str, object],
        group_by: Sequence[str],
    ) -> list[SummaryRow]:
        params: list[Any] = [_STEPS[window] if window else end - start, start]
        parts = _parts(conn, key, start, end, window, filter, params)
        w = "date_bin($1, x.t, $2)"
        if not group_by:
            # Distinct (window, value) pairs counted per window, all in SQL.
            sql = f"SELECT {w} AS w, count(DISTINCT x.v) AS n FROM ({parts}) x GROUP BY 1"
            rows = await conn.execute_query_dict(sql, params)
            return distinct_rows({r["w"]: int(r["n"]) for r in rows}, start, end, window)
        # Groups are parsed from dimension keys in Python: the distinct (window, set, value)
        # triples go there.
        sql = f"SELECT DISTINCT {w} AS w, x.d AS d, x.v AS v FROM ({parts}) x"
        rows = await conn.execute_query_dict(sql, params)
        items = ((r["w"], r["d"], r["v"]) for r in rows)
        return summarize_distinct(items, start, end, window, list(group_by))


def _ts(v: Any) -> datetime:
    # SQLite returns the text the driver wrote.
    if isinstance(v, str):
        v = datetime.fromisoformat(v)
    return v if v.tzinfo is not None else v.replace(tzinfo=UTC)  # type: ignore[no-any-return]


class SqliteUniques(UniqueStore):
    async def values_summary(
        self,
        conn: Any,
        key: tuple[str, str, str],
        start: datetime,
        end: datetime,
        window: str | None,
        filter: Mapping[str, object],
        group_by: Sequence[str],
    ) -> list[SummaryRow]:
        params: list[Any] = []
        parts = _parts(conn, key, start, end, window, filter, params)
        rows = await conn.execute_query_dict(parts, params) if parts else []
        items = ((_ts(r["t"]), r["d"], r["v"]) for r in rows)
        return summarize_distinct(items, start, end, window, list(group_by))
