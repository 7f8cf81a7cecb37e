"""GraphiQL on GET /graphql works with no internet access: the page and every script and
stylesheet it loads come from meterbill (src/meterbill/static/graphiql/). In a real browser:
tests/browser/test_graphiql.py."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.apps import running
from tests.processes import Meterbill

HTML = {"Accept": "text/html"}
# src= / href= attribute values, and CSS url(...) references.
_REFS = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
_CSS_URLS = re.compile(r"""url\(\s*["']?([^"')]+)""")


def _is_local(ref: str) -> bool:
    return ref.startswith("data:") or (ref.startswith("/") and not ref.startswith("//"))


async def test_graphiql_page_names_no_external_url_and_serves_its_assets(deployment) -> None:
    # MB_GRAPHIQL is on by default only when embedded: switched on for either deployment.
    async with running(deployment, graphiql=True) as client:
        await _page_and_assets(client)


async def _page_and_assets(client: httpx.AsyncClient) -> None:
    r = await client.get("/graphql", headers=HTML)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "GraphiQL" in html
    assert not re.search(r"(?:https?:)?//[\w.-]+\.\w+/", html), "the page names an external URL"
    refs = _REFS.findall(html)
    assert sorted(r for r in refs if not r.startswith("data:")) == [
        "/static/graphiql/graphiql.min.css",
        "/static/graphiql/graphiql.min.js",
        "/static/graphiql/react-dom.production.min.js",
        "/static/graphiql/react.production.min.js",
    ]
    for ref in refs:
        assert _is_local(ref), ref
        if ref.startswith("data:"):
            continue
        asset = await client.get(ref)
        assert asset.status_code == 200, ref
        kind = "text/css" if ref.endswith(".css") else "javascript"
        assert kind in asset.headers["content-type"], (ref, asset.headers["content-type"])
        if ref.endswith(".css"):  # fonts and images inlined, nothing fetched from elsewhere
            assert all(_is_local(u) for u in _CSS_URLS.findall(asset.text))
        assert "sourceMappingURL" not in asset.text[-300:]  # the maps are not shipped


async def test_static_files_refuse_paths_outside_the_folder(client) -> None:
    assert (await client.get("/static/graphiql/nothing.js")).status_code == 404
    assert (await client.get("/static/../config.py")).status_code == 404


def test_graphiql_is_off_when_disabled(tmp_path: Path) -> None:
    # MB_GRAPHIQL=false: GET /graphql from a browser is not a page (the API stays POST).
    mb = Meterbill(
        tmp_path, {"MB_DATABASE_URL": f"sqlite://{tmp_path}/mb.db", "MB_GRAPHIQL": "false"}
    )
    try:
        mb.start()
        r = mb.http.get("/graphql", headers=HTML)
        assert r.status_code == 404 and "graphiql" not in r.text.lower()
    finally:
        mb.close()
