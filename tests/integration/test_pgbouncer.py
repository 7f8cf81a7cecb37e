"""meterbill behind PgBouncer in transaction pooling mode (Debian's 1.18, which cannot follow
prepared statements across server connections), with MB_DB_PGBOUNCER=true: migrations take
turns through it, and a slice of the suite (usage, billing months with the worker on Redis,
idempotency, webhooks) passes with every statement going through a PgBouncer of its own."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import asyncpg

from tests import services as svc
from tests.pgbouncer import pgbouncer

ROOT = Path(__file__).resolve().parents[2]
SLICE = [
    "tests/api/test_usage_record.py",
    "tests/api/test_usage_record_batch.py",
    "tests/api/test_usage_summaries.py",
    "tests/api/test_usage_cancel.py",
    "tests/api/test_bulk_ingest.py",
    "tests/api/test_billing_month.py",
    "tests/api/test_billing_lifecycle.py",
    "tests/api/test_idempotency.py",
    "tests/api/test_webhooks_api.py",
]


def _applied(url: str) -> list[str]:
    async def read() -> list[str]:
        conn = await asyncpg.connect(url.replace("postgres://", "postgresql://"))
        try:
            rows = await conn.fetch("SELECT name FROM tortoise_migrations ORDER BY name")
            return [r["name"] for r in rows]
        finally:
            await conn.close()

    return asyncio.run(read())


def test_two_migrations_at_once_through_pgbouncer(tmp_path: Path) -> None:
    server = svc.require_pg()
    with svc.fresh_pg_database(server) as direct, pgbouncer(direct) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MB_")}
        env.update(MB_DATABASE_URL=url, MB_DB_PGBOUNCER="true")
        meterbill = str(Path(sys.executable).parent / "meterbill")
        runs = [
            subprocess.Popen(
                [meterbill, "migrate"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
            for _ in range(2)
        ]
        outs = [r.communicate(timeout=180)[0].decode() for r in runs]
        assert [r.returncode for r in runs] == [0, 0], outs
        applied = _applied(direct)
        assert applied and len(applied) == len(set(applied)), applied


def test_a_slice_of_the_suite_through_pgbouncer() -> None:
    server = svc.require_pg()
    redis = svc.require_redis()
    with pgbouncer(server) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MB_")}
        env.update(
            MB_TEST_DATABASE_URL=url,
            MB_TEST_REDIS_URL=redis,
            MB_REQUIRE_SERVICES="1",
            MB_DB_PGBOUNCER="true",
        )
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", *SLICE],
            cwd=ROOT,
            env=env,
            capture_output=True,
            timeout=900,
        )
        out = run.stdout.decode() + run.stderr.decode()
        assert run.returncode == 0, out[-4000:]
        assert " passed" in out and " skipped" not in out, out[-2000:]
