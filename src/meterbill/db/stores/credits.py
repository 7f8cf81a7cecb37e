"""Storage of credit grants for finalization, one implementation per backend: the usable
grants of a batch's customers, locked for the transaction (PostgreSQL: FOR NO KEY UPDATE in
id order, so two batches never wait for each other in a cycle; SQLite has one writer and
the open transaction holds the database). Rows come back as billing/credits.Grant: a
batch reads thousands, and a Tortoise model per row cost more than the allocation."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from tortoise import connections

from meterbill.billing.credits import Grant
from meterbill.db import stores

_NAMES = (
    "id",
    "customer_id",
    "currency",
    "category",
    "priority",
    "available_amount",
    "price_ids",
    "effective_at",
    "expires_at",
    "voided_at",
    "created_at",
    "recorded_at",
)


def grant_of(r: Mapping[str, Any]) -> Grant:
    """A grant row (its columns by name) as the rule sees it."""
    return Grant(
        id=r["id"],
        customer_id=r["customer_id"],
        currency=r["currency"],
        category=r["category"],
        priority=r["priority"],
        available=int(r["available_amount"]),
        price_ids=frozenset(r["price_ids"].split()),
        effective_at=r["effective_at"],
        expires_at=r["expires_at"],
        voided_at=r["voided_at"],
        created_at=r["created_at"],
        recorded_at=r["recorded_at"],
    )


def grant_of_model(m: Any) -> Grant:
    return grant_of({n: getattr(m, n) for n in _NAMES})


def usable(customer_ids: Sequence[str], at: datetime) -> Any:
    """The CreditGrant query of the customers' grants in effect at `at` with credit left."""
    from tortoise.expressions import Q

    from meterbill.db.models import CreditGrant

    return CreditGrant.filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=at),
        customer_id__in=list(customer_ids),
        voided_at__isnull=True,
        available_amount__gt=0,
        effective_at__lte=at,
    )


class CreditStore(ABC):
    @abstractmethod
    async def lock_usable(self, customer_ids: Sequence[str], at: datetime) -> list[Grant]:
        """The customers' grants in effect at `at` with credit left, locked to commit."""


class PostgresCredits(CreditStore):
    async def lock_usable(self, customer_ids: Sequence[str], at: datetime) -> list[Grant]:
        sql = (
            f"SELECT {', '.join(_NAMES)} FROM credit_grants WHERE customer_id = ANY($1) "
            "AND voided_at IS NULL AND available_amount > 0 AND effective_at <= $2 "
            "AND (expires_at IS NULL OR expires_at > $2) ORDER BY id FOR NO KEY UPDATE"
        )
        conn = connections.get("default")
        rows = await conn.execute_query_dict(sql, [list(customer_ids), at])
        return [grant_of(r) for r in rows]


class SqliteCredits(CreditStore):
    async def lock_usable(self, customer_ids: Sequence[str], at: datetime) -> list[Grant]:
        return [grant_of_model(r) for r in await usable(customer_ids, at).order_by("id")]


async def lock_usable(customer_ids: Sequence[str], at: datetime) -> list[Grant]:
    """The customers' grants in effect at `at` with credit left, locked to commit."""
    return await stores.current().credits.lock_usable(customer_ids, at)
