"""Benchmark chapter 04's solution server against uvicorn (h11 and httptools) on the same FastAPI app.

    python tests/benchmarks/bench_ch04_server.py                  # wrk, 32 connections, 5 s, 2 rounds
    python tests/benchmarks/bench_ch04_server.py --connections 64 --duration 10 --rounds 3
    python tests/benchmarks/bench_ch04_server.py --python-client  # without wrk: a Python load generator

The solution server's code comes from ``solutions/04-asgi-server/asgi-server.ipynb`` itself (see
``server_source``): the cells that only define things, up to the answer cell of ``start_server``,
answer cells included. Each server runs in a process of its own and serves the same app, a FastAPI
"hello" endpoint (``GET /`` -> ``{"message": "hello"}``):

* the solution server (``start_server(app, host, port)`` from the notebook);
* ``uvicorn --http h11`` (pure Python parser);
* ``uvicorn --http httptools`` (C parser), if httptools is installed (``pip install httptools==0.9.0``).

The load generator is ``wrk`` (Debian: ``apt-get install wrk``), one thread, keep-alive connections;
each server gets a 1 s warm-up, then ``--rounds`` runs, the servers taking turns so that a busy
machine slows all of them alike. It prints requests per second and latency percentiles (best round
and median) and the solution's ratios to uvicorn. Without wrk it says so and exits with status 2,
unless ``--python-client`` asks for the fallback: an asyncio client in its own process, whose
ceiling (against a server that answers canned bytes without parsing) is measured and printed, since
a server cannot look faster than its client.

Not a test (pytest does not collect it): it prints a table and asserts nothing.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib.util
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "solutions" / "04-asgi-server" / "asgi-server.ipynb"
LAST_CELL = "start_server"  # the grade id of the answer cell the server code ends with

APP_MODULE = '''
from fastapi import FastAPI

app = FastAPI()


@app.get("/")
async def hello():
    return {"message": "hello"}
'''

SOLUTION_RUNNER = '''
import asyncio, sys
sys.path.insert(0, {folder!r})
from ch04_server import start_server
from bench_app import app


async def main():
    await start_server(app, "127.0.0.1", {port})
    await asyncio.Event().wait()

asyncio.run(main())
'''

CANNED_RUNNER = '''
import asyncio

HELLO = b'HTTP/1.1 200 OK\\r\\ncontent-length: 19\\r\\ncontent-type: application/json\\r\\n\\r\\n{{"message":"hello"}}'


class Canned(asyncio.Protocol):
    """Answers every request head with the same bytes, parsing nothing: the client's ceiling."""

    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""

    def data_received(self, data):
        self.buffer += data
        while b"\\r\\n\\r\\n" in self.buffer:
            _, _, self.buffer = self.buffer.partition(b"\\r\\n\\r\\n")
            self.transport.write(HELLO)


async def main():
    server = await asyncio.get_running_loop().create_server(Canned, "127.0.0.1", {port})
    await server.serve_forever()

asyncio.run(main())
'''

PYTHON_CLIENT = '''
import asyncio, json, sys, time

PORT, CONNECTIONS, SECONDS = {port}, {connections}, {seconds}


async def main():
    latencies = []
    loop = asyncio.get_running_loop()
    stop_at = loop.time() + SECONDS

    async def client():
        reader, writer = await asyncio.open_connection("127.0.0.1", PORT)
        while loop.time() < stop_at:
            started = time.perf_counter()
            writer.write(b"GET / HTTP/1.1\\r\\nHost: bench\\r\\n\\r\\n")
            head = await reader.readuntil(b"\\r\\n\\r\\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\\r\\n")[0])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
        writer.close()

    await asyncio.gather(*(client() for _ in range(CONNECTIONS)))
    print(json.dumps(latencies))

asyncio.run(main())
'''


def server_source(notebook: Path = NOTEBOOK) -> str:
    """The solution server's code: every import, and every cell made only of imports and definitions,
    up to the answer cell of start_server (answer cells included; test cells and demos left out)."""
    nb = nbformat.read(notebook, as_version=4)
    parts = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:  # top-level await in a demo cell
            continue
        kinds = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
        if all(isinstance(node, kinds) for node in tree.body):
            parts.append(cell.source)
        else:
            parts.extend(ast.get_source_segment(cell.source, node) for node in tree.body
                         if isinstance(node, (ast.Import, ast.ImportFrom)))
        if meta.get("grade_id") == LAST_CELL:
            return "\n\n".join(parts) + "\n"
    raise LookupError(f"no answer cell {LAST_CELL!r} in {notebook}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(port: int, process: subprocess.Popen, log, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"the server process exited with {process.returncode}:\n{log.read()[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listened on port {port} within {timeout} s")


@contextlib.contextmanager
def running(command: list[str], port: int, env: dict[str, str], cpu: int | None):
    """Start a server process, wait until it listens, stop it at the end."""
    log = tempfile.TemporaryFile("w+")  # a pipe nobody reads could fill up and stall the server
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log, text=True,
                               preexec_fn=(lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None)
    try:
        wait_listening(port, process, log)
        yield process
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"the server stopped during the run (exit {process.returncode}):\n{log.read()[-2000:]}")
    finally:
        log.close()
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def run_wrk(port: int, connections: int, seconds: float, cpu: int | None) -> dict[str, float]:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", f"http://127.0.0.1:{port}/"]
    if cpu is not None:
        command = ["taskset", "-c", str(cpu)] + command
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30)
    out = done.stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if rate is None:
        raise RuntimeError(f"wrk printed no result (exit {done.returncode}):\n{out}\n{done.stderr}")
    result = {"req/s": float(rate.group(1))}
    for percent, value, unit in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M):
        result[f"p{percent}"] = float(value) * UNITS[unit]
    errors = re.search(r"Socket errors: (.*)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["errors"] = (errors.group(1) if errors else "") + (f" non-2xx {non_2xx.group(1)}" if non_2xx else "")
    return result


def run_python_client(port: int, connections: int, seconds: float, env: dict[str, str], cpu: int | None):
    source = PYTHON_CLIENT.format(port=port, connections=connections, seconds=seconds)
    done = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True, env=env,
                          timeout=seconds + 30, preexec_fn=(lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None)
    import json

    latencies = sorted(json.loads(done.stdout))
    q = statistics.quantiles(latencies, n=100)
    return {"req/s": len(latencies) / seconds, "p50": q[49] * 1000, "p75": q[74] * 1000, "p90": q[89] * 1000,
            "p99": q[98] * 1000, "errors": ""}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measured run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--python-client", action="store_true", help="use a Python load generator instead of wrk")
    parser.add_argument("--pin", action="store_true", help="run the servers on CPU 1 and the load generator on CPU 0")
    args = parser.parse_args()

    use_wrk = not args.python_client
    if use_wrk and not shutil.which("wrk"):
        print("wrk is not installed, and a benchmark whose load generator is the bottleneck measures the load\n"
              "generator. Install it (Debian/Ubuntu: apt-get install wrk; macOS: brew install wrk), or run again\n"
              "with --python-client to use a Python client whose own ceiling is measured and printed.")
        return 2
    server_cpu, client_cpu = (1, 0) if args.pin else (None, None)

    folder = Path(tempfile.mkdtemp(prefix="bench-ch04-"))
    (folder / "ch04_server.py").write_text(server_source())
    (folder / "bench_app.py").write_text(textwrap.dedent(APP_MODULE))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))

    def solution(port):
        return [sys.executable, "-c", SOLUTION_RUNNER.format(folder=str(folder), port=port)]

    def uvicorn(parser_name):
        return lambda port: [sys.executable, "-m", "uvicorn", "bench_app:app", "--port", str(port), "--http", parser_name,
                             "--log-level", "warning", "--no-access-log"]

    servers = {"solution (ch04)": solution, "uvicorn --http h11": uvicorn("h11")}
    if importlib.util.find_spec("httptools"):
        servers["uvicorn --http httptools"] = uvicorn("httptools")
    else:
        print("uvicorn --http httptools: skipped, httptools is not installed (pip install httptools==0.9.0)")
    if not use_wrk:
        servers = {"ceiling (canned bytes, no parsing)": lambda port: [sys.executable, "-c", CANNED_RUNNER.format(port=port)],
                   **servers}

    def measure(port, seconds):
        if use_wrk:
            return run_wrk(port, args.connections, seconds, client_cpu)
        return run_python_client(port, args.connections, seconds, env, client_cpu)

    generator = (f"wrk -t1 -c{args.connections} -d{args.duration:g}s" if use_wrk
                 else f"a Python asyncio client, {args.connections} connections, {args.duration:g} s")
    print(f"{generator}, {args.rounds} round(s), GET / of a FastAPI hello app, on {os.cpu_count()} CPU(s)"
          + (", servers pinned to CPU 1 and the load generator to CPU 0" if args.pin else ""))
    print(f"python {sys.version.split()[0]}, load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    results: dict[str, list[dict[str, float]]] = {name: [] for name in servers}
    for round_number in range(args.rounds):
        for name, command in servers.items():
            port = free_port()
            with running(command(port), port, env, server_cpu):
                measure(port, 1)  # warm-up
                results[name].append(measure(port, args.duration))
            row = results[name][-1]
            print(f"  round {round_number + 1}: {name:<36} {row['req/s']:9.0f} req/s  p50 {row.get('p50', 0):6.2f} ms"
                  + (f"  ({row['errors'].strip()})" if row["errors"].strip() else ""))

    print(f"\n{'server':<36} {'best req/s':>10} {'median':>9}   latency in the best round (ms):  p50    p75    p90    p99")
    best = {}
    for name, rows in results.items():
        top = max(rows, key=lambda r: r["req/s"])
        best[name] = top["req/s"]
        print(f"{name:<36} {top['req/s']:10.0f} {statistics.median(r['req/s'] for r in rows):9.0f}   "
              f"{'':30}{top.get('p50', 0):6.2f} {top.get('p75', 0):6.2f} {top.get('p90', 0):6.2f} {top.get('p99', 0):6.2f}")
    print()
    for other in [n for n in best if n.startswith("uvicorn")]:
        print(f"solution / {other}: {best['solution (ch04)'] / best[other]:.2f}x requests per second")
    if not use_wrk:
        ceiling = best["ceiling (canned bytes, no parsing)"]
        print(f"the Python client's own ceiling is {ceiling:.0f} req/s: servers near it are measured as client-bound")
    shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
