"""Headless Chromium for page tests: Debian's /usr/bin/chromium driven by playwright (never a
browser download). Without it a page test skips, saying so; with MB_REQUIRE_SERVICES=1 it
fails instead (tests/services.py's rule)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests import services as svc

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


def require_chromium() -> str:
    if not os.path.exists(CHROMIUM):
        svc.missing(f"Chromium ({CHROMIUM}; apt-get install chromium)", "MB_TEST_CHROMIUM")
    try:
        import playwright  # noqa: F401
    except ImportError:
        svc.missing("playwright (pip install -e '.[test]')", "MB_TEST_CHROMIUM")
    return CHROMIUM


@contextmanager
def page() -> Iterator[Any]:
    """A fresh page in a fresh headless Chromium."""
    from playwright.sync_api import sync_playwright

    exe = require_chromium()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, headless=True, args=FLAGS)
        try:
            yield browser.new_page()
        finally:
            browser.close()
