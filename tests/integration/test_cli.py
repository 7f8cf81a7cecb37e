"""The `meterbill` command as an operator runs it."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path


def _meterbill(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MB_")} | env
    return subprocess.run(
        [sys.executable, "-m", "meterbill.cli", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_accounts_create_prints_one_json_line_and_stores_only_a_hash(tmp_path: Path) -> None:
    data = tmp_path / "data"
    out = _meterbill(
        "accounts", "create", "--name", "Alpaca AI", cwd=tmp_path, MB_DATA_DIR=str(data)
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1
    body = json.loads(lines[0])
    assert set(body) == {"account_id", "secret_key"}
    assert body["account_id"].startswith("acct_")
    secret = body["secret_key"]
    assert secret.startswith("mb_sk_") and len(secret) >= 40
    # The default database is MB_DATA_DIR/meterbill.db; the secret itself is nowhere in it.
    db = data / "meterbill.db"
    assert not (tmp_path / "meterbill.db").exists()
    assert secret.encode() not in db.read_bytes()
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT secret_hash, scopes, account_id FROM api_keys").fetchall()
    assert rows == [(hashlib.sha256(secret.encode()).hexdigest(), "ADMIN", body["account_id"])]


def _accounts(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return sorted(r[0] for r in conn.execute("SELECT name FROM accounts"))


def test_the_default_database_is_the_same_from_any_folder(tmp_path: Path) -> None:
    # No MB_DATA_DIR: the platform's user data dir (XDG_DATA_HOME on Linux), not the cwd.
    xdg = tmp_path / "xdg"
    for name in ("one", "two"):
        folder = tmp_path / f"cwd-{name}"
        folder.mkdir()
        out = _meterbill("accounts", "create", "--name", name, cwd=folder, XDG_DATA_HOME=str(xdg))
        assert out.returncode == 0, out.stderr
        assert list(folder.iterdir()) == []
    assert _accounts(xdg / "meterbill" / "meterbill.db") == ["one", "two"]


def test_serve_with_several_workers_needs_redis(tmp_path: Path) -> None:
    out = _meterbill("serve", "--workers", "2", cwd=tmp_path, MB_DATA_DIR=str(tmp_path))
    assert out.returncode == 2
    assert "MB_REDIS_URL" in out.stderr and "--workers 2" in out.stderr
    assert not (tmp_path / "meterbill.db").exists()  # refused before touching anything


def test_settings_from_files(tmp_path: Path) -> None:
    secret = tmp_path / "database_url"
    secret.write_text(f"sqlite://{tmp_path}/from-file.db\n")
    out = _meterbill("migrate", cwd=tmp_path, MB_DATABASE_URL_FILE=str(secret))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "from-file.db").exists()
    both = _meterbill(
        "migrate", cwd=tmp_path, MB_DATABASE_URL_FILE=str(secret), MB_DATABASE_URL="sqlite://x"
    )
    assert both.returncode == 2
    assert "MB_DATABASE_URL or MB_DATABASE_URL_FILE, not both" in both.stderr
    gone = _meterbill("migrate", cwd=tmp_path, MB_REDIS_URL_FILE=str(tmp_path / "nope"))
    assert gone.returncode == 2 and "MB_REDIS_URL_FILE: cannot read" in gone.stderr


def test_accounts_create_rejects_an_empty_name(tmp_path: Path) -> None:
    out = _meterbill("accounts", "create", "--name", "  ", cwd=tmp_path, MB_DATA_DIR=str(tmp_path))
    assert out.returncode == 2
    assert "name" in out.stderr


def test_migrate_then_export_schema(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/x.db"
    out = _meterbill("migrate", cwd=tmp_path, MB_DATABASE_URL=url)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "x.db").exists()
    sdl = _meterbill("export-schema", cwd=tmp_path)
    assert sdl.returncode == 0 and "type Query" in sdl.stdout


def test_stripe_without_a_key_refuses_to_start_naming_the_variable(tmp_path: Path) -> None:
    for command in (["serve", "--port", "1"], ["worker"], ["migrate"]):
        out = _meterbill(
            *command,
            cwd=tmp_path,
            MB_PAYMENT_PROVIDER="stripe",
            MB_REDIS_URL="redis://127.0.0.1:1/0",
        )
        assert out.returncode == 2, (command, out.stderr)
        assert "MB_STRIPE_API_KEY is required when MB_PAYMENT_PROVIDER=stripe" in out.stderr
    assert not (tmp_path / "meterbill.db").exists()  # nothing started
    out = _meterbill("migrate", cwd=tmp_path, MB_PAYMENT_PROVIDER="paypal")
    assert out.returncode == 2 and "MB_PAYMENT_PROVIDER" in out.stderr
