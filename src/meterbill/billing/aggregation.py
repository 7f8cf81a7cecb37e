"""Usage aggregation (data flow 2-3): the SUM/COUNT/LAST/MAX merge rules over rollups,
UNIQUE_COUNT's distinct values, minute buckets, dimension-set keys a database can filter on,
and the windows of meterEventSummaries.

A Rollup carries every rollup aggregate whatever the meter's formula: one row shape serves
every meter, and a bucket can always be recomputed by folding its raw events again.
UNIQUE_COUNT cannot be merged from per-bucket numbers (a value seen in two buckets counts
once): its meters keep first-seen rows per (day or month, value) instead
(db/stores/uniques.py) and are counted by `count_distinct` below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Context, Decimal, Inexact, InvalidOperation
from typing import NamedTuple, TypeVar
from urllib.parse import unquote

from meterbill.billing.errors import BadUserInput

WINDOWS = ("HOUR", "DAY")
MAX_SUMMARY_ROWS = 10_000
LIKE_ESCAPE = "\\"

# Sums must never round silently: the precision is far above any sum of validated event
# values, and Inexact is trapped so an impossible overflow fails instead of billing a guess.
EXACT = Context(prec=100, traps=[Inexact, InvalidOperation])

T = TypeVar("T")  # what one item brings
C = TypeVar("C")  # what a cell holds

_STEPS = {"HOUR": timedelta(hours=1), "DAY": timedelta(days=1)}


# ---------------------------------------------------------------- rollups


@dataclass(frozen=True)
class Rollup:
    sum: Decimal
    count: int
    last_value: Decimal | None
    last_ts: datetime | None
    last_seq: int | None
    max_value: Decimal | None = None

    @classmethod
    def empty(cls) -> Rollup:
        return cls(Decimal(0), 0, None, None, None, None)


# ---------------------------------------------------------------- formulas
#
# The one definition of each aggregation. A rollup keeps every measure below (one row shape
# serves every meter); a formula reads one measure. A measure's merge rule says how two
# rollups combine, here in merge() and in SQL (db/rollup_sql.py generates each statement's
# fragment from these definitions); `from_event` says what one raw event contributes to
# each of its columns (the event's value, timestamp, id, or the constant 1).
#
# A new formula: its Measure (or reuse one), its FORMULAS entry, its arm in merge() and
# value_of(), a rollup column (db/models/usage.py + a migration); a new merge rule also needs
# its SQL in db/rollup_sql.py.

ADD = "add"  # the columns add up
LATEST = "latest"  # the columns of the greatest (timestamp, seq) win
GREATEST = "greatest"  # the largest value wins (None: no value yet)
# Not a rollup rule: distinct values are kept per day and month outside the rollups (no
# rollup columns), see db/stores/uniques.py.
DISTINCT = "distinct"


@dataclass(frozen=True)
class Measure:
    name: str
    rule: str
    columns: tuple[str, ...]
    from_event: tuple[str, ...]


SUM = Measure("sum", ADD, ("sum",), ("value",))
COUNT = Measure("count", ADD, ("count",), ("1",))
LAST = Measure("last", LATEST, ("last_value", "last_ts", "last_seq"), ("value", "timestamp", "id"))
MAX = Measure("max", GREATEST, ("max_value",), ("value",))
UNIQUE = Measure("unique", DISTINCT, (), ("unique_value",))
MEASURES = (SUM, COUNT, LAST, MAX)
# formula -> the measure it reads
FORMULAS: dict[str, Measure] = {
    "SUM": SUM,
    "COUNT": COUNT,
    "LAST": LAST,
    "MAX": MAX,
    "UNIQUE_COUNT": UNIQUE,
}
UNIQUE_COUNT = "UNIQUE_COUNT"


def measures_for(formulas: Iterable[str]) -> tuple[Measure, ...]:
    """The measures a query must read for meters of `formulas`: the additive ones always
    (cheap, and every Rollup has them), the others only when a formula reads them."""
    wanted = {FORMULAS[f] for f in formulas}
    return tuple(m for m in MEASURES if m.rule == ADD or m in wanted)


def is_distinct(formula: str) -> bool:
    """Whether the formula counts distinct values (read from the first-seen rows, never from
    rollups)."""
    return FORMULAS[formula].rule == DISTINCT


def _last_key(r: Rollup) -> tuple[datetime, int, Decimal] | None:
    if r.last_ts is None or r.last_seq is None or r.last_value is None:
        return None
    # The value only breaks ties that arrival order cannot (two rollups claiming the same
    # event), so merge stays commutative even on inconsistent input.
    return (r.last_ts, r.last_seq, r.last_value)


def _greatest(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    if a is None:
        return b
    return a if b is None or a >= b else b


def merge(a: Rollup, b: Rollup) -> Rollup:
    ka, kb = _last_key(a), _last_key(b)
    last = a if kb is None or (ka is not None and ka >= kb) else b
    return Rollup(
        EXACT.add(a.sum, b.sum),
        a.count + b.count,
        last.last_value,
        last.last_ts,
        last.last_seq,
        _greatest(a.max_value, b.max_value),
    )


def fold(r: Rollup, value: Decimal, ts: datetime, seq: int) -> Rollup:
    # One event is a one-event rollup, so folding and merging cannot disagree.
    return merge(r, Rollup(value, 1, value, _utc(ts), seq, value))


def fold_all(events: Iterable[tuple[Decimal, datetime, int]]) -> Rollup:
    """Rollup of (value, timestamp, seq) events, e.g. to recompute a bucket after a cancel."""
    r = Rollup.empty()
    for value, ts, seq in events:
        r = fold(r, value, ts, seq)
    return r


def merge_all(rollups: Iterable[Rollup]) -> Rollup:
    out = Rollup.empty()
    for r in rollups:
        out = merge(out, r)
    return out


def value_of(formula: str, r: Rollup) -> Decimal:
    if formula == "SUM":
        return r.sum
    if formula == "COUNT":
        return Decimal(r.count)
    if formula == "LAST":
        return r.last_value if r.last_value is not None else Decimal(0)
    if formula == "MAX":
        return r.max_value if r.max_value is not None else Decimal(0)
    if formula in FORMULAS:
        raise ValueError(f"{formula} is not read from rollups (count_distinct)")
    raise ValueError(f"unknown aggregation formula {formula!r}")


def _utc(ts: datetime) -> datetime:
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError(f"timestamp {ts.isoformat()} has no timezone")
    return ts.astimezone(UTC)


def minute_bucket(ts: datetime) -> datetime:
    return _utc(ts).replace(second=0, microsecond=0)


def hour_bucket(ts: datetime) -> datetime:
    return minute_bucket(ts).replace(minute=0)


def ceil_minute(ts: datetime) -> datetime:
    """The first minute boundary at or after `ts`."""
    floor = minute_bucket(ts)
    return floor if floor == ts else floor + timedelta(minutes=1)


def hour_split(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """(hs, he): [hs, he) are the whole hours in [start, end), start <= hs <= he <= end; the
    minutes of [start, hs) and [he, end) (minute_edges) are the rest. Usage reads take the
    whole hours from hour rollups and only the rest from minute rollups."""
    hs, he = hour_bucket(start), hour_bucket(end)
    if hs < start:
        hs += timedelta(hours=1)
    return (hs, he) if hs < he else (end, end)


def minute_edges(
    start: datetime, end: datetime, hs: datetime, he: datetime
) -> list[tuple[datetime, datetime]]:
    """The non-empty parts of [start, end) outside the whole hours [hs, he) of hour_split."""
    return [(a, b) for a, b in ((start, hs), (he, end)) if a < b]


# ---------------------------------------------------------------- dimension sets
#
# Key format: "" for no dimensions, else "|k1=v1|k2=v2|" sorted by encoded key. Keys and values
# are UTF-8 percent-encoded (lowercase hex) except [a-z0-9-._~]: the separators can never occur
# inside a pair, so a filter {k: v} is the substring "|k=v|", and the key holds no uppercase
# letter, so SQLite's ASCII case-insensitive LIKE is exact too. Numbers are stored as their
# normalized decimal text (5, 5.0 and "5" are all "5"); strings are stored verbatim ("5.0"
# stays "5.0").

_SAFE = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-._~")
_MAX_NUMBER_EXPONENT = 100


def dimension_text(value: object) -> str:
    """The stored text of one dimension value; ValueError unless a string or finite number."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError("a dimension value must be a string or a number")
    if isinstance(value, str):
        return value
    # repr is the shortest text that round-trips, i.e. what a JSON client wrote.
    d = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not d.is_finite():
        raise ValueError("a dimension value must be a finite number")
    if d.is_zero():
        return "0"
    if abs(d.adjusted()) > _MAX_NUMBER_EXPONENT or len(d.as_tuple().digits) > EXACT.prec:
        raise ValueError("a numeric dimension value is too long")
    return f"{d.normalize(EXACT):f}"


def _encode(s: str) -> str:
    # str.encode raises UnicodeEncodeError (a ValueError) on lone surrogates.
    return "".join(c if c in _SAFE else "".join(f"%{b:02x}" for b in c.encode()) for c in s)


def _pair(key: object, value: object) -> str:
    if not isinstance(key, str) or not key:
        raise ValueError("a dimension key must be a non-empty string")
    return f"{_encode(key)}={_encode(dimension_text(value))}"


def canonical_dimensions(dims: Mapping[str, str | int | Decimal]) -> str:
    if not dims:
        return ""
    return "|" + "|".join(sorted(_pair(k, v) for k, v in dims.items())) + "|"


def parse_dimensions(key: str) -> dict[str, str]:
    if key == "":
        return {}
    if len(key) < 3 or key[0] != "|" or key[-1] != "|":
        raise ValueError(f"not a dimension key: {key!r}")
    out: dict[str, str] = {}
    for pair in key[1:-1].split("|"):
        k, sep, v = pair.partition("=")
        if not sep or not k:
            raise ValueError(f"not a dimension key: {key!r}")
        out[unquote(k, errors="strict")] = unquote(v, errors="strict")
    return out


def dimension_filter_substrings(filter: Mapping[str, object]) -> list[str]:
    """One "|k=v|" per filter pair: a key matches when it contains all of them (for ORM
    `contains` lookups, which escape LIKE wildcards themselves). BadUserInput on bad values."""
    out = []
    for k, v in sorted(filter.items()):
        try:
            out.append(f"|{_pair(k, v)}|")
        except ValueError as e:
            raise BadUserInput(f"filter.{k}: {e}", ("filter", str(k))) from e
    return out


def dimension_filter_patterns(filter: Mapping[str, object]) -> list[str]:
    """LIKE patterns for hand-written SQL: `dims LIKE ? ESCAPE '\\'` (LIKE_ESCAPE) per pattern."""
    return [f"%{_like_escape(s)}%" for s in dimension_filter_substrings(filter)]


def _like_escape(s: str) -> str:
    e = LIKE_ESCAPE
    return s.replace(e, e + e).replace("%", e + "%").replace("_", e + "_")


def dimensions_match(key: str, filter: Mapping[str, object]) -> bool:
    return all(s in key for s in dimension_filter_substrings(filter))


# ---------------------------------------------------------------- summary windows


def _step(window: str | None) -> timedelta | None:
    if window is None:
        return None
    if window not in _STEPS:
        raise ValueError(f"unknown grouping window {window!r}")
    return _STEPS[window]


def check_alignment(start: datetime, end: datetime, window: str | None) -> None:
    _step(window)
    for name, ts in (("startTime", start), ("endTime", end)):
        if ts.tzinfo is None or ts.utcoffset() is None:
            raise BadUserInput(f"{name} must include a timezone", (name,))
        u = ts.astimezone(UTC)
        if u.second or u.microsecond:
            raise BadUserInput(f"{name} must be aligned to a whole minute", (name,))
        if window is not None and u.minute:
            raise BadUserInput(
                f"{name} must be aligned to a whole hour with {window} windows", (name,)
            )
        if window == "DAY" and u.hour:
            raise BadUserInput(f"{name} must be at 00:00 UTC with DAY windows", (name,))
    if start >= end:
        raise BadUserInput("startTime must be before endTime", ("startTime",))


def window_count(start: datetime, end: datetime, window: str | None) -> int:
    step = _step(window)
    if start >= end:
        return 0
    return 1 if step is None else -(-(end - start) // step)


def window_starts(start: datetime, end: datetime, window: str | None) -> list[datetime]:
    step, s = _step(window), _utc(start)
    return [s if step is None else s + i * step for i in range(window_count(s, end, window))]


def check_row_limit(windows: int, groups: int) -> None:
    if windows * groups > MAX_SUMMARY_ROWS:
        raise BadUserInput(
            f"the summary would have {windows * groups} rows ({windows} windows x {groups} "
            f"groups); at most {MAX_SUMMARY_ROWS} are allowed: shorten the range, use a larger "
            "window or fewer groupBy keys"
        )


class SummaryRow(NamedTuple):
    start: datetime
    end: datetime
    value: Decimal
    dimensions: dict[str, str]


_Group = tuple[tuple[str, str], ...]


def _group_order(keys: list[str]) -> Callable[[_Group], list[tuple[int, str]]]:
    # Groups lacking a key sort before those having it, then by value, key by key.
    def order(g: _Group) -> list[tuple[int, str]]:
        d = dict(g)
        return [(1, d[k]) if k in d else (0, "") for k in keys]

    return order


def _cells(
    items: Iterable[tuple[datetime, str, T]],
    s: datetime,
    e: datetime,
    step: timedelta | None,
    keys: list[str],
    add: Callable[[C | None, T], C],
) -> tuple[dict[tuple[int, _Group], C], set[_Group]]:
    """Items of [s, e) combined per (window index, group); the groups seen (ungrouped: the
    single group {} always)."""
    cells: dict[tuple[int, _Group], C] = {}
    groups: set[_Group] = set() if keys else {()}
    for minute, dims_key, item in items:
        m = _utc(minute)
        if not s <= m < e:
            continue
        i = 0 if step is None else (m - s) // step
        dims = parse_dimensions(dims_key) if keys else {}
        g = tuple((k, dims[k]) for k in keys if k in dims)
        groups.add(g)
        cells[(i, g)] = add(cells.get((i, g)), item)
    return cells, groups


def _rows(
    s: datetime,
    e: datetime,
    window: str | None,
    keys: list[str],
    cells: Mapping[tuple[int, _Group], C],
    groups: set[_Group],
    value: Callable[[C | None], Decimal],
) -> list[SummaryRow]:
    step = _step(window)
    starts = window_starts(s, e, window)
    check_row_limit(len(starts), len(groups))
    ordered = sorted(groups, key=_group_order(keys))
    rows = []
    for i, ws in enumerate(starts):
        we = e if step is None else min(ws + step, e)
        for g in ordered:
            rows.append(SummaryRow(ws, we, value(cells.get((i, g))), dict(g)))
    return rows


def summarize(
    formula: str,
    buckets: Iterable[tuple[datetime, str, Rollup]],
    start: datetime,
    end: datetime,
    window: str | None,
    group_by: list[str],
) -> list[SummaryRow]:
    """Rows of meterEventSummaries from (minute, dimensions key, rollup) buckets: one per
    window per group, ascending. Ungrouped, the single group {} always has rows (value 0
    without data); grouped, only groups seen in [start, end) do. Buckets outside are ignored."""
    value_of(formula, Rollup.empty())
    s, e, step = _utc(start), _utc(end), _step(window)
    check_row_limit(window_count(s, e, window), 1)
    keys = list(dict.fromkeys(group_by))

    def add(a: Rollup | None, b: Rollup) -> Rollup:
        return b if a is None else merge(a, b)

    cells, groups = _cells(buckets, s, e, step, keys, add)
    return _rows(
        s, e, window, keys, cells, groups, lambda r: value_of(formula, r or Rollup.empty())
    )


# ---------------------------------------------------------------- distinct values
#
# UNIQUE_COUNT counts the distinct value texts of a window. A range is read from the coarsest
# stored grain that fits: whole UTC months from the month rows, whole UTC days from the day
# rows, the rest (a partial day, HOUR windows) from raw events. A value's rows in several
# grains or several days of one window count once: distinct counting is idempotent, so
# reading a value from two sources never counts it twice.

GRAINS = ("month", "day", "event")


def month_start(ts: datetime) -> datetime:
    return _utc(ts).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(ts: datetime) -> datetime:
    m = month_start(ts)
    return m.replace(year=m.year + 1, month=1) if m.month == 12 else m.replace(month=m.month + 1)


def day_start(ts: datetime) -> datetime:
    return _utc(ts).replace(hour=0, minute=0, second=0, microsecond=0)


def _ceil(
    ts: datetime, floor: Callable[[datetime], datetime], up: Callable[[datetime], datetime]
) -> datetime:
    f = floor(ts)
    return f if f == ts else up(f)


def distinct_spans(
    start: datetime, end: datetime, window: str | None = None
) -> list[tuple[str, datetime, datetime]]:
    """(grain, a, b) pieces covering [start, end) exactly, each read from `grain` ("month",
    "day" or "event"): every piece lies within one window of `window` (HOUR windows read
    raw events; DAY windows, aligned to 00:00, day rows)."""
    s, e = _utc(start), _utc(end)
    if s >= e:
        return []
    if window == "HOUR":
        return [("event", s, e)]
    if window == "DAY":
        return [("day", s, e)]
    _step(window)
    one_day = timedelta(days=1)
    d_lo, d_hi = _ceil(s, day_start, lambda d: d + one_day), day_start(e)
    if d_lo >= d_hi:
        return [("event", s, e)]
    m_lo, m_hi = _ceil(d_lo, month_start, next_month), month_start(d_hi)
    out = [("event", s, d_lo)]
    if m_lo < m_hi:
        out += [("day", d_lo, m_lo), ("month", m_lo, m_hi), ("day", m_hi, d_hi)]
    else:
        out.append(("day", d_lo, d_hi))
    out.append(("event", d_hi, e))
    return [(g, a, b) for g, a, b in out if a < b]


def summarize_distinct(
    values: Iterable[tuple[datetime, str, str]],
    start: datetime,
    end: datetime,
    window: str | None,
    group_by: list[str],
) -> list[SummaryRow]:
    """summarize() for UNIQUE_COUNT, from (time, dimensions key, value text) items: the time
    of a stored day or month row is its start (distinct_spans keeps each in one window)."""
    s, e, step = _utc(start), _utc(end), _step(window)
    check_row_limit(window_count(s, e, window), 1)
    keys = list(dict.fromkeys(group_by))

    def add(a: set[str] | None, v: str) -> set[str]:
        if a is None:
            return {v}
        a.add(v)
        return a

    cells, groups = _cells(values, s, e, step, keys, add)
    return _rows(s, e, window, keys, cells, groups, lambda c: Decimal(len(c or ())))


def distinct_rows(
    counts: Mapping[datetime, int], start: datetime, end: datetime, window: str | None
) -> list[SummaryRow]:
    """Ungrouped summary rows from a count per window start (counted by the database)."""
    return [
        SummaryRow(r.start, r.end, Decimal(counts.get(r.start, 0)), {})
        for r in summarize_distinct((), start, end, window, [])
    ]
