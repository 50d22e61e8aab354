"""Benchmark the in-kernel server kit, and how long each notebook takes headless.

    python tests/benchmarks/bench_kit.py            # from the repository's root folder
    python tests/benchmarks/bench_kit.py --runs 50

Measures, ``--runs`` times each (median, p90, max):

* ``serve()`` start latency: until ``serve()`` returns (thread mode) or until
  ``wait_started()`` returns (loop mode);
* stop latency: until ``stop()`` returns, and until the server has completely finished
  (``astop()``; the same thing in thread mode, where ``stop()`` joins the thread);

in plain Python (loop mode inside ``asyncio.run``) and inside a real Jupyter kernel
(loop mode on the kernel's own event loop). Then it executes a copy of every notebook in
``solutions/`` and ``notebooks/`` with nbclient (``notebooks/`` with ``allow_errors``, as
the answers are not written there), with the notebook's folder as working directory.
Not a test: it prints a table and asserts nothing. Runs in about a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.kernel import Kernel  # noqa: E402

# Runs both here and, sent as a cell, inside a kernel.
BENCH_SOURCE = '''
import asyncio as _asyncio, time as _time
import httpx as _httpx
from starlette.applications import Starlette as _Starlette
from starlette.responses import PlainTextResponse as _Text
from starlette.routing import Route as _Route
from autograder import serve as _serve


async def _hello(request):
    return _Text("hello")


_bench_app = _Starlette(routes=[_Route("/", _hello)])


async def bench_kit(runs):
    """{mode: {"start": [...], "stop": [...], "done": [...]}} in seconds."""
    results = {}
    async with _httpx.AsyncClient(timeout=5) as client:
        for mode in ("thread", "loop"):
            times = results[mode] = {"start": [], "stop": [], "done": []}
            for _ in range(runs):
                t0 = _time.perf_counter()
                server = _serve(_bench_app, mode=mode)
                await server.wait_started()
                t1 = _time.perf_counter()
                assert (await client.get(server.url)).status_code == 200
                t2 = _time.perf_counter()
                server.stop()
                t3 = _time.perf_counter()
                await server.astop()
                t4 = _time.perf_counter()
                times["start"].append(t1 - t0)
                times["stop"].append(t3 - t2)
                times["done"].append(t4 - t2)
    return results
'''


def summary(seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p90 = statistics.quantiles(ms, n=10, method="inclusive")[-1] if len(ms) > 1 else ms[0]
    return f"{statistics.median(ms):7.1f} {p90:7.1f} {ms[-1]:7.1f}"


def bench_plain(runs: int) -> dict[str, dict[str, list[float]]]:
    namespace: dict[str, object] = {}
    exec(BENCH_SOURCE, namespace)  # noqa: S102 - our own benchmark code
    return asyncio.run(namespace["bench_kit"](runs))  # type: ignore[operator]


def bench_in_kernel(runs: int) -> tuple[dict[str, dict[str, list[float]]], float, float]:
    """The same measurements inside a kernel; also the kernel's start and shutdown seconds."""
    started = time.perf_counter()
    kernel = Kernel(quiet=True)
    kernel_start = time.perf_counter() - started
    try:
        for code in (BENCH_SOURCE, f"import json\nprint(json.dumps(await bench_kit({runs})))"):
            cell = kernel.run(code, timeout=120)
            if not cell.ok:
                raise RuntimeError(f"benchmark cell failed in the kernel: {cell}")
        results = json.loads(cell.stdout)
    finally:
        kernel_stop = kernel.shutdown()
    return results, kernel_start, kernel_stop


def run_notebook(path: Path, allow_errors: bool) -> tuple[float, int, int]:
    """Seconds to execute a copy of the notebook headless, code cells, cells with an error."""
    notebook = nbformat.read(path, as_version=4)  # executed in memory: the file is not touched
    client = NotebookClient(notebook, timeout=60, startup_timeout=60, kernel_name="python3",
                            allow_errors=allow_errors, resources={"metadata": {"path": str(path.parent)}})
    started = time.perf_counter()
    client.execute(stderr=subprocess.DEVNULL)  # the kernel process's own log, not cell output
    seconds = time.perf_counter() - started
    code = [c for c in notebook.cells if c.cell_type == "code"]
    errors = sum(any(o.output_type == "error" for o in c.get("outputs", [])) for c in code)
    return seconds, len(code), errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="measurements per row (default 20)")
    args = parser.parse_args()
    total = time.perf_counter()

    print(f"Python {sys.version.split()[0]}, {args.runs} runs per row; milliseconds: median / p90 / max")
    print("  stop() = until stop() returns; done = until the server has finished (astop())\n")
    header = f"{'where':<14} {'mode':<7} {'start':>23}   {'stop()':>23}   {'done':>23}"
    print(header)
    print(f"{'':<23}" + "   ".join([f"{'median     p90     max':>23}"] * 3))
    print("-" * len(header))
    plain = bench_plain(args.runs)
    kernel, kernel_start, kernel_stop = bench_in_kernel(args.runs)
    for where, results in (("plain Python", plain), ("Jupyter kernel", kernel)):
        for mode in ("thread", "loop"):
            times = results[mode]
            print(f"{where:<14} {mode:<7} {summary(times['start'])}   {summary(times['stop'])}   "
                  f"{summary(times['done'])}")
    print(f"\nkernel start {kernel_start:.2f} s, shutdown {kernel_stop:.2f} s (after {4 * args.runs} servers)\n")

    print(f"{'notebook (executed headless with nbclient)':<52} {'seconds':>8} {'cells':>6} {'errors':>7}")
    print("-" * 76)
    for folder, allow_errors in (("solutions", False), ("notebooks", True)):
        for path in sorted((REPO / folder).glob("*/*.ipynb")):
            if ".ipynb_checkpoints" in path.parts:
                continue
            seconds, cells, errors = run_notebook(path, allow_errors)
            print(f"{str(path.relative_to(REPO)):<52} {seconds:8.2f} {cells:6d} {errors:7d}")
    print(f"\ntotal benchmark time {time.perf_counter() - total:.1f} s")


if __name__ == "__main__":
    main()
