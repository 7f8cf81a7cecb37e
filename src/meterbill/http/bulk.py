"""POST /v1/meter_events: bulk ingestion for partners that send millions of events.

The body is NDJSON (application/x-ndjson: one {event_name, payload, identifier, timestamp}
object per line) or a JSON array of such objects (application/json). It is parsed as it
arrives, never buffered whole: every MAX_BATCH parsed events go through the same record
function as recordMeterEvents (validation, idempotency by identifier, durable before the
answer), and their results are streamed back as NDJSON lines
{index, identifier, status, errors} in input order. Error paths are relative to the event
(["payload", "value"]); the line's index says which event.

A line that is not a JSON object is REJECTED on its own. A JSON array that stops being
valid JSON cannot be resynchronised: its last line is then an error line for the index
where parsing stopped, and nothing after it is read.

Plain ASGI rather than a Starlette StreamingResponse: under ASGI < 2.4 that response reads
`receive` to watch for disconnects, which would steal the request body it is streaming."""

from __future__ import annotations

import codecs
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from meterbill.billing.errors import DomainError, FieldError
from meterbill.config import Settings
from meterbill.graphql.http import bearer
from meterbill.services import metrics, ratelimit, usage
from meterbill.services.accounts import Principal, authenticate

WRITE_SCOPES = frozenset({"ADMIN", "USAGE_WRITE"})
# One event never needs more; a longer line is rejected without being held in memory.
MAX_LINE_BYTES = 64 * 1024
_FIELDS = ("event_name", "payload", "identifier", "timestamp")
# The service names fields as GraphQL does; this endpoint speaks snake_case.
_RENAME = {"eventName": "event_name"}

Item = tuple[int, usage.EventInput | FieldError]


class BodyError(Exception):
    def __init__(self, index: int, message: str):
        super().__init__(message)
        self.index = index


def _reject(code: str, message: str, *field: str) -> FieldError:
    return FieldError(code, message, tuple(field))


def to_input(obj: Any) -> usage.EventInput | FieldError:
    """A decoded JSON value as an EventInput, or the first thing wrong with its shape (the
    service then validates the content exactly as for recordMeterEvents)."""
    if not isinstance(obj, dict):
        return _reject("INVALID", "each event must be a JSON object")
    unknown = sorted(k for k in obj if k not in _FIELDS)
    if unknown:
        return _reject("INVALID", f"unknown fields {unknown}; known: {list(_FIELDS)}", unknown[0])
    name = obj.get("event_name")
    if name is None:
        return _reject("REQUIRED", "event_name is required", "event_name")
    if not isinstance(name, str):
        return _reject("INVALID", "event_name must be a string", "event_name")
    if "payload" not in obj:
        return _reject("REQUIRED", "payload is required", "payload")
    ident = obj.get("identifier")
    if ident is not None and not isinstance(ident, str):
        return _reject("INVALID", "identifier must be a string", "identifier")
    raw_ts = obj.get("timestamp")
    ts: datetime | None = None
    if raw_ts is not None:
        try:
            if not isinstance(raw_ts, str):
                raise ValueError
            ts = datetime.fromisoformat(raw_ts)
        except ValueError:
            return _reject("INVALID", "timestamp must be an ISO 8601 date-time", "timestamp")
        if ts.tzinfo is None:
            return _reject("INVALID", "timestamp must include a timezone", "timestamp")
    return usage.EventInput(event_name=name, payload=obj["payload"], identifier=ident, timestamp=ts)


def _decode(line: bytes) -> usage.EventInput | FieldError:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return _reject("INVALID", "not valid JSON")
    return to_input(obj)


def _too_long() -> FieldError:
    return _reject("INVALID", f"an event line is longer than {MAX_LINE_BYTES} bytes")


async def ndjson_items(chunks: AsyncIterator[bytes]) -> AsyncIterator[Item]:
    buf = b""
    index = 0
    skipping = False  # inside an over-long line, discarding until its newline
    async for chunk in chunks:
        buf += chunk
        lines = buf.split(b"\n")
        buf = lines.pop()
        for line in lines:
            if skipping:
                skipping = False
                continue
            if len(line) > MAX_LINE_BYTES:
                yield index, _too_long()
                index += 1
            elif line.strip():
                yield index, _decode(line)
                index += 1
        if len(buf) > MAX_LINE_BYTES:
            if not skipping:
                yield index, _too_long()
                index += 1
            skipping, buf = True, b""
    if buf.strip() and not skipping:
        yield index, _decode(buf)


async def array_items(chunks: AsyncIterator[bytes]) -> AsyncIterator[Item]:
    """Elements of a top-level JSON array, decoded one by one as the text arrives."""
    decoder = json.JSONDecoder()
    utf8 = codecs.getincrementaldecoder("utf-8")()
    text, pos, index = "", 0, 0
    state = "start"  # start -> first (after "[") -> item -> sep -> end
    ended = False
    it = chunks.__aiter__()

    async def more() -> bool:
        nonlocal text, pos, ended
        if ended:
            return False
        try:
            chunk = await it.__anext__()
        except StopAsyncIteration:
            ended = True
            text = text[pos:] + utf8.decode(b"", final=True)
            pos = 0
            return True
        try:
            text = text[pos:] + utf8.decode(chunk)
        except UnicodeDecodeError as e:
            raise BodyError(index, "the body is not UTF-8") from e
        pos = 0
        return True

    while True:
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        if pos >= len(text):
            if not await more():
                if state != "end":
                    raise BodyError(index, "the JSON array is not closed")
                return
            continue
        if state == "end":
            raise BodyError(index, "unexpected text after the JSON array")
        c = text[pos]
        if state == "start":
            if c != "[":
                raise BodyError(index, "an application/json body must be a JSON array")
            pos += 1
            state = "first"
            continue
        if state in ("first", "sep") and c == "]":
            pos += 1
            state = "end"
            continue
        if state == "sep":
            if c != ",":
                raise BodyError(index, "expected ',' or ']' between events")
            pos += 1
            state = "item"
            continue
        try:
            obj, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as e:
            if len(text) - pos > MAX_LINE_BYTES:
                raise BodyError(index, f"event is not valid JSON: {e.msg}") from e
            if await more():
                continue  # maybe just incomplete: retry with more text
            raise BodyError(index, f"event is not valid JSON: {e.msg}") from e
        if end == len(text) and not ended and isinstance(obj, int | float):
            # A number could continue in the next chunk ("12" of "123").
            if await more():
                continue
        pos = end
        state = "sep"
        yield index, to_input(obj)
        index += 1


def _error_json(e: FieldError) -> dict[str, Any]:
    path = list(e.field or ())
    if path[:1] == ["input"]:
        # The service's ("input", "<index in chunk>", ...) in GraphQL's names.
        path = [_RENAME.get(p, p) for p in path[2:]]
    return {
        "field": path or None,
        "code": e.code,
        "message": e.message,
    }


def _line(index: int, identifier: str | None, status: str, errors: list[FieldError]) -> bytes:
    body = {
        "index": index,
        "identifier": identifier,
        "status": status,
        "errors": [_error_json(e) for e in errors],
    }
    return orjson.dumps(body) + b"\n"


async def record_chunk(account_id: str, chunk: list[Item]) -> bytes:
    """Results of one chunk, as NDJSON lines in input order."""
    inputs = [(i, x) for i, x in chunk if isinstance(x, usage.EventInput)]
    results = await usage.record_events(account_id, [x for _, x in inputs]) if inputs else []
    by_index = {inputs[r.index][0]: r for r in results}
    out = []
    for i, x in chunk:
        if isinstance(x, FieldError):
            out.append(_line(i, None, "REJECTED", [x]))
        else:
            r = by_index[i]
            out.append(_line(i, r.identifier, r.status, r.errors))
    return b"".join(out)


class BulkMeterEvents:
    """The ASGI endpoint."""

    def __init__(self, settings: Settings):
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        secret = bearer(request)
        principal: Principal | None = await authenticate(secret) if secret else None
        if principal is None:
            msg = "a valid API key is required: Authorization: Bearer mb_sk_..."
            return await _json(send, 401, "UNAUTHENTICATED", msg)
        if not principal.scopes & WRITE_SCOPES:
            scopes = ", ".join(sorted(principal.scopes))
            msg = f"this key ({scopes}) may not record meter events (needs USAGE_WRITE)"
            return await _json(send, 403, "FORBIDDEN", msg)
        # One request takes one token of the key's budget, as a GraphQL request does.
        pool = getattr(request.app.state, "pool", None)
        budget = ratelimit.budget_for(self.settings, principal)
        decision = await ratelimit.take(pool, principal.key_id, budget)
        if not decision.allowed:
            metrics.rate_limited()
            msg = f"rate limit exceeded for this API key; retry in {decision.retry_after} s"
            retry = ((b"retry-after", str(decision.retry_after).encode()),)
            return await _json(send, 429, "RATE_LIMITED", msg, retry)
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype in ("application/x-ndjson", "application/jsonl", "application/ndjson"):
            items = ndjson_items(request.stream())
        elif ctype == "application/json":
            items = array_items(request.stream())
        else:
            msg = (
                "send application/x-ndjson (one event per line) or a JSON array (application/json)"
            )
            return await _json(send, 415, "UNSUPPORTED_MEDIA_TYPE", msg)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/x-ndjson")],
            }
        )
        chunk: list[Item] = []
        try:
            async for item in items:
                chunk.append(item)
                if len(chunk) == usage.MAX_BATCH:
                    await _body(send, await record_chunk(principal.account_id, chunk))
                    chunk = []
            if chunk:
                await _body(send, await record_chunk(principal.account_id, chunk))
        except BodyError as e:
            if chunk:
                await _body(send, await record_chunk(principal.account_id, chunk))
            err = _reject("INVALID", f"{e}; nothing after this point was read")
            await _body(send, _line(e.index, None, "REJECTED", [err]))
        except DomainError as e:  # a chunk as a whole (cannot happen under MAX_BATCH)
            await _body(send, _line(chunk[0][0], None, "REJECTED", e.errors))
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _body(send: Send, data: bytes) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": True})


async def _json(
    send: Send,
    status: int,
    code: str,
    message: str,
    extra: tuple[tuple[bytes, bytes], ...] = (),
) -> None:
    body = orjson.dumps({"error": {"code": code, "message": message}})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
