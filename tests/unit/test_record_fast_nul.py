"""record_fast._any_nul answers what limits._has_nul does, including where orjson cannot
encode the value or its text only looks like an escaped NUL."""

from __future__ import annotations

from typing import Any

import pytest

from meterbill.graphql.limits import _has_nul
from meterbill.graphql.record_fast import _any_nul

deep: Any = "x"
for _ in range(300):
    deep = [deep]


@pytest.mark.parametrize(
    ("value", "nul"),
    [
        ({"i": [{"eventName": "a", "payload": {"k": "v", "n": 1.5}}]}, False),
        ({"i": [{"eventName": "a", "payload": {"k": "v\x00"}}]}, True),
        ({"i": [{"payload": {"k\x00": 1}}]}, True),
        ({"i": ["\x00"]}, True),
        ({"i": "\\u0000"}, False),  # a backslash, then "u0000": no NUL
        ({"i": [2**70, "ok"]}, False),  # past 64 bits: orjson refuses
        ({"i": [2**70, "\x00"]}, True),
        ({"i": ["\ud800"]}, False),  # a lone surrogate: orjson refuses
        ({"i": [deep, "\x00"]}, True),  # deeper than orjson goes
        ({"i": [deep]}, False),
    ],
)
def test_same_answer_as_has_nul(value: Any, nul: bool) -> None:
    assert _has_nul(value) is nul
    assert _any_nul(value) is nul
