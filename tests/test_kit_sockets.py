"""The socket runner: a learner's blocking accept loop in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest

from autograder import SocketServer, run_socket_server

pytestmark = pytest.mark.timeout(30)


def echo_upper(listener: Any) -> None:
    """A correct, blocking, one-connection-at-a-time accept loop."""
    while True:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(conn.recv(1024).upper())


def talk(server: SocketServer, data: bytes) -> bytes:
    with socket.create_connection(server.address, timeout=2) as conn:
        conn.sendall(data)
        return conn.recv(1024)


def wait_until_stopped(server: SocketServer, timeout: float = 2) -> None:
    deadline = time.monotonic() + timeout
    while server.running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not server.running, "the accept loop should have ended"


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_serves_a_blocking_accept_loop_on_a_free_port() -> None:
    with run_socket_server(echo_upper) as server:
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert talk(server, b"hello") == b"HELLO"
        assert talk(server, b"again") == b"AGAIN"


def test_passes_extra_arguments_to_the_accept_loop() -> None:
    def reply_with(listener: Any, greeting: bytes) -> None:
        while True:
            conn, _ = listener.accept()
            with conn:
                conn.sendall(greeting)

    with run_socket_server(reply_with, b"hi there") as server:
        assert talk(server, b"") == b"hi there"


def test_stop_returns_quickly_while_accept_blocks() -> None:
    server = run_socket_server(echo_upper)
    time.sleep(0.05)  # the loop is now blocked in accept()
    started = time.perf_counter()
    server.stop()
    assert time.perf_counter() - started < 0.2
    assert not server.running
    assert server.error is None, "closing the listener is the normal way out, not an error"
    assert refuses_connections(server.port)


def test_with_block_stops_the_server() -> None:
    with run_socket_server(echo_upper) as server:
        pass
    assert not server.running
    assert refuses_connections(server.port)


def test_an_exception_in_the_accept_loop_is_kept_and_printed_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    def broken(listener: Any) -> None:
        conn, _ = listener.accept()
        conn.close()
        raise ValueError("oops in the handler")

    with run_socket_server(broken) as server:
        with socket.create_connection(server.address, timeout=2):
            pass
        wait_until_stopped(server)
    assert isinstance(server.error, ValueError)
    out, err = capsys.readouterr()
    assert err == ""
    assert "the server loop stopped with an error" in out
    assert "ValueError: oops in the handler" in out



def test_after_the_accept_loop_fails_its_connections_close_and_nothing_listens() -> None:
    """A client of a crashed loop sees the connection end at once, not after its own timeout."""
    def crash_mid_request(listener: Any) -> None:
        conn, _ = listener.accept()  # never closed by the learner's code
        raise ValueError("oops before replying")

    server = run_socket_server(crash_mid_request)
    try:
        with socket.create_connection(server.address, timeout=2) as client:
            wait_until_stopped(server)
            client.settimeout(1)
            assert client.recv(1024) == b""
        assert refuses_connections(server.port)
    finally:
        server.stop()

def test_accepted_connections_time_out_when_the_client_sends_nothing() -> None:
    seen: dict[str, Any] = {}

    def read_one(listener: Any) -> None:
        conn, _ = listener.accept()
        with conn:
            started = time.monotonic()
            try:
                conn.recv(1024)
            except TimeoutError as exc:  # socket.timeout
                seen["error"] = exc
            seen["waited"] = time.monotonic() - started

    with run_socket_server(read_one, conn_timeout=0.3) as server:
        with socket.create_connection(server.address, timeout=2):  # connects, never sends
            wait_until_stopped(server)
    assert isinstance(seen.get("error"), TimeoutError)
    assert 0.25 <= seen["waited"] < 1.0


def test_a_taken_port_is_a_clear_error() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        threads = threading.active_count()
        with pytest.raises(RuntimeError, match=rf"127\.0\.0\.1:{port}.*already in use.*port=0"):
            run_socket_server(echo_upper, port=port)
    assert threading.active_count() == threads, "no thread may be started for a server that cannot listen"


def test_a_fixed_port_can_be_reused_right_after_stop() -> None:
    with run_socket_server(echo_upper) as first:
        talk(first, b"x")  # the server closes first: its side of the connection is in TIME_WAIT
    with run_socket_server(echo_upper, port=first.port) as second:
        assert talk(second, b"again") == b"AGAIN"
