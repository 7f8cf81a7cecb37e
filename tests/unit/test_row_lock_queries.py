"""Tortoise builds `qs.select_for_update().values_list(...)` (and .values(), .count(),
.exists()) WITHOUT the FOR UPDATE clause: the code reads as locked and is not. Two money bugs
came from it (a customer balance change lost to a concurrent one; cancel-now usage counted
twice when a worker folded it meanwhile). This keeps the pattern out of the code, and shows
the ORM still behaves so (if a release fixes it, the second test says the guard can go)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "meterbill"
UNLOCKING = {"values", "values_list", "count", "exists"}


def _chain(node: ast.AST) -> list[str]:
    """The method names of a call chain a().b().c(), innermost first."""
    names: list[str] = []
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        names.append(node.func.attr)
        node = node.func.value
    return names[::-1]


def test_no_locking_query_ends_in_a_values_query():
    found = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = _chain(node)
            if "select_for_update" in names:
                after = names[names.index("select_for_update") + 1 :]
                if UNLOCKING & set(after):
                    found.append(f"{path.relative_to(SRC)}:{node.lineno}: {'.'.join(names)}")
    assert found == [], "FOR UPDATE is dropped by these queries (use model rows):\n" + "\n".join(
        found
    )


# In its own process: the ORM's query builders, once made for one dialect, stay that
# dialect's for the process (tests/services.py).
SHOW_SQL = """
import asyncio
from tortoise import Tortoise
from meterbill.db.models import Customer
async def main():
    await Tortoise.init(db_url="postgres://u@127.0.0.1:1/none",
                        modules={"models": ["meterbill.db.models"]}, _create_db=False)
    qs = Customer.filter(id="cus_x").select_for_update()
    print(qs.only("id", "balance").sql())
    print(qs.values_list("id", "balance").sql())
asyncio.run(main())
"""


def test_the_orm_drops_for_update_from_values_queries():
    out = subprocess.run(
        [sys.executable, "-c", SHOW_SQL], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0].endswith("FOR UPDATE"), out
    assert "FOR UPDATE" not in out[1], out
