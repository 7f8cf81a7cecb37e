"""docker-compose.yml and the Dockerfile agree with the code: migrations in a one-shot
service the others wait for, a worker healthcheck, grace periods longer than the code's own
shutdown waits, secrets only from variables, the embedded data directory a volume."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from meterbill.cli import GRACEFUL_SHUTDOWN_SECONDS
from meterbill.worker.settings import WorkerSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def _seconds(value: str) -> int:
    m = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", value)
    assert m and value, value
    return int(m.group(1) or 0) * 60 + int(m.group(2) or 0)


def test_api_and_worker_wait_for_the_one_shot_migration() -> None:
    assert SERVICES["migrate"]["command"] == ["meterbill", "migrate"]
    assert SERVICES["migrate"]["restart"] == "no"
    for name in ("api", "worker"):
        needs = SERVICES[name]["depends_on"]
        assert needs["migrate"] == {"condition": "service_completed_successfully"}, name


def test_worker_healthcheck_and_grace_periods_fit_the_code() -> None:
    assert SERVICES["worker"]["healthcheck"]["test"] == ["CMD", "meterbill", "worker", "--check"]
    worker_grace = _seconds(SERVICES["worker"]["stop_grace_period"])
    assert worker_grace > WorkerSettings.job_completion_wait
    assert _seconds(SERVICES["api"]["stop_grace_period"]) > GRACEFUL_SHUTDOWN_SECONDS
    # A health key expires one interval after it was written: the check runs that often.
    assert _seconds(SERVICES["worker"]["healthcheck"]["interval"]) >= (
        WorkerSettings.health_check_interval
    )


def test_secrets_come_from_variables() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert SERVICES["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith(
        "${POSTGRES_PASSWORD:?"
    )
    urls = re.findall(r"postgres://[^\s\"']+", text)
    assert urls and all("${POSTGRES_PASSWORD" in u for u in urls), urls


def test_the_image_keeps_the_embedded_database_in_a_volume() -> None:
    docker = (ROOT / "Dockerfile").read_text()
    data_dir = re.search(r"^ENV MB_DATA_DIR=(\S+)", docker, re.M)
    assert data_dir, "the image sets MB_DATA_DIR"
    assert f'VOLUME ["{data_dir.group(1)}"]' in docker
