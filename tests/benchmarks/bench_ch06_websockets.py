"""Benchmark chapter 06's server: idle WebSocket connections held, memory per connection, broadcast latency.

    python tests/benchmarks/bench_ch06_websockets.py                  # from the repository's root folder
    python tests/benchmarks/bench_ch06_websockets.py --connections 5000 --listeners 100 --messages 50

The server is what a learner runs: the kit's ``serve(app)`` (uvicorn on a thread, default settings)
inside a real Jupyter kernel, serving the chapter's own chat app and ``ChatRoom`` as
``solutions/06-websockets-streaming`` defines them (their definitions are read from the notebook),
plus an ``/idle`` endpoint that accepts and waits. The clients are ``websockets`` asyncio clients
in this process, so the kernel's memory is the server's alone.

* **Idle connections**: open ``--connections`` WebSockets to ``/idle`` (100 handshakes at a time),
  once with the client's default per-message-deflate and once without compression. Memory per
  connection is the kernel process's resident set size (RSS, from ``psutil``) with every connection
  open, minus its RSS before (after a warm-up of 50 connections opened and closed), divided by the
  number of connections. Also the kernel's thread count and open file descriptors.
* **Broadcast latency**: ``--listeners`` clients and a talker join the chat; the talker says
  ``--messages`` things, each after every listener got the previous one; latency is from the
  talker's ``send`` to each listener's ``recv``. The first message is a warm-up and not counted.
  All clients share this process's event loop, so the numbers include their scheduling.

Each open connection costs a file descriptor at each end: both processes raise their soft
``RLIMIT_NOFILE`` to the hard limit. Not a test: it prints numbers and asserts nothing.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import nbformat
import psutil
from websockets.asyncio.client import connect

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from autograder.limits import raise_open_files_limit  # noqa: E402
from tests.kernel import Kernel  # noqa: E402

NOTEBOOK = REPO / "solutions" / "06-websockets-streaming" / "websockets-streaming.ipynb"

RAISE_LIMIT = '''
from autograder.limits import raise_open_files_limit
raise_open_files_limit(10**9)  # as far as the hard limit allows
'''

START_SERVER = '''
import contextlib, json, os
from fastapi import WebSocket, WebSocketDisconnect
from autograder import serve

bench_room = ChatRoom(max_queue=256)
bench_app = make_chat_app(bench_room)


async def idle_connection(websocket: WebSocket):
    await websocket.accept()
    with contextlib.suppress(WebSocketDisconnect):
        await websocket.receive_text()


bench_app.add_api_websocket_route("/idle", idle_connection)
bench_server = serve(bench_app)
print(json.dumps({"pid": os.getpid(), "url": bench_server.ws_url}))
'''


def chapter_definitions() -> str:
    """The imports, classes, undecorated functions and CHAT_PAGE of the solution notebook's code cells (no test cells)."""
    keep = []
    for cell in nbformat.read(NOTEBOOK, as_version=4).cells:
        if cell.cell_type != "code" or cell.metadata.get("nbgrader", {}).get("grade"):
            continue
        flags = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        tree = compile(cell.source, "<cell>", "exec", flags=flags)
        for node in tree.body:
            wanted = isinstance(node, (ast.Import, ast.ImportFrom, ast.ClassDef))
            # functions, except the demo endpoints registered on the notebook's own apps (@live.websocket(...))
            wanted |= isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.decorator_list
            wanted |= isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "CHAT_PAGE" for t in node.targets)
            if wanted:
                keep.append(ast.unparse(node))  # (decorators included)
    return "\n\n".join(keep)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def open_idle(url: str, count: int, compression: str | None) -> list:
    connections = []
    for start in range(0, count, 100):
        batch = [connect(url + "/idle", open_timeout=30, close_timeout=2, proxy=None, compression=compression)
                 for _ in range(min(100, count - start))]
        connections += await asyncio.gather(*batch)
    return connections


async def close_all(connections: list) -> None:
    for start in range(0, len(connections), 200):
        await asyncio.gather(*[ws.close() for ws in connections[start:start + 200]])


async def bench_idle(url: str, server: psutil.Process, count: int, compression: str | None) -> dict:
    await close_all(await open_idle(url, 50, compression))  # warm-up: code paths, allocator arenas
    await asyncio.sleep(0.5)
    before = server.memory_info().rss
    started = time.perf_counter()
    connections = await open_idle(url, count, compression)
    opened = time.perf_counter() - started
    await asyncio.sleep(1.0)
    after = server.memory_info().rss
    held = {"threads": server.num_threads(), "fds": server.num_fds()}
    alive = sum(ws.state.name == "OPEN" for ws in connections)
    await close_all(connections)
    return {"count": count, "alive": alive, "opened_s": opened, "rss_before": before, "rss_after": after,
            "per_connection": (after - before) / count, **held}


async def bench_broadcast(url: str, listeners: int, messages: int) -> list[float]:
    clients = []
    try:
        for i in range(listeners):
            clients.append(await connect(f"{url}/ws/listener{i}", open_timeout=10, proxy=None, max_queue=None))
        talker = await connect(f"{url}/ws/talker", open_timeout=10, proxy=None, max_queue=None)
        clients.append(talker)
        latencies: list[float] = []
        for n in range(messages):
            expected = f"talker: message {n}"
            sent = time.perf_counter()
            await talker.send(f"message {n}")

            async def arrival(ws) -> float:
                while await asyncio.wait_for(ws.recv(), 10) != expected:
                    pass
                return time.perf_counter() - sent

            delays = await asyncio.gather(*[arrival(ws) for ws in clients[:-1]])
            if n:  # the first message is a warm-up
                latencies += delays
        return latencies
    finally:
        await close_all(clients)


def start_server() -> tuple[Kernel, dict]:
    """A fresh kernel serving the chapter's chat app (and /idle) with the kit: (kernel, {"pid", "url"})."""
    kernel = Kernel(quiet=True)
    try:
        for code in (RAISE_LIMIT, chapter_definitions(), START_SERVER):
            cell = kernel.run(code, timeout=60)
            if not cell.ok:
                raise RuntimeError(f"setting up the server in the kernel failed: {cell}")
    except BaseException:
        kernel.shutdown()
        raise
    return kernel, json.loads(cell.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, default=1000, help="idle connections to open (default 1000)")
    parser.add_argument("--listeners", type=int, default=100, help="broadcast listeners (default 100)")
    parser.add_argument("--messages", type=int, default=50, help="broadcast messages (default 50, +1 warm-up)")
    args = parser.parse_args()
    limit = raise_open_files_limit(10**9)  # as far as the hard limit allows
    print(f"Python {sys.version.split()[0]}, {psutil.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.2f}' for x in psutil.getloadavg())}; open-files limit raised to {limit} in both processes")
    print("server: the kit's serve(app) (uvicorn on a thread) in a fresh Jupyter kernel per row; "
          "clients: websockets in this process\n")

    print(f"{'idle WebSocket connections':<28} {'held':>6} {'open in':>8} {'RSS before':>11} {'RSS after':>10} "
          f"{'per conn':>9} {'threads':>8} {'fds':>6}")
    for compression in ("deflate", None):
        kernel, info = start_server()
        try:
            r = asyncio.run(bench_idle(info["url"], psutil.Process(info["pid"]), args.connections, compression))
        finally:
            kernel.shutdown()
        label = f"compression={compression or 'none'}"
        print(f"{label:<28} {r['alive']:>6} {r['opened_s']:>7.2f}s {r['rss_before'] / 2**20:>8.1f}MiB "
              f"{r['rss_after'] / 2**20:>7.1f}MiB {r['per_connection'] / 1024:>6.1f}KiB {r['threads']:>8} {r['fds']:>6}")

    kernel, info = start_server()
    try:
        latencies = asyncio.run(bench_broadcast(info["url"], args.listeners, args.messages + 1))
        cell = kernel.run("import time; time.sleep(0.5); print(len(bench_room.members)); bench_server.stop()", timeout=10)
    finally:
        kernel.shutdown()
    ms = [x * 1000 for x in latencies]
    print(f"\nbroadcast through ChatRoom to {args.listeners} listeners, {args.messages} messages "
          f"({len(ms)} deliveries), milliseconds from the talker's send to each listener's recv:")
    print(f"  p50 {statistics.median(ms):.2f}   p90 {percentile(ms, 90):.2f}   p99 {percentile(ms, 99):.2f}   "
          f"max {max(ms):.2f}")
    print(f"members left in the room after every client closed: {cell.stdout.strip()}")


if __name__ == "__main__":
    main()
