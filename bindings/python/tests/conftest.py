"""Real redis-server nodes for the tests: 5 processes on free loopback ports
(found by binding port 0), each in its own temp dir, stopped by pid."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from typing import Iterator, List

import pytest

REDIS_SERVER = os.environ.get("REDIS_SERVER", shutil.which("redis-server") or "/usr/bin/redis-server")


def wait_until(pred, timeout: float = 5.0) -> bool:
    """Polls ``pred`` every 10 ms until it is true (True) or ``timeout`` s pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.01)
    return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def command(port: int, *args: str, timeout: float = 2.0):
    """One RESP command over a plain socket; returns the decoded reply."""
    parts = [f"*{len(args)}\r\n".encode()]
    for a in args:
        b = a.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"".join(parts))
        f = s.makefile("rb")
        line = f.readline().rstrip(b"\r\n")
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            return f.read(n + 2)[:-2].decode()
        raise AssertionError(f"unexpected reply {line!r}")


class RedisNode:
    def __init__(self, tls_dir: str | None = None) -> None:
        self.dir = tempfile.mkdtemp(prefix="redlead-py-node-")
        self.tls_dir = tls_dir
        self.tls_port = free_port() if tls_dir else 0
        self.port = 0
        self.proc: subprocess.Popen | None = None
        for _ in range(20):
            self.port = free_port()
            if self._spawn():
                return
        raise RuntimeError("could not start redis-server on a free port")

    def _spawn(self) -> bool:
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", self.dir, "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--loglevel", "warning", "--logfile", "redis.log"]
            + self._tls_args(),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if command(self.port, "PING", timeout=0.2) == "PONG":
                    return True
            except OSError:
                time.sleep(0.02)
        self.stop()
        return False

    def _tls_args(self) -> List[str]:
        if not self.tls_dir:
            return []
        d = self.tls_dir
        return ["--tls-port", str(self.tls_port), "--tls-cert-file", f"{d}/server.pem",
                "--tls-key-file", f"{d}/server.key", "--tls-ca-cert-file", f"{d}/ca.pem",
                "--tls-auth-clients", "no"]

    @property
    def tls_url(self) -> str:
        return f"rediss://127.0.0.1:{self.tls_port}"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def cmd(self, *args: str):
        return command(self.port, *args)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        assert self._spawn(), "restart on the same port failed"


@pytest.fixture(scope="session")
def nodes() -> Iterator[List[RedisNode]]:
    ns = [RedisNode() for _ in range(5)]
    yield ns
    for n in ns:
        n.stop()
        shutil.rmtree(n.dir, ignore_errors=True)


@pytest.fixture
def urls(nodes: List[RedisNode]) -> List[str]:
    for n in nodes:
        if n.proc is None:
            n.restart()
    return [n.url for n in nodes]


@pytest.fixture
def client(urls):
    import redlead

    return redlead.Client(urls, retry_delay_ms=20, retry_jitter_ms=10, retry_count=None)


@pytest.fixture
def res() -> str:
    """A resource name no other test uses."""
    return "res-" + uuid.uuid4().hex[:12]


def make_test_ca(d: str) -> None:
    """A CA and a server certificate for 127.0.0.1 signed by it (openssl CLI)."""
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=redlead test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=127.0.0.1")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")


@pytest.fixture(scope="module")
def tls_nodes() -> Iterator[tuple]:
    d = tempfile.mkdtemp(prefix="redlead-py-tls-")
    make_test_ca(d)
    ns = [RedisNode(tls_dir=d) for _ in range(3)]
    with open(os.path.join(d, "ca.pem")) as f:
        ca = f.read()
    yield ns, ca
    for n in ns:
        n.stop()
        shutil.rmtree(n.dir, ignore_errors=True)
    shutil.rmtree(d, ignore_errors=True)
