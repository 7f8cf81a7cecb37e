"""The same arq jobs and crons run embedded (in the API process, in-memory Redis) and in a
separate `meterbill worker` process on real Redis."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from arq import create_pool
from arq.connections import RedisSettings
from arq.jobs import Job
from tortoise import Tortoise

from meterbill.app import create_app
from meterbill.config import Settings
from meterbill.db.models import WorkerHeartbeat
from meterbill.db.setup import init_db, run_migrations
from meterbill.services import queue
from meterbill.worker.settings import QUEUE
from tests import services as svc


async def _wait_for_beat(prefix: str, timeout: float = 20.0) -> WorkerHeartbeat:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        row = await WorkerHeartbeat.filter(worker__startswith=prefix).first()
        if row is not None:
            return row
        await asyncio.sleep(0.1)
    raise AssertionError(f"no heartbeat from a {prefix} worker within {timeout} s")


async def test_embedded_worker_runs_crons_and_jobs(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite://{tmp_path}/w.db", redis_url=None)
    await run_migrations(settings)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        beat = await _wait_for_beat("embedded:")
        assert beat.worker.endswith(f":{os.getpid()}")
        # Through the same door services use (no explicit queue name).
        assert await queue.enqueue("housekeeping", job_id="hk-test")
        job = Job("hk-test", app.state.pool, _queue_name=QUEUE)
        beats = await job.result(timeout=10)
        assert beats >= 1  # the cron at startup beat first, this job beat again
        row = await WorkerHeartbeat.get(worker=beat.worker)
        assert row.beats >= beats  # the minute cron may have beaten once more since


async def test_separate_worker_process_on_real_redis() -> None:
    pg, redis = svc.require_pg(), svc.require_redis()
    name, db_url = await asyncio.to_thread(svc.create_pg_database, pg)
    redis_url = await asyncio.to_thread(svc.claim_redis_db, redis)
    settings = Settings(database_url=db_url, redis_url=redis_url)
    env = {**os.environ, "MB_DATABASE_URL": db_url, "MB_REDIS_URL": redis_url}
    proc = None

    def check() -> int:
        cmd = [sys.executable, "-m", "meterbill.cli", "worker", "--check"]
        return subprocess.run(cmd, env=env, capture_output=True, timeout=30).returncode

    try:
        await run_migrations(settings)
        assert await asyncio.to_thread(check) == 1  # no worker yet: unhealthy
        proc = subprocess.Popen(
            [sys.executable, "-m", "meterbill.cli", "worker"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        await init_db(settings)
        beat = await _wait_for_beat("worker:")
        assert beat.worker.endswith(f":{proc.pid}")
        assert await asyncio.to_thread(check) == 0  # the compose healthcheck's command
        pool = await create_pool(RedisSettings.from_dsn(redis_url), default_queue_name=QUEUE)
        try:
            job: Job | None = await pool.enqueue_job("housekeeping")
            assert job is not None
            assert await job.result(timeout=20) >= 1
        finally:
            await pool.aclose()
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=20)
            assert proc.returncode is not None
            # At INFO an idle worker says nothing per cron tick (logs.QuietJobs): the
            # start-up crons ran, yet no job line was written.
            lines = [json.loads(line) for line in out.decode().splitlines() if line[:1] == "{"]
            messages = [line["message"] for line in lines]
            assert any(m.startswith("Starting worker") for m in messages), messages
            assert not [m for m in messages if "→ cron:" in m or "← cron:" in m], messages
        await Tortoise.close_connections()
        await asyncio.to_thread(svc.release_redis_db, redis_url)
        await asyncio.to_thread(svc.drop_pg_database, pg, name)


def test_worker_command_refuses_without_redis() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MB_REDIS_URL"}
    out = subprocess.run(
        [sys.executable, "-m", "meterbill.cli", "worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2
    assert "MB_REDIS_URL" in out.stderr
