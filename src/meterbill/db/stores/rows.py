"""Set-based writes for the billing batches, on both backends: PostgreSQL gets one statement
over column arrays (unnest), whatever the number of rows; SQLite (one writer, embedded) gets
an executemany in the open transaction. Values are what Tortoise would bind: aware UTC
datetimes, ints for money, bools."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from tortoise import connections

from meterbill.db.usage_sql import is_postgres

# (column, PostgreSQL type of its array) per table, in the order rows give them.
Columns = Sequence[tuple[str, str]]

_MARK = re.compile(r"\$\d+")


def dialect(conn: Any, sql: str) -> str:
    """`sql` written with PostgreSQL's $n placeholders (each used once, in order) for the
    connection's backend."""
    return sql if is_postgres(conn) else _MARK.sub("?", sql)


def _arrays(columns: Columns) -> str:
    return ", ".join(f"${n + 1}::{t}[]" for n, (_, t) in enumerate(columns))


def _transpose(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    cols: list[list[Any]] = [[] for _ in range(width)]
    for r in rows:
        for c, v in zip(cols, r, strict=True):
            c.append(v)
    return cols


async def insert_rows(table: str, columns: Columns, rows: Sequence[Sequence[Any]]) -> None:
    if not rows:
        return
    conn = connections.get("default")
    names = ", ".join(c for c, _ in columns)
    if is_postgres(conn):
        sql = f"INSERT INTO {table} ({names}) SELECT * FROM unnest({_arrays(columns)})"
        await conn.execute_query(sql, _transpose(rows, len(columns)))
        return
    marks = ", ".join("?" for _ in columns)
    await conn.execute_many(
        f"INSERT INTO {table} ({names}) VALUES ({marks})", [list(r) for r in rows]
    )


async def update_rows(table: str, columns: Columns, rows: Sequence[Sequence[Any]]) -> None:
    """Set columns[1:] of the row whose columns[0] (its key) is each row's first value."""
    if not rows:
        return
    conn = connections.get("default")
    key = columns[0][0]
    if is_postgres(conn):
        names = ", ".join(c for c, _ in columns)
        sets = ", ".join(f"{c} = v.{c}" for c, _ in columns[1:])
        sql = (
            f"UPDATE {table} AS t SET {sets} FROM unnest({_arrays(columns)}) AS v({names}) "
            f"WHERE t.{key} = v.{key}"
        )
        await conn.execute_query(sql, _transpose(rows, len(columns)))
        return
    sets = ", ".join(f"{c} = ?" for c, _ in columns[1:])
    await conn.execute_many(
        f"UPDATE {table} SET {sets} WHERE {key} = ?", [[*r[1:], r[0]] for r in rows]
    )
