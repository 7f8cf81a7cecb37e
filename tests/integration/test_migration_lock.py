"""Migrations never run twice at once: `meterbill migrate` waits while another process holds
the migration lock (PostgreSQL advisory lock / SQLite lock file), and two runs started
together on a fresh database both succeed, each migration applied once."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import asyncpg

from meterbill.db.migration_lock import LOCK_KEY
from tests import services as svc
from tests.processes import wait_for

MIGRATE = [sys.executable, "-m", "meterbill.cli", "migrate"]


class Migrate:
    """`meterbill migrate` as its own process, its output in a file."""

    def __init__(self, url: str, cwd: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MB_")}
        env["MB_DATABASE_URL"] = url
        self.out = cwd / f"migrate-{time.monotonic_ns()}.log"
        with self.out.open("w") as f:
            self.proc = subprocess.Popen(MIGRATE, cwd=cwd, env=env, stdout=f, stderr=f)

    def output(self) -> str:
        return self.out.read_text()

    def finish(self) -> str:
        self.proc.wait(timeout=120)
        assert self.proc.returncode == 0, self.output()
        return self.output()


def _waits(run: Migrate, applied: object) -> None:
    """The run says it waits for the lock and applies nothing meanwhile."""
    wait_for(lambda: "waiting" in run.output(), "migrate to wait for the lock", timeout=60)
    time.sleep(0.5)
    assert run.proc.poll() is None, run.output()
    assert applied() is None


def _pg(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


async def _applied_pg(url: str) -> list[str] | None:
    conn = await asyncpg.connect(_pg(url))
    try:
        if not await conn.fetchval("SELECT to_regclass('tortoise_migrations') IS NOT NULL"):
            return None
        rows = await conn.fetch("SELECT name FROM tortoise_migrations ORDER BY name")
        return [r["name"] for r in rows]
    finally:
        await conn.close()


def test_pg_migrate_waits_for_the_advisory_lock(tmp_path: Path) -> None:
    server = svc.require_pg()
    with svc.fresh_pg_database(server) as url:

        async def hold() -> asyncpg.Connection:
            conn = await asyncpg.connect(_pg(url))
            await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
            return conn

        loop = asyncio.new_event_loop()
        try:
            holder = loop.run_until_complete(hold())
            run = Migrate(url, tmp_path)
            _waits(run, lambda: loop.run_until_complete(_applied_pg(url)))
            loop.run_until_complete(holder.close())  # the lock goes with the session
            run.finish()
            assert loop.run_until_complete(_applied_pg(url))
        finally:
            loop.close()


def test_pg_two_migrations_at_once_on_a_fresh_database(tmp_path: Path) -> None:
    server = svc.require_pg()
    with svc.fresh_pg_database(server) as url:
        runs = [Migrate(url, tmp_path) for _ in range(2)]
        for run in runs:
            run.finish()
        applied = asyncio.run(_applied_pg(url))
        assert applied and len(applied) == len(set(applied)), applied


def test_sqlite_migrate_waits_for_the_lock_file(tmp_path: Path) -> None:
    db = tmp_path / "mb.db"
    with (tmp_path / "mb.db.migrate-lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        run = Migrate(f"sqlite://{db}", tmp_path)
        _waits(run, lambda: None if not db.exists() or db.stat().st_size == 0 else 1)
        fcntl.flock(lock, fcntl.LOCK_UN)
    run.finish()
    assert db.stat().st_size > 0


def test_sqlite_two_migrations_at_once(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/mb.db"
    runs = [Migrate(url, tmp_path) for _ in range(2)]
    for run in runs:
        run.finish()
    with sqlite3.connect(tmp_path / "mb.db") as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM tortoise_migrations")]
    assert names and len(names) == len(set(names))
