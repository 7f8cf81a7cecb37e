"""The network and the data node of bench/multinode.py: one network namespace per node
(`ip netns`), each joined by a veth pair to a bridge in the root namespace that carries the
harness's own private subnet, and in the data namespace a PostgreSQL cluster of our own
(initdb into a temp dir) and a redis-server of our own. Nothing here touches the machine's
PostgreSQL or Redis, and the namespaces have no route beyond the subnet.

Every name starts with PREFIX and the run's id, so `--cleanup` (and a crashed run's next
start) finds what a run left: namespaces, links, temp dirs."""

from __future__ import annotations

import glob
import ipaddress
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "mbmn"
PG_PORT, REDIS_PORT, API_PORT = 5432, 6379, 8000


def sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=120)


def in_ns(ns: str, *cmd: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *cmd]


@dataclass
class Net:
    """The run's namespaces: name -> address. The root namespace holds the bridge and
    the subnet's first address (the load and the checks run there)."""

    run_id: str
    subnet: ipaddress.IPv4Network
    # role -> the last byte of its address in the subnet (the bridge has .1)
    roles: tuple[tuple[str, int], ...] = (
        ("data", 10), ("api1", 11), ("api2", 12), ("wrk1", 21), ("wrk2", 22)
    )  # fmt: skip
    addresses: dict[str, str] = field(default_factory=dict)

    @property
    def bridge(self) -> str:
        return f"{PREFIX}{self.run_id}br"

    def ns(self, role: str) -> str:
        return f"{PREFIX}-{self.run_id}-{role}"

    def host_end(self, role: str) -> str:
        return f"{PREFIX}{self.run_id}{role[0]}{role[-1]}"  # <= 15 characters

    def create(self) -> None:
        gateway = self.subnet.network_address + 1
        routes = [line.split()[0] for line in sh("ip", "-4", "route").stdout.splitlines()]
        nets = [ipaddress.ip_network(r, strict=False) for r in routes if r[0].isdigit()]
        if any(n.overlaps(self.subnet) for n in nets):
            raise SystemExit(
                f"{self.subnet} is already routed on this machine (another run? "
                "`--cleanup`, or choose another with --subnet)"
            )
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        sh("ip", "addr", "add", f"{gateway}/{self.subnet.prefixlen}", "dev", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")
        for role, last in self.roles:
            ns, end = self.ns(role), self.host_end(role)
            addr = str(self.subnet.network_address + last)
            sh("ip", "netns", "add", ns)
            sh("ip", "link", "add", end, "type", "veth", "peer", "name", "eth0", "netns", ns)
            sh("ip", "link", "set", end, "master", self.bridge)
            sh("ip", "link", "set", end, "up")
            sh(*in_ns(ns, "ip", "addr", "add", f"{addr}/{self.subnet.prefixlen}", "dev", "eth0"))
            sh(*in_ns(ns, "ip", "link", "set", "eth0", "up"))
            sh(*in_ns(ns, "ip", "link", "set", "lo", "up"))
            self.addresses[role] = addr

    def destroy(self) -> None:
        remove_run(self.run_id)


def _kill_ns_processes(ns: str) -> None:
    """SIGKILL what still runs in one of our namespaces (processes we started there)."""
    out = sh("ip", "netns", "pids", ns, check=False).stdout.split()
    for pid in out:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


def ns_cpu_seconds(ns: str) -> float:
    """User + system CPU of the processes now in a namespace (a node's process, or the data
    node's PostgreSQL backends and redis-server): read before and after a step."""
    total = 0
    for pid in sh("ip", "netns", "pids", ns, check=False).stdout.split():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


def remove_run(run_id: str | None = None) -> list[str]:
    """Delete a run's namespaces (their processes first), links and temp dirs; every run's
    when run_id is None. Returns what was removed."""
    stem = f"{PREFIX}-{run_id}-" if run_id else f"{PREFIX}-"
    removed = []
    for line in sh("ip", "netns", "list", check=False).stdout.splitlines():
        ns = line.split()[0] if line.split() else ""
        if ns.startswith(stem):
            _kill_ns_processes(ns)
            time.sleep(0.2)
            sh("ip", "netns", "del", ns, check=False)
            removed.append(ns)
    link_stem = f"{PREFIX}{run_id}" if run_id else PREFIX
    for line in sh("ip", "-o", "link", "show", check=False).stdout.splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        if name.startswith(link_stem):
            sh("ip", "link", "del", name, check=False)
            removed.append(name)
    for d in glob.glob(os.path.join(tempfile.gettempdir(), stem + "*")):
        shutil.rmtree(d, ignore_errors=True)
        removed.append(d)
    return removed


class DataNode:
    """PostgreSQL (our own cluster, listening on the data namespace's address, trust for
    the subnet only) and redis-server, both inside the data namespace."""

    def __init__(self, net: Net, fsync: bool) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            raise SystemExit("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin)")
        self.bin = Path(bins[-1]).parent
        self.net, self.fsync = net, fsync
        self.ns, self.addr = net.ns("data"), net.addresses["data"]
        self.base = Path(tempfile.mkdtemp(prefix=f"{PREFIX}-{net.run_id}-data-"))
        self.pgdata, self.sock = self.base / "pgdata", self.base / "pgsock"
        self.redis: subprocess.Popen[bytes] | None = None
        # Redis answers other hosts only with a password (protected mode): as over a network.
        self.redis_password = secrets.token_hex(16)

    @property
    def database_url(self) -> str:
        return f"postgres://postgres@{self.addr}:{PG_PORT}/meterbill"

    @property
    def redis_url(self) -> str:
        return f"redis://:{self.redis_password}@{self.addr}:{REDIS_PORT}/0"

    def _pg(self, tool: str, *args: str) -> None:
        cmd = ["runuser", "-u", "postgres", "--", str(self.bin / tool), *args]
        sh(*in_ns(self.ns, *cmd))

    def start(self) -> None:
        for d in (self.base, self.pgdata, self.sock):
            d.mkdir(exist_ok=True)
            shutil.chown(d, "postgres", "postgres")
        self._pg("initdb", "-D", str(self.pgdata), "-U", "postgres", "--auth=trust",
                 "--no-sync", "-E", "UTF8")  # fmt: skip
        # Trust for the harness's subnet only (and the socket); nothing else reaches it.
        (self.pgdata / "pg_hba.conf").write_text(
            f"local all all trust\nhost all all {self.net.subnet} trust\n"
        )
        opts = (
            f"-p {PG_PORT} -k {self.sock} -c listen_addresses={self.addr} "
            f"-c max_connections=200 -c fsync={'on' if self.fsync else 'off'}"
        )
        log = str(self.base / "postgres.log")
        self._pg("pg_ctl", "-D", str(self.pgdata), "-o", opts, "-l", log, "-w", "start")
        self._pg("createdb", "-h", str(self.sock), "-p", str(PG_PORT), "meterbill")
        exe = shutil.which("redis-server") or "redis-server"
        args = [exe, "--bind", self.addr, "--port", str(REDIS_PORT), "--save", "",
                "--appendonly", "no", "--dir", str(self.base),
                "--requirepass", self.redis_password]  # fmt: skip
        out = (self.base / "redis.log").open("ab")
        self.redis = subprocess.Popen(in_ns(self.ns, *args), stdout=out, stderr=out)

    def redis_answers(self) -> bool:
        with socket.create_connection((self.addr, REDIS_PORT), timeout=1) as s:
            s.sendall(f"AUTH {self.redis_password}\r\nPING\r\n".encode())
            return b"+PONG" in s.recv(64)

    def stop(self) -> None:
        if self.redis is not None and self.redis.poll() is None:
            self.redis.kill()
            self.redis.wait(10)
        if (self.pgdata / "postmaster.pid").exists():
            try:
                self._pg("pg_ctl", "-D", str(self.pgdata), "-m", "immediate", "-w", "stop")
            except subprocess.SubprocessError:
                pass


class Node:
    """One `meterbill serve` or `meterbill worker` process in its own namespace. `ip netns
    exec` execs the command, so the Popen's pid is meterbill's own: SIGKILL hits it."""

    def __init__(self, net: Net, role: str, cmd: list[str], env: dict[str, str], logs: Path):
        self.role, self.cmd, self.env = role, cmd, env
        self.ns, self.addr = net.ns(role), net.addresses[role]
        self.log = logs / f"{role}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(in_ns(self.ns, *self.cmd), env=self.env, stdout=out,
                                     stderr=out)  # fmt: skip

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, in-flight requests and jobs are cut."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
