"""Reads of a meter's rollups over a range (meterEventSummaries, period usage), and of the raw
events that rollups leave out (partial minutes at the ends of a period, and what a final
invoice must count before the worker folded it). A range reads its whole hours from the hour
rollups and only the minutes of a partial hour at either end from the minute rollups: an hour
rollup is the merge of its minutes, and merging is associative, so the answer is the one the
minutes alone would give."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tortoise import connections
from tortoise.expressions import Subquery

from meterbill.billing.aggregation import (
    LIKE_ESCAPE,
    Measure,
    Rollup,
    dimension_filter_patterns,
    dimension_filter_substrings,
    fold_all,
    hour_split,
    measures_for,
    merge_all,
    minute_edges,
)
from meterbill.db.models import MeterEvent, MeterEventPending, UsageRollup, UsageRollupHourly
from meterbill.db.rollup_sql import ROLLUP_VALUE_COLUMNS, merge_rollups, rollup_from_row
from meterbill.db.usage_sql import HOUR_TABLE, MINUTE_TABLE

# (bucket, dimensions key, rollup); merging them per window gives the window's value.
Bucket = tuple[datetime, str, Rollup]
# A batch's range of one (meter, customer): (key, account, meter, customer, start, end).
Span = tuple[int, str, str, str, datetime, datetime]

_ROLLUP_COLS = ("bucket", "dimensions_key", *ROLLUP_VALUE_COLUMNS)
_STEP = {"HOUR": timedelta(hours=1), "DAY": timedelta(days=1)}


class UsageReadStore(ABC):
    @abstractmethod
    async def rollups(
        self,
        account_id: str,
        meter_id: str,
        aggregation: str,
        customer_id: str,
        start: datetime,
        end: datetime,
        window: str | None,
        flt: Mapping[str, object],
    ) -> list[Bucket]:
        """Buckets of [start, end) (whole minutes, UTC) whose merge per window (or, without
        one, over the whole range) is the range's usage per dimension set; `flt` keeps the
        dimension sets that match it."""

    async def span_rollups(
        self, hourly: bool, spans: Sequence[Span], measures: tuple[Measure, ...]
    ) -> list[tuple[int, Rollup]]:
        """Each span's minute (or hour) rollups merged: (key, rollup) per span that has
        some. Spans are whole minutes (hours)."""
        model: Any = UsageRollupHourly if hourly else UsageRollup
        out = []
        for k, account_id, meter_id, customer_id, lo, hi in spans:
            rows = await model.filter(
                account_id=account_id,
                meter_id=meter_id,
                customer_id=customer_id,
                bucket__gte=lo,
                bucket__lt=hi,
            ).values(*_ROLLUP_COLS)
            if rows:
                out.append((k, merge_all(rollup_from_row(r) for r in rows)))
        return out

    async def span_events(self, spans: Sequence[Span]) -> list[tuple[int, Rollup]]:
        """Each span's ACCEPTED raw events folded (spans shorter than a minute: the partial
        minutes at a period's ends)."""
        return [(k, await self.raw(a, m, c, lo, hi)) for k, a, m, c, lo, hi in spans]

    async def raw(
        self, account_id: str, meter_id: str, customer_id: str, start: datetime, end: datetime
    ) -> Rollup:
        """The ACCEPTED events of [start, end) folded (the partial minutes at a period's
        ends; microsecond-exact)."""
        events = await MeterEvent.filter(
            account_id=account_id,
            meter_id=meter_id,
            customer_id=customer_id,
            status="ACCEPTED",
            timestamp__gte=start,
            timestamp__lt=end,
        ).values_list("value", "timestamp", "id")
        return fold_all((Decimal(v), t, i) for v, t, i in events)

    async def unaggregated(
        self,
        account_id: str,
        meter_id: str,
        customer_id: str,
        end: datetime | None,
        minutes: tuple[datetime, datetime] | None,
    ) -> Rollup:
        """The events at `end` itself (none asked without it), and the still-pending events
        of the whole `minutes` [lo, hi): what an invoice made now adds to a range read from
        rollups (a final invoice at `end` reads [start, end]; a changed price's span, half
        open, none at its end). The pending rows are locked (the caller's transaction)
        before the rollups are read: the aggregation's claim skips them until commit, so
        none counts both here and in a rollup."""
        base = MeterEvent.filter(
            account_id=account_id, meter_id=meter_id, customer_id=customer_id, status="ACCEPTED"
        )
        rows: list[Any] = []
        if end is not None:
            rows += await base.filter(timestamp=end).values_list("value", "timestamp", "id")
        if minutes is not None:
            lo, hi = minutes
            in_minutes = base.filter(timestamp__gte=lo, timestamp__lt=hi).values_list(
                "id", flat=True
            )
            # Model rows, not values_list(): Tortoise drops FOR UPDATE from a values query,
            # and without the lock a worker folds the row meanwhile and it counts twice.
            locked = (
                await MeterEventPending.filter(event_id__in=Subquery(in_minutes))
                .select_for_update()
                .only("event_id")
            )
            if locked:
                # The range too: it prunes the scan to the partitions of [lo, hi) (PostgreSQL).
                waiting = base.filter(
                    id__in=[p.event_id for p in locked], timestamp__gte=lo, timestamp__lt=hi
                )
                rows += await waiting.values_list("value", "timestamp", "id")
        return fold_all((Decimal(v), t, i) for v, t, i in rows)


class PostgresUsageReads(UsageReadStore):
    async def rollups(
        self,
        account_id: str,
        meter_id: str,
        aggregation: str,
        customer_id: str,
        start: datetime,
        end: datetime,
        window: str | None,
        flt: Mapping[str, object],
    ) -> list[Bucket]:
        """Merged per (window, dimension set) by PostgreSQL, in exact NUMERIC: a month of
        DAY windows is 30 rows per dimension set to Python, merged from 720 hour rollups
        (plus the minutes of a partial hour at either end) instead of 43,200 minutes. Each
        row's bucket is its window's start (date_bin from the aligned start); without a
        window everything falls in the one window at start. Each measure merges by its rule,
        as billing.aggregation.merge does (db/rollup_sql)."""
        hs, he = hour_split(start, end)
        step = _STEP[window] if window else end - start
        measures = measures_for([aggregation])
        cols = ", ".join(["bucket", "dimensions_key", *(c for m in measures for c in m.columns)])
        params: list[Any] = [step, start, account_id, meter_id, customer_id]
        dims = ""
        for pattern in dimension_filter_patterns(flt):
            params.append(pattern)
            dims += f" AND dimensions_key LIKE ${len(params)} ESCAPE '{LIKE_ESCAPE}'"
        ranges = [(HOUR_TABLE, hs, he)] if hs < he else []
        ranges += [(MINUTE_TABLE, a, b) for a, b in minute_edges(start, end, hs, he)]
        parts = []
        for table, a, b in ranges:
            params += [a, b]
            parts.append(
                f"SELECT {cols} FROM {table} WHERE account_id = $3 AND meter_id = $4 AND "
                f"customer_id = $5 AND bucket >= ${len(params) - 1} AND bucket < ${len(params)}"
                f"{dims}"
            )
        sql = (
            "SELECT date_bin($1::interval, bucket, $2) AS w, dimensions_key AS d, "
            f"{merge_rollups(measures)} FROM ({' UNION ALL '.join(parts)}) r GROUP BY 1, 2"
        )
        rows = await connections.get("default").execute_query_dict(sql, params)
        return [(r["w"], r["d"], rollup_from_row(r)) for r in rows]

    async def span_rollups(
        self, hourly: bool, spans: Sequence[Span], measures: tuple[Measure, ...]
    ) -> list[tuple[int, Rollup]]:
        """One statement for the whole batch, merged by PostgreSQL in exact NUMERIC."""
        if not spans:
            return []
        table = HOUR_TABLE if hourly else MINUTE_TABLE
        sql = (
            f"SELECT q.k, {merge_rollups(measures, 'r.')} FROM {_SPANS} "
            f"JOIN {table} r ON r.account_id = q.a AND r.meter_id = q.m "
            "AND r.customer_id = q.c AND r.bucket >= q.lo AND r.bucket < q.hi GROUP BY q.k"
        )
        rows = await connections.get("default").execute_query_dict(sql, _span_arrays(spans))
        return [(int(r["k"]), rollup_from_row(r)) for r in rows]

    async def span_events(self, spans: Sequence[Span]) -> list[tuple[int, Rollup]]:
        """One statement for the whole batch; folding is a merge of one-event rollups, so
        the order of the rows does not matter."""
        if not spans:
            return []
        sql = (
            f"SELECT q.k, e.value, e.timestamp, e.id FROM {_SPANS} "
            "JOIN meter_events e ON e.account_id = q.a AND e.meter_id = q.m "
            "AND e.customer_id = q.c AND e.status = 'ACCEPTED' "
            "AND e.timestamp >= q.lo AND e.timestamp < q.hi"
        )
        rows = await connections.get("default").execute_query_dict(sql, _span_arrays(spans))
        events: dict[int, list[tuple[Decimal, datetime, int]]] = {}
        for r in rows:
            events.setdefault(int(r["k"]), []).append(
                (Decimal(r["value"]), r["timestamp"], int(r["id"]))
            )
        return [(k, fold_all(e)) for k, e in events.items()]


_SPANS = (
    "unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], "
    "$6::timestamptz[]) AS q(k, a, m, c, lo, hi)"
)


def _span_arrays(spans: Sequence[Span]) -> list[list[Any]]:
    return [[span[n] for span in spans] for n in range(6)]


class SqliteUsageReads(UsageReadStore):
    async def rollups(
        self,
        account_id: str,
        meter_id: str,
        aggregation: str,
        customer_id: str,
        start: datetime,
        end: datetime,
        window: str | None,
        flt: Mapping[str, object],
    ) -> list[Bucket]:
        """The stored rollups themselves, merged by the caller in Python (embedded, small)."""
        hs, he = hour_split(start, end)
        ranges: list[tuple[Any, datetime, datetime]] = [(UsageRollupHourly, hs, he)]
        ranges += [(UsageRollup, a, b) for a, b in minute_edges(start, end, hs, he)]
        out: list[Bucket] = []
        for model, a, b in ranges:
            if a >= b:
                continue
            qs = model.filter(
                account_id=account_id,
                meter_id=meter_id,
                customer_id=customer_id,
                bucket__gte=a,
                bucket__lt=b,
            )
            for sub in dimension_filter_substrings(flt):
                qs = qs.filter(dimensions_key__contains=sub)
            out += [
                (r["bucket"], r["dimensions_key"], rollup_from_row(r))
                for r in await qs.values(*_ROLLUP_COLS)
            ]
        return out
