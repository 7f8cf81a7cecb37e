"""The SQL of the aggregation formulas is generated from billing/aggregation.py's one
definition: every measure's columns appear in each fragment, by the measure's rule, and a
rule without SQL is refused instead of silently left out."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from meterbill.billing.aggregation import (
    ADD,
    FORMULAS,
    MEASURES,
    Measure,
    Rollup,
    measures_for,
)
from meterbill.db.rollup_sql import (
    ROLLUP_VALUE_COLUMNS,
    fold_events,
    merge_rollups,
    rollup_from_row,
    upsert_set,
)


def test_every_column_of_every_measure_is_in_every_fragment() -> None:
    for sql in (merge_rollups(MEASURES, "r."), fold_events(MEASURES), upsert_set("t")):
        for m in MEASURES:
            for c in m.columns:
                assert c in sql, (c, sql)
    assert ROLLUP_VALUE_COLUMNS == (
        "sum",
        "count",
        "last_value",
        "last_ts",
        "last_seq",
        "max_value",
    )


def test_additive_measures_add_and_latest_orders_by_time_then_arrival() -> None:
    assert "sum(r.sum) AS sum" in merge_rollups(MEASURES, "r.")
    assert "count = t.count + excluded.count" in upsert_set("t")
    folded = fold_events(MEASURES)
    assert "count(*) AS count" in folded
    assert "ORDER BY e.timestamp DESC, e.id DESC" in folded


def test_queries_read_only_the_measures_their_formulas_need() -> None:
    assert [m.name for m in measures_for(["SUM"])] == ["sum", "count"]
    assert [m.name for m in measures_for(["COUNT", "LAST"])] == ["sum", "count", "last"]
    assert [m.name for m in measures_for(["MAX"])] == ["sum", "count", "max"]
    # UNIQUE_COUNT reads no rollup measure of its own (distinct values are stored apart).
    assert [m.name for m in measures_for(["UNIQUE_COUNT"])] == ["sum", "count"]
    assert set(FORMULAS) == {"SUM", "COUNT", "LAST", "MAX", "UNIQUE_COUNT"}


def test_max_merges_by_greatest() -> None:
    assert "max(r.max_value) AS max_value" in merge_rollups(MEASURES, "r.")
    assert "max(e.value) AS max_value" in fold_events(MEASURES)
    assert "max_value = greatest(t.max_value, excluded.max_value)" in upsert_set("t")


def test_a_rule_without_sql_is_refused() -> None:
    odd = Measure("median", "middle", ("median_value",), ("value",))
    for make in (
        lambda: merge_rollups([odd]),
        lambda: fold_events([odd]),
        lambda: upsert_set("t", [odd]),
    ):
        with pytest.raises(ValueError, match="middle"):
            make()
    assert Measure("s", ADD, ("sum",), ("value",)).rule == ADD


def test_rows_read_back_into_rollups() -> None:
    ts = datetime(2026, 1, 1, tzinfo=UTC)
    row = {"sum": "1.5", "count": 2, "last_value": "0.5", "last_ts": ts, "last_seq": 7}
    assert rollup_from_row(row) == Rollup(Decimal("1.5"), 2, Decimal("0.5"), ts, 7)
    assert rollup_from_row({**row, "max_value": "4"}).max_value == Decimal(4)
    # Measures not selected (no LAST meter in the query) come back empty.
    assert rollup_from_row({"sum": Decimal(3), "count": 1}) == Rollup(
        Decimal(3), 1, None, None, None
    )
