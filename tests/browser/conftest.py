"""Debian's chromium driven by playwright (never a browser download), against a real
`meterbill serve`. Skips, saying why, without chromium or playwright; fails instead under
MB_REQUIRE_SERVICES=1. Screenshots go to test-artifacts/screenshots/ (gitignored)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import services as svc
from tests.live_support import embedded_server
from tests.processes import Meterbill

CHROMIUM = os.environ.get("MB_TEST_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "screenshots"
AXE = ROOT / "dashboard" / "node_modules" / "axe-core" / "axe.min.js"


def missing(what: str) -> None:
    if svc.REQUIRE:
        pytest.fail(f"{what} (MB_REQUIRE_SERVICES=1)")
    pytest.skip(what)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Meterbill]:
    with embedded_server(tmp_path_factory.mktemp("dashboard")) as srv:
        yield srv


def _require_chromium() -> None:
    if not Path(CHROMIUM).is_file():
        missing(f"chromium not installed at {CHROMIUM} (apt-get install chromium)")


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    _require_chromium()
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        missing("playwright not installed (pip install -e '.[test]')")
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield b
        finally:
            await b.close()


async def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


async def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's WCAG 2 A/AA violations on the page as it is."""
    if not AXE.is_file():
        missing(f"axe-core not installed at {AXE} (npm ci in dashboard/)")
    # Evaluated, not added as a <script>: the dashboard's CSP refuses inline scripts.
    if not await page.evaluate("typeof axe !== 'undefined'"):
        await page.evaluate(AXE.read_text() + "\n;void 0")
    result = await page.evaluate(
        "async () => await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']})"
    )
    return [
        {"id": v["id"], "nodes": [n["target"] for n in v["nodes"]]} for v in result["violations"]
    ]
