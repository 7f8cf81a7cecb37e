import random
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterbill.billing.aggregation import (
    LIKE_ESCAPE,
    MAX_SUMMARY_ROWS,
    Rollup,
    canonical_dimensions,
    check_alignment,
    check_row_limit,
    dimension_filter_patterns,
    dimension_filter_substrings,
    dimension_text,
    dimensions_match,
    fold,
    fold_all,
    merge,
    minute_bucket,
    parse_dimensions,
    summarize,
    value_of,
    window_starts,
)
from meterbill.billing.errors import BadUserInput

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


# ---------------------------------------------------------------- rollups

values = st.decimals(
    min_value=-(10**15) + 1, max_value=10**15 - 1, places=12, allow_nan=False, allow_infinity=False
)
# Few distinct timestamps, so LAST ties on time and must be broken by arrival order.
stamps = st.sampled_from([at(0), at(0.5), at(1), at(7)])
streams = st.lists(st.tuples(values, stamps), max_size=30).map(
    lambda evs: [(v, ts, seq) for seq, (v, ts) in enumerate(evs)]
)
rollups = streams.map(fold_all)


def test_empty_rollup() -> None:
    r = Rollup.empty()
    assert (r.sum, r.count, r.last_value, r.last_ts, r.last_seq) == (0, 0, None, None, None)
    assert [value_of(f, r) for f in ("SUM", "COUNT", "LAST")] == [0, 0, 0]


@pytest.mark.parametrize(
    "events, expected",
    [
        ([], {"SUM": D(0), "COUNT": D(0), "LAST": D(0), "MAX": D(0)}),
        ([("5", 0)], {"SUM": D(5), "COUNT": D(1), "LAST": D(5), "MAX": D(5)}),
        ([("5", 1), ("-2", 0)], {"SUM": D(3), "COUNT": D(2), "LAST": D(5), "MAX": D(5)}),
        ([("-5", 1), ("-2", 0)], {"MAX": D(-2), "LAST": D(-5)}),
        ([("2", 0), ("9.5", 0), ("3", 1)], {"MAX": D("9.5"), "LAST": D(3)}),
        ([("5", 0), ("7", 0)], {"SUM": D(12), "COUNT": D(2), "LAST": D(7)}),  # tie: later seq
        ([("0.1", 0)] * 10, {"SUM": D(1), "COUNT": D(10), "LAST": D("0.1")}),
        ([("1000000000000", 0), ("1", 0)], {"SUM": D(10**12 + 1)}),
        ([("999999999999999.999999999999", 0)] * 3, {"SUM": D("2999999999999999.999999999997")}),
    ],
)
def test_formulas(events: list[tuple[str, int]], expected: dict[str, D]) -> None:
    r = fold_all((D(v), at(m), seq) for seq, (v, m) in enumerate(events))
    for formula, value in expected.items():
        assert value_of(formula, r) == value


def test_ten_tenths_are_exactly_one() -> None:
    r = fold_all((D("0.1"), at(0), i) for i in range(10))
    assert r.sum == D(1) and str(r.sum) == "1.0"


def test_last_tie_broken_by_seq_not_by_fold_order() -> None:
    later = fold(Rollup.empty(), D(9), at(1), 2)
    r = fold(later, D(4), at(1), 1)
    assert (r.last_value, r.last_seq) == (D(9), 2)
    assert fold(r, D(1), at(0.9), 99).last_value == D(9)  # older timestamp loses to seq


def test_fold_normalizes_timestamps_to_utc_and_needs_a_zone() -> None:
    cet = timezone(timedelta(hours=1))
    r = fold(Rollup.empty(), D(1), datetime(2025, 3, 1, 1, 0, tzinfo=cet), 0)
    assert r.last_ts == T0 and r.last_ts.tzinfo is UTC
    with pytest.raises(ValueError):
        fold(Rollup.empty(), D(1), datetime(2025, 3, 1), 0)


def test_value_of_unknown_formula() -> None:
    with pytest.raises(ValueError):
        value_of("MEDIAN", Rollup.empty())
    with pytest.raises(ValueError, match="count_distinct"):
        value_of("UNIQUE_COUNT", Rollup.empty())


@given(rollups, rollups, rollups)
def test_merge_is_associative(a: Rollup, b: Rollup, c: Rollup) -> None:
    assert merge(merge(a, b), c) == merge(a, merge(b, c))


@given(rollups, rollups)
def test_merge_is_commutative_with_identity(a: Rollup, b: Rollup) -> None:
    assert merge(a, b) == merge(b, a)
    assert merge(a, Rollup.empty()) == a == merge(Rollup.empty(), a)


@given(streams.flatmap(lambda s: st.tuples(st.just(s), st.permutations(s))))
def test_fold_order_does_not_matter(pair: tuple[list, list]) -> None:
    stream, shuffled = pair
    assert fold_all(stream) == fold_all(shuffled)


@given(streams, st.lists(st.integers(0, 30), max_size=5))
def test_chunks_merged_equal_one_fold(stream: list, cuts: list[int]) -> None:
    bounds = [0, *sorted(c for c in cuts if c <= len(stream)), len(stream)]
    merged = Rollup.empty()
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        merged = merge(merged, fold_all(stream[lo:hi]))
    assert merged == fold_all(stream)


@given(streams)
def test_rollup_matches_a_naive_reference(stream: list) -> None:
    r = fold_all(stream)
    assert r.sum == sum((v for v, _, _ in stream), D(0)) and r.count == len(stream)
    if stream:
        assert r.last_value == max(stream, key=lambda e: (e[1], e[2]))[0]


@pytest.mark.parametrize(
    "ts, bucket",
    [
        (datetime(2025, 3, 1, 10, 59, 59, 999999, tzinfo=UTC), datetime(2025, 3, 1, 10, 59)),
        (datetime(2025, 3, 1, 10, 0, tzinfo=UTC), datetime(2025, 3, 1, 10, 0)),
        (
            datetime(2025, 3, 1, 12, 30, 5, tzinfo=timezone(timedelta(hours=2))),
            datetime(2025, 3, 1, 10, 30),
        ),
    ],
)
def test_minute_bucket(ts: datetime, bucket: datetime) -> None:
    assert minute_bucket(ts) == bucket.replace(tzinfo=UTC)
    assert minute_bucket(ts).tzinfo is UTC


def test_minute_bucket_needs_a_zone() -> None:
    with pytest.raises(ValueError):
        minute_bucket(datetime(2025, 3, 1))


# ---------------------------------------------------------------- dimensions


@pytest.mark.parametrize(
    "dims, key",
    [
        ({}, ""),
        ({"model": "gpt-4"}, "|model=gpt-4|"),
        ({"b": "1", "a": "2"}, "|a=2|b=1|"),
        ({"n": 5}, "|n=5|"),
        ({"n": D("5.0")}, "|n=5|"),
        ({"n": 5.0}, "|n=5|"),
        ({"n": "5.0"}, "|n=5.0|"),  # strings verbatim
        ({"n": D("1E+3")}, "|n=1000|"),
        ({"n": -0.0}, "|n=0|"),
        ({"n": 0.1}, "|n=0.1|"),
        ({"region": "EU"}, "|region=%45%55|"),
        ({"k": "a|b=c%d"}, "|k=a%7cb%3dc%25d|"),
        ({"k": "ü €"}, "|k=%c3%bc%20%e2%82%ac|"),
        ({"k_1": ""}, "|k_1=|"),
    ],
)
def test_canonical_dimensions(dims: dict, key: str) -> None:
    assert canonical_dimensions(dims) == key
    assert parse_dimensions(key) == {k: dimension_text(v) for k, v in dims.items()}


@pytest.mark.parametrize(
    "dims",
    [
        {"k": True},
        {"k": None},
        {"k": [1]},
        {"k": float("nan")},
        {"k": D("Infinity")},
        {"k": 10**200},
        {"": "v"},
        {"k": "\ud800"},
    ],
)
def test_canonical_dimensions_rejects(dims: dict) -> None:
    with pytest.raises(ValueError):
        canonical_dimensions(dims)


@pytest.mark.parametrize("key", ["|", "||", "a=b", "|a=b", "|ab|", "|=b|"])
def test_parse_dimensions_rejects(key: str) -> None:
    with pytest.raises(ValueError):
        parse_dimensions(key)


dim_values = st.one_of(
    st.text(max_size=8),
    st.integers(-(10**6), 10**6),
    st.decimals(places=3, allow_nan=False, allow_infinity=False, min_value=-1000, max_value=1000),
)
dim_sets = st.dictionaries(st.text(min_size=1, max_size=6), dim_values, max_size=5)


@given(dim_sets)
def test_dimensions_round_trip(dims: dict) -> None:
    key = canonical_dimensions(dims)
    assert parse_dimensions(key) == {k: dimension_text(v) for k, v in dims.items()}
    assert canonical_dimensions(parse_dimensions(key)) == key
    assert key == key.lower() and key.isascii()


@given(dim_sets, st.randoms())
def test_dimensions_order_independent(dims: dict, rnd: random.Random) -> None:
    items = list(dims.items())
    rnd.shuffle(items)
    assert canonical_dimensions(dict(items)) == canonical_dimensions(dims)


def sqlite_like(key: str, patterns: list[str]) -> bool:
    # The real LIKE (ASCII case-insensitive), so the patterns are tested where they run.
    with sqlite3.connect(":memory:") as db:
        return all(
            db.execute(f"SELECT ? LIKE ? ESCAPE '{LIKE_ESCAPE}'", (key, p)).fetchone()[0]
            for p in patterns
        )


@pytest.mark.parametrize(
    "dims, filter, matches",
    [
        ({"k": "v"}, {"k": "v"}, True),
        ({"k": "vv"}, {"k": "v"}, False),
        ({"k": "v"}, {"k": "vv"}, False),
        ({"ab": "v"}, {"b": "v"}, False),
        ({"b": "v"}, {"ab": "v"}, False),
        ({"k": "xv"}, {"k": "v"}, False),
        ({"a": "1", "k": "v", "z": "2"}, {"k": "v"}, True),
        ({"a": "1", "k": "v"}, {"k": "v", "a": "1"}, True),
        ({"a": "1", "k": "v"}, {"k": "v", "a": "2"}, False),
        ({"k": "v"}, {"j": "v"}, False),
        ({"k": "v"}, {}, True),
        ({}, {"k": "v"}, False),
        ({"region": "eu"}, {"region": "EU"}, False),  # SQLite LIKE ignores ASCII case
        ({"region": "EU"}, {"region": "EU"}, True),
        ({"k": "a_c"}, {"k": "abc"}, False),
        ({"k": "abc"}, {"k": "a_c"}, False),  # "_" is no wildcard
        ({"k": "a%c"}, {"k": "a%"}, False),
        ({"k": "x=y"}, {"k": "x"}, False),
        ({"k": "a|b=c"}, {"b": "c"}, False),  # separators inside a value are no separators
        ({"n": 5}, {"n": "5"}, True),
        ({"n": "5.0"}, {"n": 5}, False),
        ({"k": "a\\b"}, {"k": "a\\b"}, True),
    ],
)
def test_filter_patterns(dims: dict, filter: dict, matches: bool) -> None:
    key = canonical_dimensions(dims)
    assert sqlite_like(key, dimension_filter_patterns(filter)) is matches
    assert dimensions_match(key, filter) is matches
    assert all(s in key for s in dimension_filter_substrings(filter)) is matches


@given(dim_sets, dim_sets)
def test_filter_patterns_agree_with_dict_containment(dims: dict, filter: dict) -> None:
    key = canonical_dimensions(dims)
    want = all(
        k in dims and dimension_text(dims[k]) == dimension_text(v) for k, v in filter.items()
    )
    assert sqlite_like(key, dimension_filter_patterns(filter)) is want


@pytest.mark.parametrize("bad", [True, None, {"x": 1}, [1], float("inf")])
def test_filter_rejects_non_scalar_values(bad: object) -> None:
    with pytest.raises(BadUserInput) as e:
        dimension_filter_patterns({"k": bad})
    assert e.value.field == ("filter", "k")


# ---------------------------------------------------------------- windows


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


@pytest.mark.parametrize(
    "start, end, window",
    [
        (utc(2025, 3, 1, 10, 1), utc(2025, 3, 1, 10, 2), None),
        (utc(2025, 3, 1, 10), utc(2025, 3, 1, 12), "HOUR"),
        (utc(2025, 3, 1), utc(2025, 3, 2), "DAY"),
        (datetime(2025, 3, 1, 1, tzinfo=timezone(timedelta(hours=1))), utc(2025, 3, 2), "DAY"),
    ],
)
def test_alignment_accepted(start: datetime, end: datetime, window: str | None) -> None:
    check_alignment(start, end, window)


@pytest.mark.parametrize(
    "start, end, window, field, words",
    [
        (utc(2025, 3, 1, 10, 1, 30), utc(2025, 3, 1, 11), None, "startTime", "minute"),
        (
            utc(2025, 3, 1, 10),
            datetime(2025, 3, 1, 11, 0, 0, 1, tzinfo=UTC),
            None,
            "endTime",
            "minute",
        ),
        (utc(2025, 3, 1, 10, 30), utc(2025, 3, 1, 12), "HOUR", "startTime", "hour"),
        (utc(2025, 3, 1, 10), utc(2025, 3, 1, 12, 1), "HOUR", "endTime", "hour"),
        (utc(2025, 3, 1, 10), utc(2025, 3, 2), "DAY", "startTime", "00:00 UTC"),
        (utc(2025, 3, 1), utc(2025, 3, 2, 1), "DAY", "endTime", "00:00 UTC"),
        (
            datetime(2025, 3, 1, tzinfo=timezone(timedelta(hours=1))),
            utc(2025, 3, 2),
            "DAY",
            "startTime",
            "00:00 UTC",
        ),
        (datetime(2025, 3, 1), utc(2025, 3, 2), None, "startTime", "timezone"),
        (utc(2025, 3, 1), utc(2025, 3, 1), None, "startTime", "before"),
        (utc(2025, 3, 2), utc(2025, 3, 1), "DAY", "startTime", "before"),
    ],
)
def test_alignment_errors(
    start: datetime, end: datetime, window: str | None, field: str, words: str
) -> None:
    with pytest.raises(BadUserInput) as e:
        check_alignment(start, end, window)
    assert e.value.field == (field,) and words in e.value.message and field in e.value.message


def test_window_starts() -> None:
    assert window_starts(utc(2025, 3, 1, 10), utc(2025, 3, 1, 13), "HOUR") == [
        utc(2025, 3, 1, 10),
        utc(2025, 3, 1, 11),
        utc(2025, 3, 1, 12),
    ]
    assert window_starts(utc(2025, 3, 1), utc(2025, 3, 4), "DAY") == [
        utc(2025, 3, 1),
        utc(2025, 3, 2),
        utc(2025, 3, 3),
    ]
    assert window_starts(utc(2025, 3, 1), utc(2025, 3, 4), None) == [utc(2025, 3, 1)]
    assert window_starts(utc(2025, 3, 4), utc(2025, 3, 1), "DAY") == []


def test_row_limit() -> None:
    check_row_limit(MAX_SUMMARY_ROWS, 1)
    check_row_limit(100, 100)
    with pytest.raises(BadUserInput, match="10001 rows"):
        check_row_limit(MAX_SUMMARY_ROWS + 1, 1)
    with pytest.raises(BadUserInput):
        check_row_limit(24 * 365 * 2, 1)  # two years of hours


# ---------------------------------------------------------------- summarize


Bucket = tuple[datetime, str, Rollup]


def bucket(minute: datetime, dims: dict, *values: str) -> Bucket:
    r = fold_all((D(v), minute + timedelta(seconds=i), i) for i, v in enumerate(values))
    return (minute, canonical_dimensions(dims), r)


H10, H11, H12 = utc(2025, 3, 1, 10), utc(2025, 3, 1, 11), utc(2025, 3, 1, 12)
DATA = [
    bucket(H10 + timedelta(minutes=5), {"m": "a", "r": "eu"}, "1", "2"),
    bucket(H10 + timedelta(minutes=59), {"m": "b"}, "10"),
    bucket(H11 + timedelta(minutes=1), {"m": "a", "r": "us"}, "100"),
    bucket(H12, {"m": "a"}, "1000"),  # at end: excluded
    bucket(H10 - timedelta(minutes=1), {"m": "a"}, "5000"),  # before start: excluded
]


def rows(formula: str, window: str | None, group_by: list[str], data: list[Bucket] = DATA) -> list:
    return [
        (r.start.hour, r.end.hour, str(r.value), r.dimensions)
        for r in summarize(formula, data, H10, H12, window, group_by)
    ]


@pytest.mark.parametrize(
    "formula, window, group_by, expected",
    [
        ("SUM", None, [], [(10, 12, "113", {})]),
        ("COUNT", None, [], [(10, 12, "4", {})]),
        ("LAST", None, [], [(10, 12, "100", {})]),
        ("SUM", "HOUR", [], [(10, 11, "13", {}), (11, 12, "100", {})]),
        ("LAST", "HOUR", [], [(10, 11, "10", {}), (11, 12, "100", {})]),
        ("SUM", None, ["m"], [(10, 12, "103", {"m": "a"}), (10, 12, "10", {"m": "b"})]),
        (
            "SUM",
            "HOUR",
            ["m"],
            [
                (10, 11, "3", {"m": "a"}),
                (10, 11, "10", {"m": "b"}),
                (11, 12, "100", {"m": "a"}),
                (11, 12, "0", {"m": "b"}),
            ],
        ),
        (
            "SUM",
            None,
            ["r", "m"],
            [  # a group lacking a key sorts first
                (10, 12, "10", {"m": "b"}),
                (10, 12, "3", {"r": "eu", "m": "a"}),
                (10, 12, "100", {"r": "us", "m": "a"}),
            ],
        ),
        ("COUNT", None, ["m", "m"], [(10, 12, "3", {"m": "a"}), (10, 12, "1", {"m": "b"})]),
    ],
)
def test_summarize(formula: str, window: str | None, group_by: list[str], expected: list) -> None:
    assert rows(formula, window, group_by) == expected


@pytest.mark.parametrize(
    "window, group_by, expected",
    [
        (None, [], [(10, 12, "0", {})]),
        ("HOUR", [], [(10, 11, "0", {}), (11, 12, "0", {})]),
        ("HOUR", ["m"], []),
        (None, ["m"], []),
    ],
)
def test_summarize_without_data(window: str | None, group_by: list[str], expected: list) -> None:
    for formula in ("SUM", "COUNT", "LAST"):
        assert rows(formula, window, group_by, data=[]) == expected


def test_summarize_day_windows_are_dense() -> None:
    data = [bucket(utc(2025, 3, 3, 23, 59), {}, "7")]
    out = summarize("SUM", data, utc(2025, 3, 1), utc(2025, 3, 5), "DAY", [])
    assert [(r.start.day, r.end.day, r.value) for r in out] == [
        (1, 2, 0),
        (2, 3, 0),
        (3, 4, 7),
        (4, 5, 0),
    ]


def test_summarize_limits_windows_times_groups() -> None:
    data = [bucket(H10, {"m": str(i)}, "1") for i in range(5001)]
    assert len(summarize("SUM", data, H10, H12, "HOUR", [])) == 2
    with pytest.raises(BadUserInput):
        summarize("SUM", data, H10, H12, "HOUR", ["m"])
    with pytest.raises(BadUserInput):
        summarize("SUM", [], utc(2020, 1, 1), utc(2025, 1, 1), "HOUR", [])


def test_summarize_rejects_unknown_formula_and_window() -> None:
    with pytest.raises(ValueError):
        summarize("MEDIAN", [], H10, H12, None, [])
    with pytest.raises(ValueError):
        summarize("SUM", [], H10, H12, "WEEK", [])


# ---------------------------------------------------------------- MAX and distinct values


@given(streams, st.integers(min_value=0, max_value=30))
def test_max_of_maxes_is_the_max_of_the_events(events: list, cut: int) -> None:
    whole = fold_all(events)
    parts = merge(fold_all(events[:cut]), fold_all(events[cut:]))
    expected = max((v for v, _, _ in events), default=None)
    assert whole.max_value == parts.max_value == expected
    assert value_of("MAX", parts) == (expected if expected is not None else 0)


def test_distinct_spans_cover_the_range_by_the_coarsest_grain() -> None:
    from meterbill.billing.aggregation import distinct_spans

    s = datetime(2025, 1, 30, 12, 5, tzinfo=UTC)
    e = datetime(2025, 4, 2, 0, 7, tzinfo=UTC)
    spans = distinct_spans(s, e)
    assert spans == [
        ("event", s, datetime(2025, 1, 31, tzinfo=UTC)),
        ("day", datetime(2025, 1, 31, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC)),
        ("month", datetime(2025, 2, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC)),
        ("day", datetime(2025, 4, 1, tzinfo=UTC), datetime(2025, 4, 2, tzinfo=UTC)),
        ("event", datetime(2025, 4, 2, tzinfo=UTC), e),
    ]
    month = (datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC))
    assert distinct_spans(*month) == [("month", *month)]
    assert distinct_spans(T0, at(90)) == [("event", T0, at(90))]
    assert distinct_spans(T0, at(60 * 48), "HOUR") == [("event", T0, at(60 * 48))]
    assert distinct_spans(T0, at(60 * 48), "DAY") == [("day", T0, at(60 * 48))]


@given(
    st.datetimes(min_value=datetime(2024, 11, 1), max_value=datetime(2025, 3, 1)),
    st.integers(min_value=1, max_value=200 * 24 * 60),
)
def test_distinct_spans_tile_the_range(start: datetime, minutes: int) -> None:
    from meterbill.billing.aggregation import day_start, distinct_spans, month_start

    s = start.replace(tzinfo=UTC)
    e = s + timedelta(minutes=minutes)
    spans = distinct_spans(s, e)
    assert spans[0][1] == s and spans[-1][2] == e
    for (_, _, b), (_, a, _) in zip(spans, spans[1:], strict=False):
        assert b == a
    for grain, a, _ in spans:
        if grain == "day":
            assert day_start(a) == a
        if grain == "month":
            assert month_start(a) == a


def test_summarize_distinct_counts_a_value_once_per_window_and_group() -> None:
    from meterbill.billing.aggregation import summarize_distinct

    eu, us = "|region=eu|", "|region=us|"
    items = [
        (at(0), eu, "u1"),
        (at(5), eu, "u1"),  # the same value in another minute: once
        (at(61), eu, "u1"),
        (at(62), us, "u1"),
        (at(63), us, "u2"),
    ]
    rows = summarize_distinct(items, T0, at(120), None, [])
    assert [r.value for r in rows] == [D(2)]
    rows = summarize_distinct(items, T0, at(120), "HOUR", [])
    assert [r.value for r in rows] == [D(1), D(2)]
    rows = summarize_distinct(items, T0, at(120), None, ["region"])
    assert [(r.dimensions, r.value) for r in rows] == [
        ({"region": "eu"}, D(1)),
        ({"region": "us"}, D(2)),
    ]
    assert [r.value for r in summarize_distinct([], T0, at(120), "HOUR", [])] == [0, 0]
