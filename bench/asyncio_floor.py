"""What asyncio itself costs per network round trip, with no redlead in it.

One redis node, one connection, PING: on a blocking socket, through
asyncio's `loop.sock_sendall` / `loop.sock_recv` (the event loop owns the
socket), and through asyncio streams. Next to it, an awaited future that a
Python thread completes through a socket pair the loop watches (the shape of
a completion handed over from another thread; this one also pays for the
GIL, which redlead's I/O thread never takes).

    python3 bench/asyncio_floor.py PORT [N]

prints one line per round. Not a test: it prints figures for
docs/performance.md ("asyncio").
"""

import asyncio
import queue
import socket
import sys
import threading
import time


def p50(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def connect(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def timed(n, once):
    xs = []
    for _ in range(n):
        t = time.perf_counter_ns()
        once()
        xs.append((time.perf_counter_ns() - t) / 1000)
    return p50(xs)


async def atimed(n, once):
    xs = []
    for _ in range(n):
        t = time.perf_counter_ns()
        await once()
        xs.append((time.perf_counter_ns() - t) / 1000)
    return p50(xs)


def blocking(port, n):
    s = connect(port)

    def once():
        s.sendall(b"PING\r\n")
        s.recv(64)

    try:
        return timed(n, once)
    finally:
        s.close()


async def loop_owns_socket(port, n):
    loop = asyncio.get_running_loop()
    s = connect(port)
    s.setblocking(False)

    async def once():
        await loop.sock_sendall(s, b"PING\r\n")
        await loop.sock_recv(s, 64)

    try:
        return await atimed(n, once)
    finally:
        s.close()


async def streams(port, n):
    r, w = await asyncio.open_connection("127.0.0.1", port)

    async def once():
        w.write(b"PING\r\n")
        await r.readuntil(b"\r\n")

    try:
        return await atimed(n, once)
    finally:
        w.close()


async def completed_by_a_thread(n):
    loop = asyncio.get_running_loop()
    watched, wake = socket.socketpair()
    watched.setblocking(False)
    jobs, done = queue.SimpleQueue(), []

    def drain():
        watched.recv(256)
        while done:
            f = done.pop()
            if not f.done():
                f.set_result(None)

    def worker():
        while (f := jobs.get()) is not None:
            done.append(f)
            wake.send(b"x")

    loop.add_reader(watched.fileno(), drain)
    t = threading.Thread(target=worker)
    t.start()

    async def once():
        f = loop.create_future()
        jobs.put(f)
        await f

    try:
        return await atimed(n, once)
    finally:
        jobs.put(None)
        t.join()
        loop.remove_reader(watched.fileno())
        watched.close()
        wake.close()


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: asyncio_floor.py PORT [N]")
    port = int(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    for _ in range(3):
        print(
            f"p50 us: PING blocking {blocking(port, n):.1f}"
            f", PING asyncio sock_recv {asyncio.run(loop_owns_socket(port, n)):.1f}"
            f", PING asyncio streams {asyncio.run(streams(port, n)):.1f}"
            f", future completed by a thread {asyncio.run(completed_by_a_thread(n)):.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
