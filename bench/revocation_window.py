"""How long a revoked API key keeps working across API processes (limits: at most 1 s).

Starts `meterbill serve --workers 2` on a free port with its own redis-server and its own
database on the given PostgreSQL, then per trial: mints an ADMIN key, uses it on fresh
connections (so both processes cache it), revokes it through the API, and keeps using it on
fresh connections for WATCH seconds. The trial's window is the latest moment after the
revocation's answer at which a request with the key was still accepted (0 if none was).

    .venv/bin/python bench/revocation_window.py [--pg postgres://postgres@127.0.0.1:5432/postgres]
        [--trials 20]

Prints one JSON line: the windows in ms, p50 and p100."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests import services as svc  # noqa: E402
from tests.processes import VENV_BIN, OwnRedis, free_port, wait_for  # noqa: E402

WATCH = 1.5
CREATE = (
    'mutation { createApiKey(input: {name: "probe", scopes: [ADMIN]}) { apiKey { id } secret } }'
)
REVOKE = "mutation($id: ID!) { revokeApiKey(input: {id: $id}) { apiKey { revokedAt } } }"
PROBE = "{ apiKeys { id } }"


def _post(base: str, secret: str, query: str, variables: dict | None = None) -> httpx.Response:
    # A new connection per request: the kernel spreads them over both processes.
    return httpx.post(
        base + "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {secret}", "Connection": "close"},
        timeout=10,
    )


def trial(base: str, admin: str) -> float:
    made = _post(base, admin, CREATE).json()["data"]["createApiKey"]
    key_id, secret = made["apiKey"]["id"], made["secret"]
    for _ in range(20):
        assert _post(base, secret, PROBE).status_code == 200
    assert _post(base, admin, REVOKE, {"id": key_id}).status_code == 200
    revoked = time.monotonic()
    window = 0.0
    while (sent := time.monotonic()) - revoked < WATCH:
        if _post(base, secret, PROBE).status_code == 200:
            window = max(window, sent - revoked)
    return window


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--trials", type=int, default=20)
    args = ap.parse_args()
    base_dir = Path(tempfile.mkdtemp(prefix="meterbill-revoke-"))
    redis = OwnRedis(base_dir)
    redis.start()
    name, url = svc.create_pg_database(args.pg)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MB_")}
    env.update({"MB_DATABASE_URL": url, "MB_REDIS_URL": redis.url, "MB_LOG_LEVEL": "WARNING"})
    port = free_port()
    log = (base_dir / "serve.log").open("ab")
    serve = subprocess.Popen(
        [str(VENV_BIN / "meterbill"), "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx.get(base + "/healthz").status_code == 200, "serve", 60)
        out = subprocess.run(
            [str(VENV_BIN / "meterbill"), "accounts", "create", "--name", "Revocation"],
            env=env,
            check=True,
            capture_output=True,
            timeout=60,
        )
        admin = json.loads(out.stdout.decode().strip().splitlines()[-1])["secret_key"]
        windows = sorted(trial(base, admin) * 1000 for _ in range(args.trials))
        print(
            json.dumps(
                {
                    "trials": len(windows),
                    "windows_ms": [round(w, 1) for w in windows],
                    "p50_ms": round(windows[len(windows) // 2], 1),
                    "p100_ms": round(windows[-1], 1),
                }
            )
        )
    finally:
        serve.terminate()
        serve.wait(timeout=30)
        redis.close()
        svc.drop_pg_database(args.pg, name)


if __name__ == "__main__":
    main()
