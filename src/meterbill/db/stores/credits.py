"""Storage of credit grants for finalization, one implementation per backend: the usable
grants of a batch's customers, locked for the transaction (PostgreSQL: FOR NO KEY UPDATE in
id order, so two batches never wait for each other in a cycle; SQLite has one writer and
the open transaction holds the database). Rows come back as billing/credits.Grant: a
batch reads thousands, and a Tortoise model per row cost more than the allocation."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise import connections

from meterbill.billing.credits import Grant
from meterbill.db import stores
from meterbill.db.stores.rows import Columns

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


_EVERY_PRICE: frozenset[str] = frozenset()


def grant_of(r: Mapping[str, Any]) -> Grant:
    """A grant row (its columns by name: a dict or an asyncpg record) as the rule sees it."""
    price_ids = r["price_ids"]
    return Grant(
        r["id"],
        r["customer_id"],
        r["currency"],
        r["category"],
        r["priority"],
        int(r["available_amount"]),
        frozenset(price_ids.split()) if price_ids else _EVERY_PRICE,
        r["effective_at"],
        r["expires_at"],
        r["voided_at"],
        r["created_at"],
        r["recorded_at"],
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


@dataclass
class Holdings:
    """What a finalizing batch's customers hold, locked to commit: the balances that are not
    0 (customer id -> (balance, its currency)) and the usable grants (in id order)."""

    balances: dict[str, tuple[int, str | None]] = field(default_factory=dict)
    grants: list[Grant] = field(default_factory=list)


# A grant's spending: (id, amount taken, amount left).
Taken = Sequence[tuple[str, int, int]]


class CreditStore(ABC):
    @abstractmethod
    async def lock_usable(self, customer_ids: Sequence[str], at: datetime) -> list[Grant]:
        """The customers' grants in effect at `at` with credit left, locked to commit."""

    @abstractmethod
    async def lock_holdings(
        self, customer_ids: Sequence[str], granted_ids: Sequence[str], at: datetime
    ) -> Holdings:
        """The non-zero balances among `customer_ids` and the usable grants of
        `granted_ids` at `at`, each row locked to commit (customers, then grants, each in
        id order: the order a void takes them in). A customer whose balance reads 0 is
        not locked: its finalization neither reads a changed balance nor writes one unless
        it carries an amount (the caller then locks it)."""

    @abstractmethod
    async def spend(self, taken: Taken) -> None:
        """Take the amounts from the (locked) grants."""


def _is_usable(alias: str) -> str:
    return (
        f"{alias}.voided_at IS NULL AND {alias}.available_amount > 0 AND "
        f"{alias}.effective_at <= $2 AND ({alias}.expires_at IS NULL OR {alias}.expires_at > $2)"
    )


_HOLDINGS_PG = f"""WITH b AS (SELECT id, balance, balance_currency FROM customers
 WHERE id = ANY($1) AND balance <> 0 ORDER BY id FOR NO KEY UPDATE),
g AS (SELECT {", ".join(_NAMES)} FROM credit_grants c WHERE customer_id = ANY($3)
 AND {_is_usable("c")} ORDER BY id FOR NO KEY UPDATE)
SELECT b.id AS b_id, b.balance AS b_balance, b.balance_currency AS b_currency,
 {", ".join(f"NULL AS {n}" for n in _NAMES)} FROM b
UNION ALL SELECT NULL, NULL, NULL, {", ".join(_NAMES)} FROM g"""

_SPEND_PG = """UPDATE credit_grants g SET available_amount = g.available_amount - v.taken
 FROM unnest($1::text[], $2::bigint[]) AS v(id, taken) WHERE g.id = v.id"""


class PostgresCredits(CreditStore):
    async def lock_usable(self, customer_ids: Sequence[str], at: datetime) -> list[Grant]:
        sql = (
            f"SELECT {', '.join(_NAMES)} FROM credit_grants c WHERE customer_id = ANY($1) "
            f"AND {_is_usable('c')} ORDER BY id FOR NO KEY UPDATE"
        )
        conn = connections.get("default")
        rows = await conn.execute_query_dict(sql, [list(customer_ids), at])
        return [grant_of(r) for r in rows]

    async def lock_holdings(
        self, customer_ids: Sequence[str], granted_ids: Sequence[str], at: datetime
    ) -> Holdings:
        conn = connections.get("default")
        # Records, not dicts: a batch reads three grants per customer in the benchmark.
        _, rows = await conn.execute_query(
            _HOLDINGS_PG, [list(customer_ids), at, list(granted_ids)]
        )
        out = Holdings()
        for r in rows:
            if r["b_id"] is not None:
                out.balances[r["b_id"]] = (int(r["b_balance"]), r["b_currency"])
            else:
                out.grants.append(grant_of(r))
        return out

    async def spend(self, taken: Taken) -> None:
        if not taken:
            return
        args = [[t[0] for t in taken], [t[1] for t in taken]]
        await connections.get("default").execute_query(_SPEND_PG, args)


_AVAILABLE: Columns = (("id", "text"), ("available_amount", "bigint"))


class SqliteCredits(CreditStore):
    async def lock_usable(self, customer_ids: Sequence[str], at: datetime) -> list[Grant]:
        return [grant_of_model(r) for r in await usable(customer_ids, at).order_by("id")]

    async def lock_holdings(
        self, customer_ids: Sequence[str], granted_ids: Sequence[str], at: datetime
    ) -> Holdings:
        from meterbill.db.models import Customer

        out = Holdings()
        for cid, balance, currency in await (
            Customer.filter(id__in=list(customer_ids))
            .exclude(balance=0)
            .values_list("id", "balance", "balance_currency")
        ):
            out.balances[str(cid)] = (int(balance), currency)
        if granted_ids:
            out.grants = await self.lock_usable(granted_ids, at)
        return out

    async def spend(self, taken: Taken) -> None:
        if not taken:
            return
        await stores.update_rows("credit_grants", _AVAILABLE, [(g, left) for g, _, left in taken])


async def lock_usable(customer_ids: Sequence[str], at: datetime) -> list[Grant]:
    """The customers' grants in effect at `at` with credit left, locked to commit."""
    return await stores.current().credits.lock_usable(customer_ids, at)


async def lock_holdings(
    customer_ids: Sequence[str], granted_ids: Sequence[str], at: datetime
) -> Holdings:
    return await stores.current().credits.lock_holdings(customer_ids, granted_ids, at)


async def spend(taken: Taken) -> None:
    await stores.current().credits.spend(taken)
