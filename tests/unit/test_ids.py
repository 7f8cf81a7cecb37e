"""Ids: prefix + 24 base62 characters drawn uniformly (every character shows up)."""

from __future__ import annotations

import string
from collections import Counter

from meterbill.db.ids import invoice_line_id, new_id


def test_ids_are_prefixed_base62_of_the_length_asked():
    for length in (1, 24, 40):
        i = new_id("inv", length)
        prefix, body = i.split("_")
        assert prefix == "inv" and len(body) == length
        assert set(body) <= set(string.ascii_letters + string.digits)
    assert invoice_line_id().startswith("il_")


def test_ids_use_the_whole_alphabet_evenly():
    seen = Counter("".join(new_id("x").split("_")[1] for _ in range(3000)))
    assert set(seen) == set(string.ascii_letters + string.digits)
    # 72,000 characters, ~1,161 each if uniform: a skew (e.g. modulo bias) would show.
    assert min(seen.values()) > 1000 and max(seen.values()) < 1330
    assert len({new_id("x") for _ in range(3000)}) == 3000
