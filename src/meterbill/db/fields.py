"""Field helpers shared by the models."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tortoise import fields


def id_field(default: Callable[[], str]) -> Any:
    return fields.CharField(primary_key=True, max_length=40, default=default)


def money_field(**kw: Any) -> Any:
    """Integer minor units."""
    return fields.BigIntField(**kw)


def decimal_text_field(**kw: Any) -> Any:
    """A Decimal kept as its exact string: SQLite has no exact numeric type, and Decimal
    values here need up to 12 places and 15+ significant digits on both backends."""
    return fields.CharField(max_length=64, **kw)
