"""GraphiQL on GET /graphql in headless Chromium against a real `meterbill serve`, offline:
every request the page makes goes to meterbill (anything else is refused and noted), the
editor renders, and a query with the key from the Headers editor runs."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode, urlsplit

from tests.processes import Meterbill


async def test_graphiql_renders_and_runs_a_query_offline(browser: Any, server: Meterbill) -> None:
    secret = server.create_account()
    origin = f"127.0.0.1:{server.port}"
    page = await browser.new_page()
    elsewhere: list[str] = []
    failed: list[str] = []
    errors: list[str] = []

    # No internet: anything not asked of meterbill itself is refused and noted.
    async def route(r: Any) -> None:
        url = r.request.url
        if urlsplit(url).netloc == origin or url.startswith("data:"):
            await r.continue_()
        else:
            elsewhere.append(url)
            await r.abort()

    await page.route("**/*", route)
    page.on("requestfailed", lambda req: failed.append(req.url))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    query = "query Keys { apiKeys { scopes } }"
    headers = json.dumps({"Authorization": f"Bearer {secret}"})
    await page.goto(f"http://{origin}/graphql?" + urlencode({"q": query, "headers": headers}))
    editor = page.locator(".graphiql-query-editor .CodeMirror")
    await editor.wait_for(state="visible", timeout=30_000)
    assert "apiKeys" in await editor.inner_text()
    await page.locator(".graphiql-execute-button").click()
    result = page.locator(".graphiql-response .CodeMirror")
    await result.get_by_text('"ADMIN"').wait_for(timeout=30_000)
    answer = await result.inner_text()
    assert '"scopes"' in answer and '"errors"' not in answer
    assert elsewhere == [] and failed == [] and errors == []
