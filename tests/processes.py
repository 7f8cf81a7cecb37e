"""Real processes for fault tests: our OWN PostgreSQL (initdb in a temp dir) and redis-server
on free ports, and `meterbill serve` as a subprocess. Never the machine's shared services."""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import services as svc

VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Any, what: str, timeout: float = 30.0, every: float = 0.1) -> Any:
    """Poll `check` until it returns a truthy value; a deadline, not a speed assertion."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except Exception as exc:  # noqa: BLE001
            last = exc
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


def _missing(what: str) -> None:
    msg = f"{what} not installed"
    if svc.REQUIRE:
        pytest.fail(msg + " (MB_REQUIRE_SERVICES=1)")
    pytest.skip(msg)


class OwnPostgres:
    def __init__(self) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            _missing("PostgreSQL server binaries (/usr/lib/postgresql/*/bin)")
        self.bin = Path(bins[-1]).parent
        # Its own temp dir (pytest's tmp_path is not reachable by the postgres user).
        base = Path(tempfile.mkdtemp(prefix="meterbill-pg-"))
        self.base = base
        self.dir = base / "pgdata"
        self.sock = base / "pgsock"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0  # initdb refuses to run as root
        for d in (self.dir, self.sock):
            d.mkdir(parents=True)
            if self.as_postgres:
                shutil.chown(d, "postgres", "postgres")
        if self.as_postgres:
            shutil.chown(base, "postgres", "postgres")
        self._run(
            "initdb",
            "-D",
            str(self.dir),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        )

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bin / tool), *args]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self.dir), "-o", opts, "-l", str(self.dir / "log"), "-w", "start"
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.dir), "-m", "fast", "-w", "stop")

    def close(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.base, ignore_errors=True)


class OwnRedis:
    def __init__(self, base: Path):
        self.exe = shutil.which("redis-server")
        if not self.exe:
            _missing("redis-server")
        self.port = free_port()
        self.base = base
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [self.exe or "", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", str(self.base)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def answers() -> bool:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")

        wait_for(answers, "redis-server to answer")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None


def terminate(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM (a graceful stop), then SIGKILL if it is not gone within 15 s."""
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


class Meterbill:
    """`meterbill serve` as its own process."""

    def __init__(self, base: Path, env: dict[str, str], args: tuple[str, ...] = ()):
        self.port = free_port()
        self.args = args
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MB_")}
        self.env.update(env)
        self.log = base / "serve.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=15)

    def start(self) -> None:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "meterbill"), "serve", "--port", str(self.port), *self.args],
            env=self.env,
            stdout=out,
            stderr=out,
        )
        wait_for(lambda: self.http.get("/healthz").status_code == 200, "meterbill to start", 60)

    def create_account(self) -> str:
        out = subprocess.run(
            [str(VENV_BIN / "meterbill"), "accounts", "create", "--name", "Faults"],
            env=self.env,
            check=True,
            capture_output=True,
            timeout=60,
        )
        return str(json.loads(out.stdout.decode().strip().splitlines()[-1])["secret_key"])

    def gql(
        self, secret: str, query: str, variables: dict[str, Any] | None = None
    ) -> httpx.Response:
        return self.http.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {secret}"},
        )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.http.close()
        terminate(self.proc)


class Worker:
    """`meterbill worker` as its own process."""

    def __init__(self, base: Path, env: dict[str, str], name: str = "worker"):
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MB_")}
        self.env.update(env)
        self.log = base / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "meterbill"), "worker"], env=self.env, stdout=out, stderr=out
        )

    def close(self) -> None:
        terminate(self.proc)
