"""The SQL of the aggregation formulas, generated from their one definition
(billing/aggregation.py MEASURES): each merge rule has its fragment here (ADD, LATEST,
GREATEST; DISTINCT has no rollup columns), for the three
places PostgreSQL merges in exact NUMERIC arithmetic:

- merge_rollups: rollup rows merged per group (summaries, billing batches),
- fold_events: raw events folded per group (the claim of pending events),
- upsert_set: a delta added to a stored rollup (ON CONFLICT DO UPDATE),

and rollup_from_row reads any of them back into a Rollup. A formula whose measure uses an
existing rule needs nothing here; a new rule is one arm in each function below."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from meterbill.billing.aggregation import ADD, GREATEST, LATEST, MEASURES, Measure, Rollup

# Rollup columns in the order of the table's definition (after the key columns).
ROLLUP_VALUE_COLUMNS = tuple(c for m in MEASURES for c in m.columns)
# What one raw event (meter_events alias e) contributes, per from_event name.
_EVENT = {"value": "e.value", "timestamp": "e.timestamp", "id": "e.id", "1": "1"}


def _latest_order(cols: Sequence[str], desc_value: bool = True) -> str:
    v, t, q = cols
    tail = f", {v} DESC" if desc_value else ""
    return f"{t} DESC, {q} DESC{tail}"


def _latest(exprs: Sequence[str], names: Sequence[str], order: str, where: str) -> list[str]:
    """(value, timestamp, seq) of the first row in `order`: the greatest timestamp is max()."""
    (v, t, q), (vn, tn, qn) = exprs, names
    return [
        f"(array_agg({v} ORDER BY {order}){where})[1] AS {vn}",
        f"max({t}) AS {tn}",
        f"(array_agg({q} ORDER BY {order}){where})[1] AS {qn}",
    ]


def merge_rollups(measures: Sequence[Measure], alias: str = "") -> str:
    """SELECT items merging the rollup rows (table alias `alias`, e.g. "r.") of each group;
    each item is named by its column."""
    out = []
    for m in measures:
        cols = [alias + c for c in m.columns]
        if m.rule == ADD:
            out += [f"sum({c}) AS {name}" for c, name in zip(cols, m.columns, strict=True)]
        elif m.rule == LATEST:
            # The value only breaks ties that arrival order cannot, as merge() does.
            present = f" FILTER (WHERE {cols[1]} IS NOT NULL)"
            out += _latest(cols, m.columns, _latest_order(cols), present)
        elif m.rule == GREATEST:
            out += [f"max({c}) AS {name}" for c, name in zip(cols, m.columns, strict=True)]
        else:
            raise ValueError(f"no SQL for merge rule {m.rule!r}")
    return ", ".join(out)


def fold_events(measures: Sequence[Measure]) -> str:
    """SELECT items folding the raw events (alias e) of each group into a rollup: ids are
    unique, so LATEST has no ties to break."""
    out = []
    for m in measures:
        src = [_EVENT[f] for f in m.from_event]
        if m.rule == ADD:
            for expr, name in zip(src, m.columns, strict=True):
                out.append(f"count(*) AS {name}" if expr == "1" else f"sum({expr}) AS {name}")
        elif m.rule == LATEST:
            out += _latest(src, m.columns, _latest_order(src, desc_value=False), "")
        elif m.rule == GREATEST:
            out += [f"max({e}) AS {name}" for e, name in zip(src, m.columns, strict=True)]
        else:
            raise ValueError(f"no SQL for merge rule {m.rule!r}")
    return ", ".join(out)


def upsert_set(table: str, measures: Sequence[Measure] = MEASURES) -> str:
    """The SET list of INSERT INTO `table` ... ON CONFLICT DO UPDATE adding `excluded` (a
    delta) to the stored rollup."""
    out = []
    for m in measures:
        if m.rule == ADD:
            out += [f"{c} = {table}.{c} + excluded.{c}" for c in m.columns]
        elif m.rule == LATEST:
            # The greatest (timestamp, arrival order) wins; a delta without one keeps the old.
            _, t, q = m.columns
            newer = (
                f"(excluded.{t} IS NOT NULL AND ({table}.{t} IS NULL OR "
                f"(excluded.{t}, excluded.{q}) > ({table}.{t}, {table}.{q})))"
            )
            out += [
                f"{c} = CASE WHEN {newer} THEN excluded.{c} ELSE {table}.{c} END" for c in m.columns
            ]
        elif m.rule == GREATEST:
            # greatest() ignores NULLs: a delta without a value keeps the stored one.
            out += [f"{c} = greatest({table}.{c}, excluded.{c})" for c in m.columns]
        else:
            raise ValueError(f"no SQL for merge rule {m.rule!r}")
    return ", ".join(out)


def _dec(v: Any) -> Decimal | None:
    return None if v is None else Decimal(v)


def _int(v: Any) -> int | None:
    return None if v is None else int(v)


# How each rollup column comes back from the driver (absent or NULL: None).
_READ: dict[str, Callable[[Any], Any]] = {
    "sum": Decimal,
    "count": int,
    "last_value": _dec,
    "last_ts": lambda v: v,
    "last_seq": _int,
    "max_value": _dec,
}


def rollup_from_row(row: Mapping[str, Any]) -> Rollup:
    """The Rollup of a row selected with merge_rollups / fold_events (measures not selected
    are empty)."""
    empty = Rollup.empty()
    values = {
        c: _READ[c](row[c]) if c in row and row[c] is not None else getattr(empty, c)
        for c in ROLLUP_VALUE_COLUMNS
    }
    return Rollup(**values)
