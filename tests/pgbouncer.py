"""A PgBouncer of the test's own (Debian's package), in transaction pooling mode, in front of
the PostgreSQL server the tests use: every database name on it is passed through."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests import services as svc
from tests.processes import free_port, wait_for

BINARY = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"

INI = """\
[databases]
* = host={host} port={port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen}
unix_socket_dir =
auth_type = trust
auth_file = {dir}/users.txt
pool_mode = transaction
max_client_conn = 400
default_pool_size = 20
server_reset_query =
logfile = {dir}/pgbouncer.log
pidfile = {dir}/pgbouncer.pid
"""


def _require_binary() -> None:
    if not Path(BINARY).is_file():
        if svc.REQUIRE:
            pytest.fail(
                "pgbouncer not installed (apt-get install pgbouncer; MB_REQUIRE_SERVICES=1)"
            )
        pytest.skip("pgbouncer not installed (apt-get install pgbouncer)")


@contextmanager
def pgbouncer(server_url: str) -> Iterator[str]:
    """PgBouncer on a free port; yields `server_url` with its host and port."""
    _require_binary()
    parts = urlsplit(server_url)
    user = parts.username or "postgres"
    listen = free_port()
    # Not under pytest's tmp_path: run as PostgreSQL's user (below), PgBouncer must read it.
    base = Path(tempfile.mkdtemp(prefix="mb-pgbouncer-"))
    base.chmod(0o755)
    (base / "users.txt").write_text(f'"{user}" ""\n')
    ini = base / "pgbouncer.ini"
    ini.write_text(
        INI.format(host=parts.hostname, port=parts.port or 5432, listen=listen, dir=base)
    )
    cmd = [BINARY, str(ini)]
    if os.geteuid() == 0:
        # PgBouncer refuses to run as root: it drops to PostgreSQL's own user.
        shutil.chown(base, "postgres")
        for f in base.iterdir():
            shutil.chown(f, "postgres")
        cmd = [BINARY, "-u", "postgres", str(ini)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: _answers(listen), "pgbouncer to listen", 30)
        netloc = f"{user}@127.0.0.1:{listen}"
        yield urlunsplit(parts._replace(netloc=netloc))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(base, ignore_errors=True)


def _answers(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0
