"""Settings from the environment (prefix MB_), see contract/README.md."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MB_", extra="ignore")

    database_url: str = "sqlite://meterbill.db"
    redis_url: str | None = None
    invoice_grace_period: int = Field(3600, ge=0)
    # None means "on when embedded": the default single-process install is a dev box.
    graphiql: bool | None = None
    introspection: bool = True
    # Comma-separated in the environment (NoDecode: not JSON).
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    db_pool_min: int = Field(1, ge=1)
    db_pool_max: int = Field(10, ge=1)
    max_body_bytes: int = Field(1 << 20, ge=1024)
    # Seconds a client may take to send a POST /graphql body: a slow sender holds a
    # connection no longer than this (408).
    body_read_timeout: float = Field(10.0, gt=0)
    # When set, GET /metrics needs `Authorization: Bearer <token>` (401 otherwise).
    metrics_token: str | None = None
    # Events in one POST /v1/meter_events body; the rest of a longer one is not read.
    bulk_max_events: int = Field(1_000_000, ge=1)
    housekeeping_interval_minutes: int = Field(1, ge=1)
    log_level: str = "INFO"
    # Token buckets per API key (requests per second, bucket size); 0 rps = no limit.
    # Keys that can write usage (USAGE_WRITE, not ADMIN) get the larger ingestion budget.
    rate_limit_rps: float = Field(100, ge=0)
    rate_limit_burst: int = Field(200, ge=1)
    usage_rate_limit_rps: float = Field(1000, ge=0)
    usage_rate_limit_burst: int = Field(2000, ge=1)
    # Webhooks (contract extension "events"). secret_key encrypts the endpoints' signing
    # secrets at rest; unset, a key file beside the SQLite database is made on first use
    # (services/webhooks/secrets.py). With PostgreSQL every process needs the same key.
    secret_key: str | None = Field(None, repr=False)
    webhook_timeout: float = Field(10, gt=0, le=300)
    # Seconds after each failed attempt; one attempt more than entries, then FAILED.
    webhook_retry_schedule: Annotated[list[int], NoDecode] = Field(
        default_factory=lambda: [5, 300, 1800, 7200, 18000, 36000, 36000]
    )
    webhook_allow_private: bool = False
    # Attempts in flight per endpoint and per worker process: a slow endpoint holds at most
    # this many of the process's slots.
    webhook_endpoint_concurrency: int = Field(8, ge=1)
    webhook_max_in_flight: int = Field(64, ge=1)

    @field_validator("redis_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, v: object) -> object:
        return None if v == "" else v

    @field_validator("secret_key", mode="before")
    @classmethod
    def _empty_key_is_unset(cls, v: object) -> object:
        return None if v == "" else v

    @field_validator("webhook_retry_schedule", mode="before")
    @classmethod
    def _seconds_list(cls, v: object) -> object:
        if isinstance(v, str):
            return [int(p) for p in v.replace(" ", "").split(",") if p]
        return v

    @field_validator("webhook_retry_schedule")
    @classmethod
    def _non_negative(cls, v: list[int]) -> list[int]:
        if any(s < 0 for s in v):
            raise ValueError("MB_WEBHOOK_RETRY_SCHEDULE: seconds must be >= 0")
        return v

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _comma_list(cls, v: object) -> object:
        if isinstance(v, str):
            if v.strip().startswith("["):
                return json.loads(v)
            return [o.strip() for o in v.split(",") if o.strip()]
        return v

    @property
    def embedded(self) -> bool:
        return self.redis_url is None

    @property
    def graphiql_enabled(self) -> bool:
        return self.embedded if self.graphiql is None else self.graphiql

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
