"""Body size and shape limits on POST /graphql (meterbill.http.limits)."""

from __future__ import annotations

import orjson

from meterbill.http.limits import BodyLimit
from tests.apps import running

Q = {"query": "{ __typename }"}


def _code(resp) -> str:  # type: ignore[no-untyped-def]
    return resp.json()["errors"][0]["extensions"]["code"]


async def test_declared_length_over_limit_is_413(deployment):
    async with running(deployment, max_body_bytes=2048) as client:
        body = orjson.dumps({"query": "{ __typename }", "variables": {"x": "a" * 3000}})
        r = await client.post(
            "/graphql", content=body, headers={"content-type": "application/json"}
        )
        assert r.status_code == 413
        assert _code(r) == "PAYLOAD_TOO_LARGE"
        ok = await client.post("/graphql", json=Q)
        assert ok.status_code == 200 and ok.json() == {"data": {"__typename": "Query"}}


async def test_default_limit_is_one_mebibyte(client):
    big = {"query": "{ __typename }", "variables": {"x": "a" * (1 << 20)}}
    r = await client.post("/graphql", json=big)
    assert r.status_code == 413
    below = {"query": "{ __typename }", "variables": {"x": "a" * ((1 << 20) - 100)}}
    assert (await client.post("/graphql", json=below)).status_code == 200


async def test_streamed_body_is_refused_without_reading_it_all():
    """No Content-Length: the middleware stops pulling chunks once the limit is passed."""
    chunks_pulled = 0
    total_chunks = 100

    async def receive():  # type: ignore[no-untyped-def]
        nonlocal chunks_pulled
        chunks_pulled += 1
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}

    sent: list[dict] = []

    async def send(message):  # type: ignore[no-untyped-def]
        sent.append(message)

    async def never(scope, receive, send):  # type: ignore[no-untyped-def]
        raise AssertionError("the app must not be called")

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/graphql",
        "headers": [(b"content-type", b"application/json")],
    }
    await BodyLimit(never, max_bytes=4096)(scope, receive, send)
    assert sent[0]["status"] == 413
    assert chunks_pulled == 5 < total_chunks  # 4 KiB fit, the 5th chunk passes the limit


async def test_chunked_upload_over_limit_via_http(deployment):
    async def gen():  # type: ignore[no-untyped-def]
        yield b'{"query": "{ __typename }", "variables": {"x": "'
        for _ in range(10):
            yield b"a" * 1024
        yield b'"}}'

    async with running(deployment, max_body_bytes=4096) as client:
        r = await client.post(
            "/graphql", content=gen(), headers={"content-type": "application/json"}
        )
        assert r.status_code == 413


BAD_BODIES = [
    b"{",
    b"not json",
    b"",
    b"[]",
    b'[{"query": "{ __typename }"}]',
    b"42",
    b'"{ __typename }"',
    b'{"query": 5}',
    b'{"query": null}',
    b'{"query": "{ __typename }", "variables": []}',
    b'{"query": "{ __typename }", "variables": "x"}',
    b'{"query": "{ __typename }", "operationName": 3}',
    b'{"query": "{ __typename }", "extensions": 1}',
    b'\xff\xfe{"query": 1}',
    b'{"query": "{ __typename }"',
]


async def test_malformed_bodies_are_400_with_a_json_error(client):
    for body in BAD_BODIES:
        r = await client.post(
            "/graphql", content=body, headers={"content-type": "application/json"}
        )
        assert r.status_code == 400, (body, r.status_code, r.text)
        assert r.headers["content-type"] == "application/json"
        assert _code(r) == "BAD_REQUEST", body


async def test_wrong_content_type_is_415(client):
    r = await client.post(
        "/graphql", content=b"query { __typename }", headers={"content-type": "text/plain"}
    )
    assert r.status_code == 415 and _code(r) == "BAD_REQUEST"


async def test_bad_content_length_is_400(client):
    r = await client.post(
        "/graphql",
        content=b"{}",
        headers={"content-type": "application/json", "content-length": "-1"},
    )
    assert r.status_code == 400
