"""The kit inside a real Jupyter kernel, where learners and nbgrader use it.

One kernel serves the whole module (a kernel start costs seconds); every test stops
its servers. The kernel-shutdown test starts a kernel of its own.
"""

from __future__ import annotations

import contextlib
import socket
import textwrap
from collections.abc import Iterator

import httpx
import pytest

from tests.kernel import CellResult, Kernel

pytestmark = [pytest.mark.xdist_group("kit-kernel"), pytest.mark.timeout(60)]

SETUP = """
import asyncio, signal, socket, warnings
import httpx
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from autograder import ServerError, run_socket_server, running_servers, serve, stop_all

async def hello(request):
    return PlainTextResponse("hello")

app = Starlette(routes=[Route("/", hello)])
"""


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_ok(kernel: Kernel, code: str, timeout: float = 10) -> CellResult:
    cell = kernel.run(textwrap.dedent(code), timeout=timeout)
    assert cell.ok, cell
    return cell


@pytest.fixture(scope="module")
def module_kernel() -> Iterator[Kernel]:
    kernel = Kernel()
    try:
        run_ok(kernel, SETUP, timeout=30)
        yield kernel
    finally:
        kernel.shutdown()


@pytest.fixture
def kernel(module_kernel: Kernel) -> Iterator[Kernel]:
    """The shared kernel, with no kit server running before or after the test."""
    run_ok(module_kernel, "stop_all()")
    yield module_kernel
    assert module_kernel.is_alive(), "the test killed the kernel"
    run_ok(module_kernel, "stop_all()")


# -- the helper itself --------------------------------------------------------------------


def test_the_helper_sees_a_cells_stderr(kernel: Kernel) -> None:
    """Guard: without this, the "no stderr" tests below could not fail."""
    cell = kernel.run("warnings.warn('careful')")
    assert "UserWarning: careful" in cell.stderr
    assert cell.stdout == ""


# -- bind failures ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["thread", "loop"])
def test_a_taken_port_is_a_server_error_and_the_kernel_lives_on(kernel: Kernel, mode: str) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        cell = kernel.run(f"srv = serve(app, port={port}, mode={mode!r})")
    assert cell.error is not None, cell
    assert cell.error["ename"] == "ServerError"
    assert "already in use" in cell.error["evalue"]
    assert kernel.is_alive()
    assert run_ok(kernel, "print('next cell')").stdout == "next cell\n"


# -- running a cell again --------------------------------------------------------------------


def test_rerunning_a_cell_leaves_only_its_new_server(kernel: Kernel) -> None:
    code = "srv = serve(app)\nsrv.port"
    first = int(run_ok(kernel, code).result or 0)
    second = int(run_ok(kernel, code).result or 0)
    assert first != second
    assert refuses_connections(first)
    assert httpx.get(f"http://127.0.0.1:{second}/", timeout=2).text == "hello"
    assert run_ok(kernel, "len(running_servers())").result == "1"


def test_rerunning_an_edited_cell_replaces_its_server(kernel: Kernel) -> None:
    """JupyterLab sends the cell's id, so an edited cell still replaces the server it started."""
    first = int(kernel.run("edited = serve(app)\nedited.port", cell_id="cell-a").result or 0)
    second = int(kernel.run("edited = serve(app)  # changed\nedited.port", cell_id="cell-a").result or 0)
    assert refuses_connections(first)
    assert not refuses_connections(second)


def test_two_servers_from_one_run_of_a_cell_both_keep_running(kernel: Kernel) -> None:
    cell = run_ok(kernel, "one, two = serve(app), serve(app)\n(one.port, two.port)")
    ports = [int(p) for p in (cell.result or "").strip("()").split(",")]
    assert [httpx.get(f"http://127.0.0.1:{p}/", timeout=2).status_code for p in ports] == [200, 200]


def test_rerunning_a_cell_replaces_its_socket_server(kernel: Kernel) -> None:
    """The blocking-socket runner follows the same rule as serve()."""
    run_ok(kernel, "def accept_forever(listener):\n    while True:\n        listener.accept()[0].close()")
    code = "sock_srv = run_socket_server(accept_forever)\nsock_srv.port"
    first = int(run_ok(kernel, code).result or 0)
    second = int(run_ok(kernel, code).result or 0)
    assert refuses_connections(first)
    assert not refuses_connections(second)
    assert run_ok(kernel, "len(running_servers())").result == "1"


@pytest.mark.parametrize("mode", ["thread", "loop"])
def test_rerunning_a_fixed_port_cell_rebinds_the_port(kernel: Kernel, mode: str) -> None:
    port = free_port()
    code = f"fixed = serve(app, port={port}, mode={mode!r})"
    run_ok(kernel, code)
    httpx.get(f"http://127.0.0.1:{port}/", timeout=2)  # a served connection, as a learner would make
    run_ok(kernel, code)  # no "address already in use"
    assert httpx.get(f"http://127.0.0.1:{port}/", timeout=2).text == "hello"
    assert run_ok(kernel, "len(running_servers())").result == "1"


# -- signals ---------------------------------------------------------------------------------


def test_thread_mode_leaves_the_kernels_sigint_handler_alone(kernel: Kernel) -> None:
    cell = run_ok(kernel, """
        before = signal.getsignal(signal.SIGINT)
        srv = serve(app)
        httpx.get(srv.url, timeout=2)
        during = signal.getsignal(signal.SIGINT)
        srv.stop()
        print(before, during is before, signal.getsignal(signal.SIGINT) is before)
    """)
    assert cell.stdout.endswith(" True True\n"), cell


def test_loop_mode_leaves_the_kernels_sigint_handler_alone(kernel: Kernel) -> None:
    """uvicorn's own serve() would install its SIGINT handler on the kernel's main thread."""
    cell = run_ok(kernel, """
        before = signal.getsignal(signal.SIGINT)
        srv = serve(app, mode="loop")
        await srv.wait_started()
        async with httpx.AsyncClient(timeout=2) as client:
            await client.get(srv.url)
        during = signal.getsignal(signal.SIGINT)
        await srv.astop()
        print(before, during is before, signal.getsignal(signal.SIGINT) is before)
    """)
    assert cell.stdout.endswith(" True True\n"), cell


# -- stderr ------------------------------------------------------------------------------------


ERROR_APP = """
from fastapi import FastAPI

api = FastAPI()

@api.get("/ok")
def ok():
    return {"ok": True}

@api.get("/boom")
def boom():
    raise ValueError("boom")
"""


@pytest.mark.parametrize("mode", ["thread", "loop"])
def test_a_test_cell_with_a_500_writes_nothing_to_stderr(kernel: Kernel, mode: str) -> None:
    """nbgrader scores any stderr in a test cell 0; uvicorn's error log must go to stdout."""
    run_ok(kernel, ERROR_APP)
    cell = kernel.run(textwrap.dedent(f"""
        async with serve(api, mode={mode!r}) as srv:
            async with httpx.AsyncClient(timeout=2) as client:
                statuses = [(await client.get(srv.url + path)).status_code for path in ("/ok", "/boom")]
        print(statuses)
    """))
    assert cell.ok, cell
    assert cell.stderr == ""
    assert "[200, 500]" in cell.stdout
    assert "Exception in ASGI application" in cell.stdout and "ValueError: boom" in cell.stdout


def test_warnings_and_stderr_from_learner_code_are_shown_on_stdout(kernel: Kernel) -> None:
    cell = kernel.run(textwrap.dedent("""
        import sys
        from autograder import call, quietly

        def noisy():
            warnings.warn("deprecated thing", DeprecationWarning)
            print("debug output", file=sys.stderr)
            return 42

        assert call(noisy) == 42
        with quietly("your cell"):
            warnings.warn("careful")
            print("more debug output", file=sys.stderr)
    """))
    assert cell.ok, cell
    assert cell.stderr == ""
    for note in ("DeprecationWarning: deprecated thing", "debug output", "UserWarning: careful", "more debug output"):
        assert note in cell.stdout


# -- startup failures --------------------------------------------------------------------------


BROKEN_APP = """
import contextlib

@contextlib.asynccontextmanager
async def no_database(app):
    raise RuntimeError("the database is not there")
    yield

broken = Starlette(lifespan=no_database)
"""


@pytest.mark.parametrize("start", ["srv = serve(broken, lifespan='on')",
                                   "srv = serve(broken, lifespan='on', mode='loop')\nawait srv.wait_started()"],
                         ids=["thread", "loop"])
def test_a_failing_lifespan_is_a_server_error_and_the_kernel_lives_on(kernel: Kernel, start: str) -> None:
    run_ok(kernel, BROKEN_APP)
    cell = kernel.run(start)
    assert cell.error is not None and cell.error["ename"] == "ServerError", cell
    assert cell.stderr == ""
    assert kernel.is_alive()
    run_ok(kernel, "print('next cell')")


# -- bounded awaits ----------------------------------------------------------------------------


def test_within_ends_a_cell_awaiting_forever_with_an_error_in_time(kernel: Kernel) -> None:
    cell = kernel.run("from autograder import within\nawait within(asyncio.Event().wait(), 0.5, 'x')", timeout=5)
    assert cell.error is not None and cell.error["ename"] == "CheckFailed", cell
    assert "did not finish within 0.5 s" in cell.error["evalue"]
    assert 0.5 <= cell.elapsed < 1.5
    run_ok(kernel, "print('next cell')")


# -- the end of the kernel ---------------------------------------------------------------------


@contextlib.contextmanager
def fresh_kernel() -> Iterator[Kernel]:
    kernel = Kernel()
    try:
        yield kernel
    finally:
        if kernel.manager.has_kernel:
            kernel.shutdown()


@pytest.mark.timeout(90)
def test_nothing_listens_after_the_kernel_shuts_down_and_shutdown_is_quick() -> None:
    with fresh_kernel() as kernel:
        run_ok(kernel, SETUP, timeout=30)
        cell = run_ok(kernel, """
            def accept_forever(listener):
                while True:
                    listener.accept()[0].close()

            servers = [serve(app), serve(app), serve(app, mode="loop"), run_socket_server(accept_forever)]
            await servers[2].wait_started()
            client = httpx.Client(timeout=2)  # keeps an idle keep-alive connection open
            client.get(servers[0].url)
            print(*[s.port for s in servers])
        """)
        ports = [int(p) for p in cell.stdout.split()]
        assert not any(refuses_connections(port) for port in ports)
        seconds = kernel.shutdown()
    assert all(refuses_connections(port) for port in ports)
    assert seconds < 2, f"the kernel took {seconds:.2f} s to shut down"
