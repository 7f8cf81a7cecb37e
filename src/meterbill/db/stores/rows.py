"""Set-based writes for the billing batches, one implementation per backend: PostgreSQL gets
one statement over column arrays (unnest), whatever the number of rows; SQLite (one writer,
embedded) gets an executemany in the open transaction. Values are what Tortoise would bind:
aware UTC datetimes, ints for money, bools."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from tortoise import connections

# (column, PostgreSQL type of its array) per table, in the order rows give them.
Columns = Sequence[tuple[str, str]]
Rows = Sequence[Sequence[Any]]


def _conn() -> Any:
    return connections.get("default")


class RowStore(ABC):
    @abstractmethod
    async def insert(self, table: str, columns: Columns, rows: Rows) -> None:
        """INSERT every row (none: no statement)."""

    @abstractmethod
    async def update(self, table: str, columns: Columns, rows: Rows) -> None:
        """Set columns[1:] of the row whose columns[0] (its key) is each row's first value."""

    @abstractmethod
    async def reserve_invoice_numbers(self, account_id: str, count: int) -> tuple[int, str]:
        """Take `count` invoice numbers of the account under its row lock (held to commit):
        (the first one's sequence number, the account's invoice prefix)."""

    async def _reserve(self, sql: str, account_id: str, count: int) -> tuple[int, str]:
        row = (await _conn().execute_query_dict(sql, [count, account_id]))[0]
        return int(row["next_invoice_seq"]) - count, str(row["invoice_prefix"])


def _arrays(columns: Columns) -> str:
    return ", ".join(f"${n + 1}::{t}[]" for n, (_, t) in enumerate(columns))


def _transpose(rows: Rows, width: int) -> list[list[Any]]:
    cols: list[list[Any]] = [[] for _ in range(width)]
    for r in rows:
        for c, v in zip(cols, r, strict=True):
            c.append(v)
    return cols


_RESERVE = (
    "UPDATE accounts SET next_invoice_seq = next_invoice_seq + {n} WHERE id = {id} "
    "RETURNING next_invoice_seq, invoice_prefix"
)


class PostgresRows(RowStore):
    async def insert(self, table: str, columns: Columns, rows: Rows) -> None:
        if not rows:
            return
        names = ", ".join(c for c, _ in columns)
        sql = f"INSERT INTO {table} ({names}) SELECT * FROM unnest({_arrays(columns)})"
        await _conn().execute_query(sql, _transpose(rows, len(columns)))

    async def update(self, table: str, columns: Columns, rows: Rows) -> None:
        if not rows:
            return
        key = columns[0][0]
        names = ", ".join(c for c, _ in columns)
        sets = ", ".join(f"{c} = v.{c}" for c, _ in columns[1:])
        sql = (
            f"UPDATE {table} AS t SET {sets} FROM unnest({_arrays(columns)}) AS v({names}) "
            f"WHERE t.{key} = v.{key}"
        )
        await _conn().execute_query(sql, _transpose(rows, len(columns)))

    async def reserve_invoice_numbers(self, account_id: str, count: int) -> tuple[int, str]:
        return await self._reserve(_RESERVE.format(n="$1", id="$2"), account_id, count)


class SqliteRows(RowStore):
    async def insert(self, table: str, columns: Columns, rows: Rows) -> None:
        if not rows:
            return
        names = ", ".join(c for c, _ in columns)
        marks = ", ".join("?" for _ in columns)
        await _conn().execute_many(
            f"INSERT INTO {table} ({names}) VALUES ({marks})", [list(r) for r in rows]
        )

    async def update(self, table: str, columns: Columns, rows: Rows) -> None:
        if not rows:
            return
        key = columns[0][0]
        sets = ", ".join(f"{c} = ?" for c, _ in columns[1:])
        await _conn().execute_many(
            f"UPDATE {table} SET {sets} WHERE {key} = ?", [[*r[1:], r[0]] for r in rows]
        )

    async def reserve_invoice_numbers(self, account_id: str, count: int) -> tuple[int, str]:
        return await self._reserve(_RESERVE.format(n="?", id="?"), account_id, count)
