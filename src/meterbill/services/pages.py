"""Cursor pagination, newest first, over (created_at, id): stable under inserts."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
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


def _decode(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, _, oid = base64.urlsafe_b64decode(padded).decode().partition("|")
        when = datetime.fromisoformat(created)
        if not oid or when.tzinfo is None:
            raise ValueError
        return when, oid
    except ValueError as exc:
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
