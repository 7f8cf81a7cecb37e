"""What the worker logs at INFO: arq's per-job lines are DEBUG (an idle worker wrote two
INFO lines per cron tick); retries and failures stay INFO or above."""

from __future__ import annotations

import inspect
import logging

import arq.worker

from meterbill.logs import QuietJobs


def _record(msg: str, *args: object, level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord("arq.worker", level, __file__, 1, msg, args, None)


def test_routine_job_lines_are_debug_and_dropped_at_info() -> None:
    logger = logging.getLogger("arq.worker")
    before = logger.level
    quiet = QuietJobs()
    try:
        logger.setLevel(logging.INFO)
        started = _record("%6.2fs → %s(%s)%s", 0.01, "cron:sweep_usage", "", "")
        finished = _record("%6.2fs ← %s ● %s", 0.01, "cron:sweep_usage", 0)
        assert not quiet.filter(started) and not quiet.filter(finished)
        retry = _record("%6.2fs ↻ %s retrying job in %0.2fs", 0.1, "job", 1.0)
        assert quiet.filter(retry) and retry.levelname == "INFO"
        logger.setLevel(logging.DEBUG)
        assert quiet.filter(started) and started.levelname == "DEBUG"
    finally:
        logger.setLevel(before)


def test_the_filtered_lines_are_arqs() -> None:
    # The filter matches arq's format strings; a new arq that changed them shows here.
    source = inspect.getsource(arq.worker)
    for msg in QuietJobs.ROUTINE:
        assert f"'{msg}'" in source, msg
