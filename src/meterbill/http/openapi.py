"""GET /openapi.json: an OpenAPI 3.1 description of meterbill's REST endpoint,
POST /v1/meter_events (bulk ingestion; http/bulk.py). GraphQL describes itself (schema.graphql,
introspection); this is for clients and gateways that speak OpenAPI."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

# The body of every refusal, the same on /graphql (web/errors.error_body).
_ERROR = {
    "type": "object",
    "required": ["data", "errors"],
    "properties": {
        "data": {"type": "null"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["message", "extensions"],
                "properties": {
                    "message": {"type": "string"},
                    "extensions": {
                        "type": "object",
                        "required": ["code"],
                        "properties": {"code": {"type": "string"}},
                    },
                },
            },
        },
    },
}


def _error(description: str, code: str) -> dict[str, Any]:
    return {
        "description": f"{description} (errors[0].extensions.code {code})",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


_EVENT = {
    "type": "object",
    "required": ["event_name", "payload"],
    "properties": {
        "event_name": {"type": "string", "maxLength": 100, "description": "a meter's eventName"},
        "payload": {
            "type": "object",
            "description": "the meter's customer key (customer_id by default: a customer's id "
            "or, with BY_EXTERNAL_ID meters, its externalId), value key (value: a number or a "
            "decimal string) and dimension keys; values are strings or numbers",
            "additionalProperties": {"type": ["string", "number"]},
        },
        "identifier": {
            "type": "string",
            "maxLength": 100,
            "description": "unique per account for at least 35 days: a resent event with the "
            "same identifier is a DUPLICATE and counts once; generated when absent",
        },
        "timestamp": {
            "type": "string",
            "format": "date-time",
            "description": "ISO 8601 with a timezone; defaults to now (the customer's test "
            "clock time, if any); accepted within [now - 35 days, now + 5 minutes]",
        },
    },
    "example": {
        "event_name": "alpaca_ai_tokens",
        "payload": {"customer_id": "cus_...", "value": 500},
        "identifier": "req-0001",
        "timestamp": "2026-01-15T10:00:00Z",
    },
}

_RESULT = {
    "type": "object",
    "required": ["index", "identifier", "status", "errors"],
    "properties": {
        "index": {"type": "integer", "description": "0-based position of the event in the body"},
        "identifier": {"type": ["string", "null"]},
        "status": {"type": "string", "enum": ["ACCEPTED", "DUPLICATE", "REJECTED"]},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "code", "message"],
                "properties": {
                    "field": {
                        "type": ["array", "null"],
                        "items": {"type": "string"},
                        "description": 'path inside the event, e.g. ["payload", "value"]',
                    },
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
    },
}


def document(version: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "meterbill REST API",
            "version": version,
            "description": "Bulk usage ingestion. Everything else is GraphQL at POST /graphql.",
        },
        "paths": {
            "/v1/meter_events": {
                "post": {
                    "operationId": "recordMeterEventsBulk",
                    "summary": "Record many meter events in one streamed request",
                    "description": (
                        "The body is NDJSON (one event object per line) or a JSON array of "
                        "events, read as it arrives. Each event is validated, deduplicated by "
                        "identifier and stored (committed before its result line is sent) like "
                        "recordMeterEvents; a bad event is REJECTED on its own line and the "
                        "events around it are stored. The answer streams one result line per "
                        "event, in input order. A body with more than MB_BULK_MAX_EVENTS "
                        "events, or a JSON array that stops being valid JSON, ends with one "
                        "REJECTED line at the index where reading stopped: resend from there."
                    ),
                    "security": [{"bearer": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/x-ndjson": {
                                "schema": {"$ref": "#/components/schemas/MeterEvent"},
                                "description": "one MeterEvent per line",
                            },
                            "application/json": {
                                "schema": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/MeterEvent"},
                                }
                            },
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "one MeterEventResult per line, in input order",
                            "content": {
                                "application/x-ndjson": {
                                    "schema": {"$ref": "#/components/schemas/MeterEventResult"}
                                }
                            },
                        },
                        "401": _error("no or an invalid API key", "UNAUTHENTICATED"),
                        "403": _error("the key may not record usage", "FORBIDDEN"),
                        "415": _error("neither NDJSON nor JSON", "UNSUPPORTED_MEDIA_TYPE"),
                        "429": {
                            **_error("over the key's rate limit", "RATE_LIMITED"),
                            "headers": {
                                "Retry-After": {
                                    "schema": {"type": "integer"},
                                    "description": "seconds",
                                }
                            },
                        },
                    },
                }
            }
        },
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a secret key, mb_sk_... (ADMIN or USAGE_WRITE)",
                }
            },
            "schemas": {"MeterEvent": _EVENT, "MeterEventResult": _RESULT, "Error": _ERROR},
        },
    }


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("meterbill")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"


_DOCUMENT = document(_version())


async def openapi_endpoint(_: Request) -> JSONResponse:
    return JSONResponse(_DOCUMENT)
