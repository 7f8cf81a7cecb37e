"""POST /v1/meter_events: bulk ingestion for partners that send millions of events.

The body is NDJSON (application/x-ndjson: one {event_name, payload, identifier, timestamp}
object per line) or a JSON array of such objects (application/json). It is parsed as it
arrives, never buffered whole: every CHUNK parsed events are checked and stored by
services/usage/bulk.py with the same validation, idempotency by identifier and durability
(committed before the answer) as recordMeterEvents, and their results are streamed back as
NDJSON lines {index, identifier, status, errors} in input order. Error paths are relative
to the event (["payload", "value"]); the line's index says which event.

A line that is not a JSON object is REJECTED on its own. A JSON array that stops being
valid JSON cannot be resynchronised: its last line is then an error line for the index
where parsing stopped, and nothing after it is read. So does a body with more than
MB_BULK_MAX_EVENTS events: those before the limit are stored and reported, the line at the
limit's index says that it and the events after it were not read (a client resends them).

Plain ASGI rather than a Starlette StreamingResponse: under ASGI < 2.4 that response reads
`receive` to watch for disconnects, which would steal the request body it is streaming."""

from __future__ import annotations

import asyncio
import codecs
import json
import re
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from typing import Any

import orjson
from orjson import JSONDecodeError, loads
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from meterbill.billing.errors import FieldError
from meterbill.billing.events import strings
from meterbill.config import Settings
from meterbill.services import metrics, ratelimit
from meterbill.services.auth_guard import (
    AUTH_FAILURES_MESSAGE,
    authenticate_request,
    client_address,
)
from meterbill.services.usage.bulk import BulkIngest, Chunk, Outcome
from meterbill.web.auth import CHALLENGE, UNAUTHENTICATED_MESSAGE, bearer
from meterbill.web.errors import send_error

WRITE_SCOPES = frozenset({"ADMIN", "USAGE_WRITE"})
# One event never needs more; a longer line is rejected without being held in memory.
MAX_LINE_BYTES = 64 * 1024

# Events per INSERT. While one chunk's INSERT waits for PostgreSQL the next one is parsed
# and checked, so a chunk is both the unit of overlap and of statement overhead.
CHUNK = 2500


class BodyError(Exception):
    def __init__(self, index: int, message: str):
        super().__init__(message)
        self.index = index


def _reject(code: str, message: str, *field: str) -> FieldError:
    return FieldError(code, message, tuple(field))


_NOT_JSON = _reject("INVALID", "not valid JSON")
_TOO_LONG = _reject("INVALID", f"an event line is longer than {MAX_LINE_BYTES} bytes")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _bad_text(value: object) -> str | None:
    """Why a string somewhere in `value` cannot be stored, if one cannot: PostgreSQL text
    holds neither U+0000 nor lone surrogates, and one such event would fail its whole chunk.
    (recordMeterEvents refuses U+0000 anywhere in a request, graphql/limits.py.)"""
    for s in strings(value):
        if "\x00" in s:
            return "strings must not contain the NUL character (U+0000)"
        if _SURROGATE.search(s):
            return "strings must be valid Unicode (no lone surrogates)"
    return None


def _text_checked(value: Any) -> Any:
    """The value, or the error naming the first top-level field with an unstorable string."""
    why = _bad_text(value)
    if why is None:
        return value
    if isinstance(value, dict):
        for k, v in value.items():
            if _bad_text(k) or _bad_text(v):
                return _reject("INVALID", why, k)
    return _reject("INVALID", why)


class NdjsonSplitter:
    """Complete lines of an NDJSON body fed piece by piece (an over-long line as a FieldError
    saying so, instead of its bytes)."""

    def __init__(self) -> None:
        self.buf = b""
        self.skipping = False  # inside an over-long line, discarding until its newline

    def feed(self, chunk: bytes) -> list[bytes | FieldError]:
        raw = (self.buf + chunk).split(b"\n")
        self.buf = raw.pop()
        if self.skipping and raw:
            self.skipping = False
            del raw[0]
        lines = [x if len(x) <= MAX_LINE_BYTES else _TOO_LONG for x in raw]
        if len(self.buf) > MAX_LINE_BYTES:
            if not self.skipping:
                lines.append(_TOO_LONG)
            self.skipping, self.buf = True, b""
        return lines

    def end(self) -> list[bytes | FieldError]:
        """The last line, when the body does not end with a newline."""
        line, self.buf = self.buf, b""
        return [] if self.skipping else [line]


def decoded(lines: list[bytes | FieldError]) -> Iterator[Any]:
    """Each line's JSON value (or a FieldError saying why not), decoded as it is consumed so
    that only one event's objects are alive at a time; blank lines are skipped."""
    for line in lines:
        if type(line) is not bytes:
            yield line  # already an error
            continue
        try:
            value = loads(line)
        except JSONDecodeError:
            if line.strip():  # only now: most lines parse
                yield _NOT_JSON
            continue
        # orjson refuses lone surrogates itself; U+0000 can only come as an escape.
        yield _text_checked(value) if b"\\u0000" in line else value


class _Cap:
    """Passes at most `limit` events through, lazily (a body's dicts still die young)."""

    def __init__(self, limit: int):
        self.limit = limit
        self.left = limit
        self.over = False

    def take(self, values: Iterable[Any]) -> Iterator[Any]:
        for v in values:
            if self.left == 0:
                self.over = True
                return
            self.left -= 1
            yield v


async def capped(items: AsyncIterator[Iterable[Any]], limit: int) -> AsyncIterator[Iterable[Any]]:
    """The body's events up to `limit`; then, if there is one more, a BodyError at its index
    (so nothing after it is read)."""
    cap = _Cap(limit)
    async for values in items:
        yield cap.take(values)
        if cap.over:
            raise BodyError(
                limit,
                f"a request holds at most {limit} events (MB_BULK_MAX_EVENTS): send this "
                "event and those after it in another request",
            )


async def ndjson_values(chunks: AsyncIterator[bytes]) -> AsyncIterator[Iterable[Any]]:
    """The body's events, one iterator per piece received."""
    split = NdjsonSplitter()
    async for chunk in chunks:
        lines = split.feed(chunk)
        if lines:
            yield decoded(lines)
    tail = split.end()
    if tail:
        yield decoded(tail)


async def array_values(chunks: AsyncIterator[bytes]) -> AsyncIterator[Iterable[Any]]:
    """Elements of a top-level JSON array, decoded one by one as the text arrives; yielded in
    lists of those decoded before more text was needed (or before the error it raises)."""
    decoder = json.JSONDecoder()
    utf8 = codecs.getincrementaldecoder("utf-8")()
    text, pos, index = "", 0, 0
    state = "start"  # start -> first (after "[") -> item -> sep -> end
    ended = False
    it = chunks.__aiter__()
    batch: list[Any] = []

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
        error = None
        if pos >= len(text):
            if batch:
                yield batch
                batch = []
            if not await more():
                if state != "end":
                    raise BodyError(index, "the JSON array is not closed")
                return
            continue
        c = text[pos]
        if state == "end":
            error = "unexpected text after the JSON array"
        elif state == "start":
            if c != "[":
                error = "an application/json body must be a JSON array"
            pos += 1
            state = "first"
        elif state in ("first", "sep") and c == "]":
            pos += 1
            state = "end"
        elif state == "sep":
            if c != ",":
                error = "expected ',' or ']' between events"
            pos += 1
            state = "item"
        else:
            try:
                obj, end = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as e:
                if batch:
                    yield batch
                    batch = []
                if len(text) - pos <= MAX_LINE_BYTES and await more():
                    continue  # maybe just incomplete: retry with more text
                raise BodyError(index, f"event is not valid JSON: {e.msg}") from e
            if end == len(text) and not ended and isinstance(obj, int | float):
                # A number could continue in the next chunk ("12" of "123").
                if batch:
                    yield batch
                    batch = []
                if await more():
                    continue
            pos = end
            state = "sep"
            batch.append(_text_checked(obj))
            index += 1
        if error is not None:
            if batch:
                yield batch
            raise BodyError(index, error)


def _error_json(e: FieldError) -> dict[str, Any]:
    return {"field": list(e.field) if e.field else None, "code": e.code, "message": e.message}


def _line(index: int, identifier: str | None, status: str, errors: Sequence[FieldError]) -> bytes:
    body = {
        "index": index,
        "identifier": identifier,
        "status": status,
        "errors": [_error_json(e) for e in errors],
    }
    return orjson.dumps(body) + b"\n"


def result_lines(start: int, outcomes: list[Outcome]) -> bytes:
    """NDJSON result lines, index `start` on. The same bytes orjson makes of the line's dict,
    written directly for the common error-free lines."""
    out = []
    dumps = orjson.dumps
    for i, (status, ident, errors) in enumerate(outcomes, start):
        if errors:
            out.append(_line(i, ident, status, errors))
        else:
            out.append(_PLAIN % (i, dumps(ident), status.encode()))
    return b"".join(out)


_PLAIN = b'{"index":%d,"identifier":%b,"status":"%b","errors":[]}\n'


class _Pipeline:
    """Chunks stored in order, one INSERT in flight: the caller checks the next chunk while
    the previous one's INSERT waits for the database. A chunk's results are sent once its
    INSERT has committed; input order decides duplicates and the answer's order."""

    def __init__(self, send: Send):
        self.send = send
        self.next_index = 0
        self.pending: tuple[int, asyncio.Task[list[Outcome]]] | None = None

    async def push(self, chunk: Chunk | None) -> None:
        if chunk is None:
            return
        start, self.next_index = self.next_index, self.next_index + len(chunk.out)
        await self.drain()
        self.pending = (start, asyncio.create_task(chunk.store()))

    async def drain(self) -> None:
        if self.pending is not None:
            start, task = self.pending
            self.pending = None
            await _body(self.send, result_lines(start, await task))

    async def abandon(self) -> None:
        """After a failure elsewhere: let the INSERT in flight finish (its events are
        unreported, which a client retries safely by identifier)."""
        if self.pending is not None:
            _, task = self.pending
            self.pending = None
            await asyncio.wait({task})
            if not task.cancelled():
                task.exception()  # retrieved: not reported


class BulkMeterEvents:
    """The ASGI endpoint."""

    def __init__(self, settings: Settings):
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        secret = bearer(request)
        pool = getattr(request.app.state, "pool", None)
        outcome = await authenticate_request(pool, self.settings, client_address(request), secret)
        principal = outcome.principal
        if outcome.retry_after is not None:
            metrics.rate_limited()
            retry = ((b"retry-after", str(outcome.retry_after).encode()),)
            msg = AUTH_FAILURES_MESSAGE.format(outcome.retry_after)
            return await _json(send, 429, "RATE_LIMITED", msg, retry)
        if principal is None:
            return await _json(send, 401, "UNAUTHENTICATED", UNAUTHENTICATED_MESSAGE, CHALLENGE)
        if not principal.scopes & WRITE_SCOPES:
            scopes = ", ".join(sorted(principal.scopes))
            msg = f"this key ({scopes}) may not record meter events (needs USAGE_WRITE)"
            return await _json(send, 403, "FORBIDDEN", msg)
        # One request takes one token of the key's budget, as a GraphQL request does.
        budget = ratelimit.budget_for(self.settings, principal)
        decision = await ratelimit.take(pool, principal.key_id, budget)
        if not decision.allowed:
            metrics.rate_limited()
            msg = f"rate limit exceeded for this API key; retry in {decision.retry_after} s"
            retry = ((b"retry-after", str(decision.retry_after).encode()),)
            return await _json(send, 429, "RATE_LIMITED", msg, retry)
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype in ("application/x-ndjson", "application/jsonl", "application/ndjson"):
            items = ndjson_values(request.stream())
        elif ctype == "application/json":
            items = array_values(request.stream())
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
        ingest = BulkIngest(principal.account_id)
        pipe = _Pipeline(send)
        try:
            try:
                async for values in capped(items, self.settings.bulk_max_events):
                    if await ingest.add(values) >= CHUNK:
                        await pipe.push(ingest.take())
            except BodyError as e:
                await pipe.push(ingest.take())
                await pipe.drain()
                err = _reject("INVALID", f"{e}; nothing after this point was read")
                await _body(send, _line(e.index, None, "REJECTED", [err]))
            else:
                await pipe.push(ingest.take())
                await pipe.drain()
        finally:
            await pipe.abandon()
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
    # The error body /graphql sends too: one shape for every error of the API.
    headers = {k.decode(): v.decode() for k, v in extra}
    await send_error(send, status, code, message, headers)
