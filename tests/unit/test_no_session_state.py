"""Pooled PostgreSQL connections go back to the pool without asyncpg's reset query
(db/setup.StatelessConnection). That is safe only while no code leaves session state on a
connection: this keeps new code from adding any without changing the pool's reset too."""

from __future__ import annotations

import re
from pathlib import Path

from meterbill.config import Settings
from meterbill.db.setup import StatelessConnection, tortoise_config

SRC = Path(__file__).resolve().parents[2] / "src" / "meterbill"

# Statements and calls whose effect outlives the statement or transaction that ran them
# (SQL keywords upper case, as the code writes them).
SESSION_STATE = [
    r"pg_advisory_lock",  # session-level (pg_advisory_xact_lock ends with the transaction)
    r"pg_advisory_lock_shared",
    r"pg_try_advisory_lock",
    r"\bLISTEN\s",
    r"WITH\s+HOLD",
    r"set_config\s*\(",
    r"SET\s+SESSION",
    r"SET\s+ROLE",
    r"SET\s+TIME\s+ZONE",
    r"SET\s+search_path",
    r"\bPREPARE\s+\w+\s+AS",
    r"\badd_listener\(",
    r"\badd_log_listener\(",
    # A string that starts with SET (and not SET LOCAL) is a session setting.
    r"[\"']{1,3}\s*SET\s+(?!LOCAL\b)",
]


def test_no_code_leaves_session_state_on_a_connection():
    found = []
    for path in SRC.rglob("*.py"):
        if path.name == "setup.py" and path.parent.name == "db":
            continue  # names the reset query it replaces, in its docstring
        if path.name == "migration_lock.py" and path.parent.name == "db":
            continue  # its own connection, opened for the lock and closed after it
        text = path.read_text()
        for pattern in SESSION_STATE:
            for m in re.finditer(pattern, text):
                line = text.count("\n", 0, m.start()) + 1
                found.append(f"{path.relative_to(SRC)}:{line}: {m.group(0)!r}")
    assert found == [], "session state would leak across pooled connections:\n" + "\n".join(found)


def test_postgres_pools_use_the_stateless_connection():
    url = "postgres://u@127.0.0.1:5432/db"
    conf = tortoise_config(Settings(database_url=url, db_pool_max=7))["connections"]["default"]
    creds = conf["credentials"]
    assert creds["connection_class"] is StatelessConnection
    assert (creds["database"], creds["maxsize"]) == ("db", "7")
    assert StatelessConnection.get_reset_query(None) == ""  # type: ignore[arg-type]
    sqlite = tortoise_config(Settings(database_url="sqlite://x.db"))["connections"]["default"]
    assert sqlite == "sqlite://x.db"
