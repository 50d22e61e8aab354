"""The in-kernel server kit (`serve`), exercised from plain Python.

The same behaviours inside a real Jupyter kernel are in ``test_kit_kernel.py``.
Every client call has a timeout and talks to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.sync.client import connect as ws_connect

from autograder import ServerError, running_servers, serve, stop_all
from autograder.server import Server

pytestmark = pytest.mark.timeout(30)

STOP_BUDGET = 0.3  # seconds: the kit promises stop() "in well under 0.3 s"


# -- a small app -------------------------------------------------------------------


async def hello(request: Any) -> PlainTextResponse:
    return PlainTextResponse("hello")


async def endless_stream(request: Any) -> StreamingResponse:
    async def ticks() -> Any:
        while True:
            yield b"tick\n"
            await asyncio.sleep(0.05)

    return StreamingResponse(ticks(), media_type="text/plain")


async def shout(websocket: WebSocket) -> None:
    await websocket.accept()
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await websocket.send_text((await websocket.receive_text()).upper())


APP = Starlette(routes=[Route("/", hello), Route("/stream", endless_stream), WebSocketRoute("/ws", shout)])


@contextlib.asynccontextmanager
async def failing_lifespan(app: Any) -> Any:
    raise RuntimeError("the database is not there")
    yield  # pragma: no cover


BROKEN_APP = Starlette(routes=[Route("/", hello)], lifespan=failing_lifespan)


# -- helpers -----------------------------------------------------------------------


def refuses_connections(port: int) -> bool:
    """True if nothing accepts TCP connections on 127.0.0.1:port."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


@contextlib.contextmanager
def taken_port() -> Iterator[int]:
    """A port that a plain listening socket (not the kit) holds."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def timed_stop(server: Server) -> float:
    started = time.perf_counter()
    server.stop()
    return time.perf_counter() - started


def run_async(coro: Any, timeout: float = 10) -> Any:
    """Run a coroutine under asyncio.run, bounded."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


@pytest.fixture(autouse=True)
def no_servers_left() -> Iterator[None]:
    """Each test starts and ends with no kit server running."""
    stop_all()
    yield
    leftover = running_servers()
    stop_all()
    assert leftover == [], f"the test left servers running: {leftover}"


# -- starting, addresses, clients ------------------------------------------------------


def test_serve_on_port_zero_returns_a_running_server_with_its_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    server = serve(APP)
    try:
        assert server.running
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert server.ws_url == f"ws://127.0.0.1:{server.port}"
        assert server.link == f"http://127.0.0.1:{server.port}/"
        assert running_servers() == [server]
    finally:
        server.stop()
    assert not server.running
    assert running_servers() == []


def test_a_sync_client_gets_a_response_in_thread_mode() -> None:
    with serve(APP) as server:
        response = httpx.get(server.url, timeout=2)
    assert (response.status_code, response.text) == (200, "hello")


def test_an_async_client_gets_a_response_in_thread_mode() -> None:
    async def fetch(url: str) -> httpx.Response:
        async with httpx.AsyncClient(timeout=2) as client:
            return await client.get(url)

    with serve(APP) as server:
        response = run_async(fetch(server.url))
    assert (response.status_code, response.text) == (200, "hello")


def test_a_websocket_client_reaches_ws_url() -> None:
    with serve(APP) as server, ws_connect(server.ws_url + "/ws", open_timeout=2, close_timeout=1) as ws:
        ws.send("hi")
        assert ws.recv(timeout=2) == "HI"


def test_an_async_client_gets_a_response_in_loop_mode() -> None:
    async def main() -> tuple[httpx.Response, int]:
        server = serve(APP, mode="loop")
        try:
            await server.wait_started()
            async with httpx.AsyncClient(timeout=2) as client:
                return await client.get(server.url), server.port
        finally:
            await server.astop()

    response, port = run_async(main())
    assert (response.status_code, response.text) == (200, "hello")
    assert refuses_connections(port)


def test_loop_mode_without_a_running_loop_is_a_clear_error() -> None:
    with pytest.raises(ServerError, match="running event loop"):
        serve(APP, mode="loop")


def test_with_block_stops_the_server_on_exit() -> None:
    with serve(APP) as server:
        assert httpx.get(server.url, timeout=2).status_code == 200
    assert not server.running
    assert refuses_connections(server.port)


def test_with_block_stops_the_server_when_the_block_raises() -> None:
    with pytest.raises(ZeroDivisionError), serve(APP) as server:
        1 / 0
    assert refuses_connections(server.port)


@pytest.mark.parametrize("mode", ["thread", "loop"])
def test_async_with_block_stops_the_server_on_exit(mode: str) -> None:
    async def main() -> Server:
        async with serve(APP, mode=mode) as server:
            async with httpx.AsyncClient(timeout=2) as client:
                assert (await client.get(server.url)).status_code == 200
        return server

    server = run_async(main())
    assert not server.running
    assert refuses_connections(server.port)


def test_fixed_port_can_be_reused_right_after_stop() -> None:
    """The kit sets SO_REUSEADDR: no "address already in use" from TIME_WAIT."""
    with serve(APP) as first:
        httpx.get(first.url, timeout=2)  # leaves a connection behind in TIME_WAIT
    with serve(APP, port=first.port) as second:
        assert httpx.get(second.url, timeout=2).status_code == 200


def test_serving_again_on_a_fixed_port_replaces_the_kit_server_there() -> None:
    first = serve(APP)
    second = serve(APP, port=first.port)
    try:
        assert not first.running
        assert running_servers() == [second]
        assert httpx.get(second.url, timeout=2).status_code == 200
    finally:
        second.stop()


# -- failures --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["thread", "loop"])
def test_a_port_taken_by_another_socket_raises_server_error(mode: str) -> None:
    async def serve_in_loop(port: int) -> Server:
        return serve(APP, port=port, mode=mode)

    with taken_port() as port:
        with pytest.raises(ServerError) as error:
            if mode == "loop":
                run_async(serve_in_loop(port))
            else:
                serve(APP, port=port)
    message = str(error.value)
    assert f"127.0.0.1:{port}" in message
    assert "already in use" in message
    assert "port=0" in message, "the message should say how to get a free port"
    assert running_servers() == []


def test_failing_lifespan_startup_raises_server_error_in_thread_mode() -> None:
    with pytest.raises(ServerError, match="failed to start"):
        serve(BROKEN_APP, lifespan="on")
    assert running_servers() == []


def test_failing_lifespan_startup_raises_server_error_in_loop_mode() -> None:
    async def main() -> None:
        async with serve(BROKEN_APP, mode="loop", lifespan="on"):
            pass  # pragma: no cover

    with pytest.raises(ServerError, match="failed to start"):
        run_async(main())
    stop_all()


def test_a_loop_mode_server_that_failed_to_start_is_not_listed_as_running() -> None:
    async def main() -> Server:
        server = serve(BROKEN_APP, mode="loop", lifespan="on")
        with pytest.raises(ServerError):
            await server.wait_started()
        return server

    server = run_async(main())
    listed = running_servers()
    stop_all()
    assert not server.running
    assert server not in listed


def test_a_startup_that_never_finishes_raises_server_error_in_time() -> None:
    release = threading.Event()

    @contextlib.asynccontextmanager
    async def stuck(app: Any) -> Any:
        while not release.is_set():  # "forever", but lets the test clean up its thread
            await asyncio.sleep(0.05)
        yield

    threads_before = set(threading.enumerate())
    new_threads: list[threading.Thread] = []
    started = time.perf_counter()
    try:
        with pytest.raises(ServerError, match="did not start within 0.3 s"):
            serve(Starlette(lifespan=stuck), lifespan="on", startup_timeout=0.3)
        waited = time.perf_counter() - started
        new_threads = [t for t in set(threading.enumerate()) - threads_before if t.is_alive()]
        left_behind = [t.name for t in new_threads]
    finally:
        release.set()
        for thread in new_threads:
            thread.join(2)
        gc.collect()  # the abandoned lifespan task logs "Event loop is closed" when collected: here, not later
    assert waited < 0.3 + STOP_BUDGET, f"serve() raised after {waited:.2f} s"
    assert left_behind == []


# -- stopping --------------------------------------------------------------------------


def test_stop_returns_quickly_and_nothing_listens_afterwards() -> None:
    durations = []
    for _ in range(5):
        server = serve(APP)
        assert httpx.get(server.url, timeout=2).status_code == 200
        durations.append(timed_stop(server))
        assert refuses_connections(server.port)
    assert max(durations) <= STOP_BUDGET, f"stop() took {durations}"


def test_stop_returns_quickly_with_an_idle_keep_alive_connection() -> None:
    durations = []
    for _ in range(3):
        server = serve(APP)
        with httpx.Client(timeout=2) as client:
            assert client.get(server.url).status_code == 200  # the connection stays open in the pool
            durations.append(timed_stop(server))
        assert refuses_connections(server.port)
    assert max(durations) <= STOP_BUDGET, f"stop() took {durations}"


def test_stop_closes_an_idle_keep_alive_connection() -> None:
    server = serve(APP)
    with socket.create_connection(("127.0.0.1", server.port), timeout=2) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        response = b""
        while not response.endswith(b"hello"):
            chunk = conn.recv(1024)
            assert chunk, f"the server closed the connection before answering: {response!r}"
            response += chunk
        server.stop()
        conn.settimeout(1)
        assert conn.recv(1024) == b"", "the server should close the connection when it stops"


def test_stop_with_an_open_websocket_returns_quickly_and_closes_it() -> None:
    server = serve(APP)
    with ws_connect(server.ws_url + "/ws", open_timeout=2, close_timeout=1) as ws:
        ws.send("hi")
        assert ws.recv(timeout=2) == "HI"
        duration = timed_stop(server)
        with pytest.raises(Exception, match="1012"):  # 1012 = service restart
            ws.recv(timeout=1)
    assert duration <= STOP_BUDGET


@pytest.mark.parametrize("mode", ["thread", "loop"])
def test_astop_returns_quickly(mode: str) -> None:
    async def main() -> list[float]:
        durations = []
        for _ in range(3):
            server = serve(APP, mode=mode)
            await server.wait_started()
            async with httpx.AsyncClient(timeout=2) as client:
                assert (await client.get(server.url)).status_code == 200
                started = time.perf_counter()
                await server.astop()
                durations.append(time.perf_counter() - started)
            assert refuses_connections(server.port)
        return durations

    durations = run_async(main())
    assert statistics.median(durations) <= STOP_BUDGET, f"astop() took {durations}"


def test_loop_mode_stop_stops_listening_at_once() -> None:
    """In loop mode stop() cannot wait for the loop it runs on, but nothing may listen after it."""
    async def main() -> tuple[float, bool]:
        server = serve(APP, mode="loop")
        await server.wait_started()
        duration = timed_stop(server)
        refused = refuses_connections(server.port)
        await server.astop()
        return duration, refused

    duration, refused = run_async(main())
    assert refused
    assert duration < 0.05


@contextlib.contextmanager
def streaming_response_in_flight(server: Server, read_timeout: float) -> Iterator[Iterator[bytes]]:
    """A client that has received the first chunk of an endless streaming response."""
    with httpx.Client(timeout=httpx.Timeout(2, read=read_timeout)) as client:
        with client.stream("GET", server.url + "/stream") as response:
            chunks = response.iter_raw()
            assert next(chunks).startswith(b"tick")
            yield chunks


def test_stop_returns_quickly_with_a_streaming_response_in_flight() -> None:
    server = serve(APP)
    with streaming_response_in_flight(server, read_timeout=2):
        duration = timed_stop(server)
    assert refuses_connections(server.port)
    assert duration <= STOP_BUDGET, f"stop() took {duration:.2f} s"


def test_stop_closes_a_streaming_connection() -> None:
    server = serve(APP)
    with streaming_response_in_flight(server, read_timeout=1.5) as chunks:
        server.stop()
        stopped = time.perf_counter()
        with pytest.raises(httpx.HTTPError) as error:
            for _ in chunks:
                pass
        waited = time.perf_counter() - stopped
    assert not isinstance(error.value, httpx.TimeoutException), f"the client hung for {waited:.2f} s"
    assert waited < 0.5


def test_stop_all_stops_every_server() -> None:
    servers = [serve(APP) for _ in range(3)]
    stop_all()
    assert running_servers() == []
    assert all(refuses_connections(server.port) for server in servers)


def test_stop_twice_is_harmless() -> None:
    server = serve(APP)
    server.stop()
    assert timed_stop(server) < 0.05
    assert refuses_connections(server.port)


def test_server_log_lines_follow_stdout_even_after_the_old_one_was_closed(monkeypatch):
    # A cell's (or pytest's) stdout is closed once it is done; the next log line must go to
    # the current one, not fail on the closed one (which made a failing lifespan hang).
    import io
    import logging
    import sys

    from autograder.server import _configure_uvicorn_logging

    _configure_uvicorn_logging()
    first = io.TextIOWrapper(io.BytesIO())  # a StringIO would forgive a flush after close
    monkeypatch.setattr(sys, "stdout", first)
    logging.getLogger("uvicorn.error").warning("first line")
    first.close()
    second = io.StringIO()
    monkeypatch.setattr(sys, "stdout", second)
    logging.getLogger("uvicorn.error").error("second line")
    assert "second line" in second.getvalue()


@pytest.mark.parametrize("mode", ["thread", "loop"])
def test_keep_alive_requests_are_not_held_back_by_nagles_algorithm(mode):
    # The kit binds uvicorn's socket itself; unless it says IPPROTO_TCP, asyncio leaves Nagle's
    # algorithm on for accepted connections and each request after the first on a kept-alive
    # connection waits ~40 ms for the client's delayed ACK (measured: 44 ms median, 0.3 ms with it off).
    async def requests() -> list[float]:
        async with serve(APP, mode=mode) as srv:
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            latencies = []
            try:
                for _ in range(15):
                    started = time.perf_counter()
                    writer.write(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
                    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                    await asyncio.wait_for(reader.readexactly(length), 2)
                    latencies.append(time.perf_counter() - started)
            finally:
                writer.close()
            return latencies

    latencies = asyncio.run(requests())
    assert statistics.median(latencies[1:]) < 0.02, f"median {statistics.median(latencies[1:]) * 1000:.1f} ms"
