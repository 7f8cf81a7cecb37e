"""Settings from the environment (prefix MB_), see contract/README.md.

Every setting can also come from a file: MB_X_FILE=/run/secrets/x reads MB_X from that file
(Docker / Kubernetes secrets), so passwords need not sit in the environment."""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import platformdirs
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

PREFIX = "MB_"
DATABASE_FILE = "meterbill.db"


def default_data_dir() -> Path:
    """The platform's user data directory (~/.local/share/meterbill on Linux)."""
    return Path(platformdirs.user_data_dir("meterbill", appauthor=False))


class FileSettings(PydanticBaseSettingsSource):
    """MB_X_FILE=path: the setting MB_X read from that file (its trailing newline dropped)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads every field at once

    def __call__(self) -> dict[str, Any]:
        env = {k.upper(): v for k, v in os.environ.items()}
        values: dict[str, Any] = {}
        for name in self.settings_cls.model_fields:
            var = f"{PREFIX}{name.upper()}"
            path = env.get(f"{var}_FILE")
            if not path:
                continue
            if var in env:
                raise ValueError(f"set {var} or {var}_FILE, not both")
            try:
                values[name] = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise ValueError(f"{var}_FILE: cannot read {path}: {exc.strerror}") from exc
        return values


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore")

    # Where the embedded database lives: the same file whatever the working directory.
    data_dir: Path = Field(default_factory=default_data_dir)
    # Unset: sqlite://DATA_DIR/meterbill.db.
    database_url: str = ""
    redis_url: str | None = None
    invoice_grace_period: int = Field(3600, ge=0)
    # None means "on when embedded": the default single-process install is a dev box.
    graphiql: bool | None = None
    introspection: bool = True
    # Comma-separated in the environment (NoDecode: not JSON).
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    db_pool_min: int = Field(1, ge=1)
    db_pool_max: int = Field(10, ge=1)
    # MB_DATABASE_URL is a PgBouncer in transaction pooling mode: keep no prepared
    # statements across transactions.
    db_pgbouncer: bool = False
    max_body_bytes: int = Field(1 << 20, ge=1024)
    # Seconds a client may take to send a POST /graphql body: a slow sender holds a
    # connection no longer than this (408).
    body_read_timeout: float = Field(10.0, gt=0)
    # When set, GET /metrics needs `Authorization: Bearer <token>` (401 otherwise).
    metrics_token: str | None = None
    # Events in one POST /v1/meter_events body; the rest of a longer one is not read.
    bulk_max_events: int = Field(1_000_000, ge=1)
    # The worker's heartbeat row (worker_heartbeats) is written every N minutes.
    housekeeping_interval_minutes: int = Field(1, ge=1, le=60)
    # Raw events are kept this many days after their timestamp (and their arrival), then
    # dropped by housekeeping: whole weekly partitions on PostgreSQL, batched DELETEs on
    # SQLite. Rollups, unique-value rows and invoices are kept for ever. At least the late
    # event window (35 days) and a week.
    event_retention_days: int = Field(400, ge=42)
    log_level: str = "INFO"
    # Token buckets per API key (requests per second, bucket size); 0 rps = no limit.
    # Keys that can write usage (USAGE_WRITE, not ADMIN) get the larger ingestion budget.
    rate_limit_rps: float = Field(100, ge=0)
    rate_limit_burst: int = Field(200, ge=1)
    usage_rate_limit_rps: float = Field(1000, ge=0)
    usage_rate_limit_burst: int = Field(2000, ge=1)
    # Failed authentications per client address (per second, bucket size); beyond them a
    # request with an unknown key is refused (429) before any key lookup. 0 rps = no limit.
    auth_failure_rps: float = Field(1, ge=0)
    auth_failure_burst: int = Field(30, ge=1)
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
    # Who charges CHARGE_AUTOMATICALLY invoices: the built-in test cards, or Stripe.
    payment_provider: Literal["test", "stripe"] = "test"
    stripe_api_key: SecretStr | None = None
    # Stripe's API by default; tests point it at a local server playing Stripe.
    stripe_api_base: str = "https://api.stripe.com"
    # Per request; a timed-out charge is retried with the same idempotency key.
    stripe_timeout: float = Field(30.0, gt=0)
    # Retries inside one charge (stripe-python's, same key) before the billing pass gives
    # the invoice back for the next pass.
    stripe_max_network_retries: int = Field(2, ge=0)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        files = FileSettings(settings_cls)
        return init_settings, env_settings, files, dotenv_settings, file_secret_settings

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite://{self.data_dir / DATABASE_FILE}"
        return self

    @field_validator("redis_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, v: object) -> object:
        return None if v == "" else v

    @field_validator("secret_key", "stripe_api_key", mode="before")
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

    @model_validator(mode="after")
    def _stripe_needs_a_key(self) -> Settings:
        if self.payment_provider == "stripe" and self.stripe_api_key is None:
            raise ValueError("MB_STRIPE_API_KEY is required when MB_PAYMENT_PROVIDER=stripe")
        return self

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


def settings_problems(exc: ValidationError) -> list[str]:
    """Each invalid setting as one line naming its environment variable."""
    out = []
    for e in exc.errors():
        msg = str(e["msg"]).removeprefix("Value error, ")
        loc = [str(part) for part in e["loc"]]
        out.append(f"MB_{loc[0].upper()}: {msg}" if loc else msg)
    return out
