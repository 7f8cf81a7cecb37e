"""Structured logs: one JSON object per line, with the request's id (and account id) on
every line logged while a request is handled.

What may appear: ids, operation names (root field names), status, durations, codes. What
never does: secrets (Authorization header, API keys), query text, variables, payload
values. The request log line is built from a fixed set of fields (web/observability.py),
so nothing from the request body can slip in."""

from __future__ import annotations

import json
import logging
import logging.config
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

# The current request's facts, filled as they become known (middleware, auth, GraphQL).
REQUEST: ContextVar[dict[str, Any] | None] = ContextVar("meterbill_request", default=None)

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "color_message",  # uvicorn's ANSI-coloured copy of the message
}


class RequestContext(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        info = REQUEST.get()
        if info:
            for key in ("request_id", "account_id"):
                if info.get(key) and not hasattr(record, key):
                    setattr(record, key, info[key])
        return True


class QuietJobs(logging.Filter):
    """arq logs two INFO lines per job (started, finished), so an idle worker wrote two
    every 5 s for the usage sweep alone, plus its health record every 30 s. Those become
    DEBUG; what an operator acts on stays INFO or above: start-up, shutdown, retries,
    cancellations, failures (arq logs job errors as exceptions)."""

    ROUTINE = frozenset({"%6.2fs → %s(%s)%s", "%6.2fs ← %s ● %s", "recording health: %s"})

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or record.msg not in self.ROUTINE:
            return True
        if not logging.getLogger(record.name).isEnabledFor(logging.DEBUG):
            return False
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def log_config(level: str = "INFO") -> dict[str, Any]:
    """A dictConfig for `meterbill serve` (handed to uvicorn, so every worker process
    applies it) and `meterbill worker`."""
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "json",
        "filters": ["request"],
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request": {"()": "meterbill.logs.RequestContext"},
            "quiet_jobs": {"()": "meterbill.logs.QuietJobs"},
        },
        "formatters": {"json": {"()": "meterbill.logs.JsonFormatter"}},
        "handlers": {"json": handler},
        "root": {"handlers": ["json"], "level": level},
        "loggers": {
            # strawberry logs every GraphQL error, callers' mistakes included, with the
            # query text: ours are coded, and internal ones are logged by graphql/limits.py.
            "strawberry.execution": {"level": "CRITICAL"},
            "uvicorn.access": {"level": "WARNING"},
            "arq.worker": {"filters": ["quiet_jobs"]},
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
        },
    }


def configure(level: str = "INFO") -> None:
    logging.config.dictConfig(log_config(level))
