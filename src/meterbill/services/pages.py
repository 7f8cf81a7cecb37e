"""Cursor pagination, newest first, over (created_at, id): stable under inserts."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from meterbill.billing.errors import BadUserInput

T = TypeVar("T")
MAX_PAGE = 100


@dataclass
class Page(Generic[T]):
    items: list[T]
    has_next: bool

    @property
    def end_cursor(self) -> str | None:
        return cursor_of(self.items[-1]) if self.items else None


def cursor_of(obj: Any) -> str:
    raw = f"{obj.created_at.isoformat()}|{obj.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


# Cursors this API writes are ~70 characters; ids are a prefix and base62 (db/ids.py).
_MAX_CURSOR = 200
_ID = re.compile(r"[A-Za-z0-9_]{1,40}")


def _decode(cursor: str) -> tuple[datetime, str]:
    """The position a cursor names; BadUserInput for anything this API did not write (a
    NUL, an id no row can have, an instant outside the representable UTC range) before it
    reaches a query."""
    try:
        if len(cursor) > _MAX_CURSOR:
            raise ValueError
        padded = cursor + "=" * (-len(cursor) % 4)
        created, _, oid = base64.urlsafe_b64decode(padded).decode().partition("|")
        when = datetime.fromisoformat(created)
        if not _ID.fullmatch(oid) or when.tzinfo is None:
            raise ValueError
        return when.astimezone(UTC), oid
    except (ValueError, OverflowError) as exc:
        raise BadUserInput("after is not a valid cursor", ("after",)) from exc


def check_first(first: int, limit: int = MAX_PAGE) -> None:
    if first < 0 or first > limit:
        raise BadUserInput(f"first must be between 0 and {limit}", ("first",))


async def paginate(qs: QuerySet[Any], first: int, after: str | None) -> Page[Any]:
    check_first(first)
    if after:
        when, oid = _decode(after)
        qs = qs.filter(Q(created_at__lt=when) | Q(created_at=when, id__lt=oid))
    rows = await qs.order_by("-created_at", "-id").limit(first + 1)
    return Page(items=list(rows[:first]), has_next=len(rows) > first)
