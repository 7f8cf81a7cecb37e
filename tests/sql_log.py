"""Tests that count SQL statements listen to Tortoise's statement log."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

H = TypeVar("H", bound=logging.Handler)


@contextmanager
def capture_sql(handler: H) -> Iterator[H]:
    """Every statement Tortoise runs is logged to `handler` while inside."""
    log = logging.getLogger("tortoise.db_client")
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
