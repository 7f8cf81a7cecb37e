"""parse_value remembers values it parsed; answers must not depend on what came first."""

from __future__ import annotations

from decimal import Decimal

import pytest

from meterbill.billing.events import _parse_value, parse_value


@pytest.mark.parametrize(
    "first, then",
    [
        (1, 1.0),
        (1.0, 1),
        (-0.0, 0.0),
        ("1.50", "1.5"),
        ("1E+3", "1000"),
    ],
)
def test_equal_inputs_of_other_types_or_texts_parse_on_their_own(first, then):
    # 1 parses as "1" and 1.0 as "1.0": equal keys of another type must not share a result.
    for raw in (first, then, first, then):
        assert str(parse_value(raw)) == str(_parse_value(raw))
    assert parse_value(first) == parse_value(then)
    assert str(parse_value(1)) == "1" and str(parse_value(1.0)) == "1.0"


def test_refusals_are_not_remembered():
    for _ in range(2):
        with pytest.raises(ValueError):
            parse_value(True)
        with pytest.raises(ValueError):
            parse_value("NaN")
    assert parse_value("2.000") == Decimal("2") and str(parse_value("2.000")) == "2.000"
