"""Browser dashboards on other origins: allowed only for MB_CORS_ORIGINS (none by default)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from meterbill.app import create_app
from meterbill.config import Settings
from meterbill.db.setup import run_migrations

PREFLIGHT = {
    "Origin": "https://dash.example.com",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type",
}


async def _preflight(tmp_path: Path, **settings: object) -> httpx.Response:
    conf = Settings(database_url=f"sqlite://{tmp_path}/c.db", **settings)  # type: ignore[arg-type]
    await run_migrations(conf)
    app = create_app(conf)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.options("/graphql", headers=PREFLIGHT)


async def test_no_cross_origin_access_by_default(tmp_path: Path) -> None:
    r = await _preflight(tmp_path)
    assert "access-control-allow-origin" not in r.headers


@pytest.mark.parametrize(
    "origins", [["https://dash.example.com"], "https://other.example, https://dash.example.com"]
)
async def test_allowed_origin_gets_cors_headers(tmp_path: Path, origins: object) -> None:
    r = await _preflight(tmp_path, cors_origins=origins)
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "https://dash.example.com"
    assert "authorization" in r.headers["access-control-allow-headers"].lower()


async def test_other_origin_is_refused(tmp_path: Path) -> None:
    r = await _preflight(tmp_path, cors_origins=["https://elsewhere.example"])
    assert r.status_code == 400
    assert "access-control-allow-origin" not in r.headers


def test_origins_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MB_CORS_ORIGINS", "https://a.example, https://b.example")
    assert Settings().cors_origins == ["https://a.example", "https://b.example"]
    monkeypatch.setenv("MB_CORS_ORIGINS", '["https://c.example"]')
    assert Settings().cors_origins == ["https://c.example"]
