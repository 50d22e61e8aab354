"""Run a learner's blocking socket server in a background thread, with timeouts.

    def serve_forever(listener):          # the learner's accept loop
        while True:
            conn, _ = listener.accept()
            handle_connection(conn)

    with run_socket_server(serve_forever) as srv:
        httpx.get(srv.url, timeout=2)

The kit owns the listening socket (127.0.0.1, port 0 by default) and runs the
accept loop in a daemon thread, so a wrong answer cannot hang the kernel: every
accepted connection gets a read timeout, ``stop()`` unblocks ``accept()`` by
closing the listener, and an exception in the learner's code is kept in
``.error`` and printed (to stdout) instead of vanishing with the thread.
"""

from __future__ import annotations

import socket
import sys
import threading
import traceback
from typing import Any, Callable

from autograder import cells

__all__ = ["SocketServer", "run_socket_server"]


class _TimeoutListener:
    """A listening socket whose accepted connections come with a read timeout.

    It behaves like the socket it wraps (``accept``, ``close``, ``getsockname``…).
    """

    def __init__(self, sock: socket.socket, conn_timeout: float | None) -> None:
        self._sock = sock
        self._conn_timeout = conn_timeout

    def accept(self) -> tuple[socket.socket, Any]:
        conn, addr = self._sock.accept()
        conn.settimeout(self._conn_timeout)
        return conn, addr

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class SocketServer:
    """A blocking accept loop running in a background thread."""

    def __init__(self, accept_loop: Callable[..., Any], args: tuple[Any, ...], *, host: str, port: int,
                 conn_timeout: float | None) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._sock.bind((host, port))
        except OSError as exc:
            self._sock.close()
            raise RuntimeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; use port=0 "
                               "to let the OS choose a free port") from None
        self._sock.listen(64)
        self.host = host
        self.port: int = self._sock.getsockname()[1]
        self.error: BaseException | None = None
        self._stopping = False
        listener = _TimeoutListener(self._sock, conn_timeout)
        name = getattr(accept_loop, "__name__", "server")
        self._thread = threading.Thread(target=self._run, args=(accept_loop, listener, *args),
                                        name=f"{name}:{self.port}", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def __repr__(self) -> str:
        return f"<SocketServer {self.url} ({'running' if self.running else 'stopped'})>"

    def _run(self, accept_loop: Callable[..., Any], *args: Any) -> None:
        try:
            accept_loop(*args)
        except OSError:
            if not self._stopping:  # accept() failing because we closed the listener is the normal way out
                self._report()
        except BaseException:  # noqa: BLE001 - shown to the learner, never lost in the thread
            self._report()
        finally:
            cells.unregister(self)

    def _report(self) -> None:
        error = sys.exc_info()[1]
        print(f"[server {self.url}] the server loop stopped with an error:", file=sys.stdout)
        traceback.print_exc(file=sys.stdout)
        # Keep the error but not its frames: they hold the loop's sockets open, and
        # clients would wait for their timeout instead of seeing the server go away.
        traceback.clear_frames(error.__traceback__)
        self.error = error.with_traceback(None)
        self._sock.close()

    def stop(self, timeout: float = 1.0) -> None:
        """Close the listening socket (which ends ``accept()``) and wait for the loop to return."""
        self._stopping = True
        cells.unregister(self)
        try:
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in accept() on Linux
        except OSError:
            pass
        self._sock.close()
        self._thread.join(timeout)

    def __enter__(self) -> "SocketServer":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def run_socket_server(accept_loop: Callable[..., Any], *args: Any, host: str = "127.0.0.1", port: int = 0,
                      conn_timeout: float | None = 5.0) -> SocketServer:
    """Run ``accept_loop(listener, *args)`` in a daemon thread on a fresh listening socket.

    ``accept_loop`` should return (or raise ``OSError``) once the listener is closed.
    Accepted connections time out after ``conn_timeout`` seconds of silence. Running
    the same cell again stops the server it started before.
    """
    key = cells.caller_key()
    cells.replace_previous(key, host, port)
    server = SocketServer(accept_loop, args, host=host, port=port, conn_timeout=conn_timeout)
    cells.register(server, key, cells.current_run())
    if not server.running:  # the loop already ended (and unregistered) before it was registered
        cells.unregister(server)
    return server

