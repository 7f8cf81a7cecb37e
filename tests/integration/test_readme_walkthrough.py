"""README.md's "From zero to a paid invoice" runs as written: its sh blocks, extracted from the
README text, run in one bash against a real `meterbill serve`, and end with the paid invoice.
The guide pins its own instants (a test clock at 2026-01-01), so this passes on any date."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests import services as svc
from tests.processes import VENV_BIN, Meterbill

README = Path(__file__).resolve().parents[2] / "README.md"
MARK = "::walkthrough-block::"


def walkthrough_blocks() -> list[str]:
    text = README.read_text()
    m = re.search(r"<!-- walkthrough:start.*?-->(.*?)<!-- walkthrough:end -->", text, re.S)
    assert m, "README.md has no walkthrough markers"
    return re.findall(r"```sh\n(.*?)```", m.group(1), re.S)


def _outputs(stdout: str) -> list[str]:
    return stdout.split(MARK + "\n")[1:]


def _json_docs(text: str) -> list[Any]:
    """The JSON values printed one after another (jq's pretty or compact output)."""
    decoder, docs, i = json.JSONDecoder(), [], 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        doc, i = decoder.raw_decode(text, i)
        docs.append(doc)
    return docs


def test_readme_walkthrough_ends_with_a_paid_invoice(tmp_path: Path) -> None:
    for tool in ("bash", "curl", "jq"):
        if shutil.which(tool) is None:
            svc.missing(f"{tool} (apt-get install {tool})", "PATH")
    blocks = walkthrough_blocks()
    assert len(blocks) == 11
    data = tmp_path / "data"
    mb = Meterbill(tmp_path, {"MB_DATA_DIR": str(data)})
    try:
        mb.start()
        script = "set -euo pipefail\n" + "".join(f"echo {MARK}\n{b}" for b in blocks)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MB_")}
        env.update(
            PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
            MB=f"http://127.0.0.1:{mb.port}",
            MB_DATA_DIR=str(data),  # where the server's database is (its default)
        )
        # A folder of its own: `accounts create` must find the server's database anyway.
        cwd = tmp_path / "elsewhere"
        cwd.mkdir()
        run = subprocess.run(
            ["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=240
        )
    finally:
        mb.close()
    (tmp_path / "walkthrough.out").write_text(run.stdout)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stderr == "", run.stderr
    out = _outputs(run.stdout)
    assert len(out) == len(blocks)

    subscription = _json_docs(out[4])[0]
    assert subscription["status"] == "ACTIVE"
    assert subscription["latestInvoice"] == {
        "number": subscription["latestInvoice"]["number"],
        "status": "PAID",
        "total": 10000,
    }
    recorded = _json_docs(out[6])[0]
    assert recorded["userErrors"] == [] and recorded["meterEvent"]["value"] == "2000"
    bulk = _json_docs(out[7])
    assert [(r["identifier"], r["status"]) for r in bulk] == [
        ("req-0002", "ACCEPTED"),
        ("req-0003", "ACCEPTED"),
    ]
    upcoming = _json_docs(out[8])[0]
    assert upcoming["total"] == 18000
    (invoice,) = _json_docs(out[10])
    assert (invoice["status"], invoice["total"], invoice["amountPaid"]) == ("PAID", 18000, 18000)
    assert (invoice["periodStart"], invoice["periodEnd"]) == (
        "2026-01-01T00:00:00Z",
        "2026-02-01T00:00:00Z",
    )
    assert sorted(line["amount"] for line in invoice["lines"]) == [0, 8000, 10000]
    assert (data / "meterbill.db").exists() and not list(cwd.iterdir())
