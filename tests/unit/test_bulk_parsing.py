"""The bulk endpoint's streaming parsers: any cut of the body into pieces parses the same."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import pytest

from meterbill.billing.errors import FieldError
from meterbill.http.bulk import MAX_LINE_BYTES, BodyError, array_values, ndjson_values

EVENTS = [
    {"event_name": "tokens", "payload": {"customer_id": "cus_1", "value": 12}},
    {"event_name": "tökens ✓", "payload": {"customer_id": "cus_2", "value": "0.5", "m": [1]}},
    {"event_name": "x", "payload": {}, "identifier": "id-3", "timestamp": "2024-01-02T03:04:05Z"},
]


async def pieces(body: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(body), size):
        yield body[i : i + size]


async def collect(gen: AsyncIterator[list]) -> list:
    """(index, decoded value) of every event, however the parser grouped them."""
    return list(enumerate([x async for batch in gen for x in batch]))


def names(items: list) -> list:
    return [(i, x.get("event_name")) for i, x in items]


WANT = [(0, "tokens"), (1, "tökens ✓"), (2, "x")]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 13, 64, 100_000])
async def test_array_any_cut(size):
    body = b" [ " + b" ,\n".join(orjson.dumps(e) for e in EVENTS) + b" ] \n"
    assert names(await collect(array_values(pieces(body, size)))) == WANT


@pytest.mark.parametrize("size", [1, 2, 3, 5, 13, 100_000])
async def test_ndjson_any_cut_blank_lines_and_no_final_newline(size):
    body = b"\n".join(orjson.dumps(e) for e in EVENTS[:2]) + b"\n\n  \n" + orjson.dumps(EVENTS[2])
    assert names(await collect(ndjson_values(pieces(body, size)))) == WANT


async def test_array_numbers_split_across_pieces_are_whole():
    items = await collect(array_values(pieces(b"[123456]", 4)))
    assert items == [(0, 123456)]  # not an event (the check says so later), but one item


@pytest.mark.parametrize(
    "body",
    [b'{"event_name": "x"}', b"[", b'[{"event_name": "x", "payload": {}} {"a": 1}]', b"[] []"],
)
async def test_array_syntax_errors(body):
    with pytest.raises(BodyError):
        await collect(array_values(pieces(body, 3)))


async def test_ndjson_overlong_line_is_rejected_alone():
    long = b'{"event_name": "' + b"a" * (MAX_LINE_BYTES + 10) + b'", "payload": {}}'
    body = long + b"\n" + orjson.dumps(EVENTS[0]) + b"\n"
    items = await collect(ndjson_values(pieces(body, 4096)))
    assert isinstance(items[0][1], FieldError) and items[0][0] == 0
    assert names(items[1:]) == [(1, "tokens")]
