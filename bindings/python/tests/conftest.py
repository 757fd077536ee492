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
    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="redlead-py-node-")
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
             "--daemonize", "no", "--loglevel", "warning", "--logfile", "redis.log"],
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
