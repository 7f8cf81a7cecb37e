"""`meterbill demo` runs the seed's month on a temporary database and ends with 180.00 USD."""

from __future__ import annotations

import subprocess
import sys


def test_demo_prints_the_paid_invoice() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "meterbill.cli", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "Usage summary" in text and "3000 tokens" in text
    assert "Upcoming invoice (preview, not stored)" in text
    final = text.split("(SUBSCRIPTION_CYCLE)")[1]
    assert ": PAID" in final.splitlines()[0]
    assert "Total" in final and "180.00 USD" in final
    assert "Alpaca AI usage (tier 2: 1001 and above)" in final and "80.00 USD" in final
