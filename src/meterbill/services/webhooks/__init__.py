"""Webhooks (contract extension "events"): endpoints, signing secrets, the fan-out of the
event log into deliveries, and the deliveries' attempts (Standard Webhooks).

config.py's settings reach these modules once per process through configure(), like the
billing clock's grace period: the API's lifespan and each worker's start-up call it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from meterbill.config import Settings


@dataclass(frozen=True)
class Config:
    timeout: float = 10.0
    retry_schedule: tuple[int, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
    allow_private: bool = False
    endpoint_concurrency: int = 8
    max_in_flight: int = 64
    # Seconds a taken delivery's lease outlasts two timeouts (deliveries.py).
    lease_margin: float = 5.0
    secret_key: str | None = field(default=None, repr=False)
    # Where the generated key lives when secret_key is unset (SQLite deployments).
    key_file: Path | None = None


_config = Config()


def config() -> Config:
    return _config


def _key_file(settings: Settings) -> Path | None:
    if not settings.is_sqlite:
        return None
    path = settings.database_url.split("://", 1)[1].split("?", 1)[0]
    if path in ("", ":memory:"):
        return None
    return Path(path).resolve().parent / "meterbill.key"


def configure(settings: Settings | None, **overrides: object) -> None:
    """Take the process's settings (None: the defaults); tests pass overrides."""
    global _config
    if settings is None:
        _config = Config()
    else:
        _config = Config(
            timeout=settings.webhook_timeout,
            retry_schedule=tuple(settings.webhook_retry_schedule),
            allow_private=settings.webhook_allow_private,
            endpoint_concurrency=settings.webhook_endpoint_concurrency,
            max_in_flight=settings.webhook_max_in_flight,
            secret_key=settings.secret_key,
            key_file=_key_file(settings),
        )
    if overrides:
        _config = Config(**{**_config.__dict__, **overrides})
