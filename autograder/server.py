"""Run an ASGI app under uvicorn inside a Jupyter kernel (or plain Python), safely.

    srv = serve(app)                  # background thread, port 0, returns once listening
    httpx.get(srv.url)                # sync and async clients both work
    srv.stop()                        # returns in well under 0.3 s

    with serve(app) as srv: ...       # stopped on exit
    async with serve(app) as srv: ... # the same, from async code

Two places the app can run, chosen on purpose:

* ``mode="thread"`` (default): uvicorn gets its own event loop in a daemon thread.
  A cell that blocks (``time.sleep``, a sync ``httpx.get``) does not block the server,
  so every client works.
* ``mode="loop"``: uvicorn runs as a task on the *kernel's* running event loop, like a
  real single-process server. A cell that blocks now blocks the server too: that is
  the "don't block the event loop" lesson. Use async clients only.

The kit binds the listening socket itself, so a bind failure is an ordinary
``ServerError`` in the calling cell: uvicorn never gets the chance to ``sys.exit()``
and take the kernel down. Running the same cell again stops the server that cell
started before, and every server is stopped when the interpreter exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
import threading
import time
from typing import Any, Literal

import uvicorn

from autograder import cells
from autograder.links import human_url

__all__ = ["Server", "ServerError", "serve", "running_servers", "stop_all"]

Mode = Literal["thread", "loop"]

# How long stop() lets requests in flight finish before cancelling them (seconds).
GRACEFUL_SHUTDOWN = 0.05


class ServerError(RuntimeError):
    """The server could not start, or died while starting."""


class _StdoutHandler(logging.StreamHandler):
    """Write log records to whatever ``sys.stdout`` is at the time.

    Uvicorn logs to stderr by default, and nbgrader scores any test cell with
    stderr output as failed; server logs are information, not test failures.
    """

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    def emit(self, record: logging.LogRecord) -> None:
        # Not setStream(): it flushes the old stream, which may be closed by now (pytest's
        # capture, a finished cell's redirect).
        self.stream = sys.stdout
        super().emit(record)


def _configure_uvicorn_logging() -> None:
    logger = logging.getLogger("uvicorn")
    if any(isinstance(h, _StdoutHandler) for h in logger.handlers):
        return
    handler = _StdoutHandler()
    handler.setFormatter(logging.Formatter("[server] %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.WARNING)


class _KernelFriendlyServer(uvicorn.Server):
    """A uvicorn server that leaves signal handlers alone and stops without delay.

    uvicorn replaces SIGINT while it runs in the main thread, so "Interrupt kernel"
    would stop the server instead of the cell, and a stale handler is put back
    later. In a notebook, stopping is ``Server.stop()``'s job: it sets
    ``should_exit`` and wakes the main loop, which otherwise checks only every 0.1 s.
    """

    wakeup: asyncio.Event | None = None

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[override]
        yield

    async def main_loop(self) -> None:
        self.wakeup = asyncio.Event()
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), 0.1)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) on accepted sockets only
    # when their protocol says TCP. Without it each request after the first on a kept-alive connection
    # waits about 40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        hint = ""
        if port:
            hint = " Another server is using it: pick another port, or use port=0 to let the OS choose a free one."
        raise ServerError(f"cannot listen on {host}:{port}: {exc.strerror or exc}.{hint}") from None
    sock.setblocking(False)
    return sock


class Server:
    """A running uvicorn server: ``url``, ``port``, ``link`` and ``stop()``."""

    def __init__(self, app: Any, *, host: str, port: int, mode: Mode, log_level: str, access_log: bool,
                 config_options: dict[str, Any]) -> None:
        if mode not in ("thread", "loop"):
            raise ValueError(f"mode must be 'thread' or 'loop', not {mode!r}")
        self.app = app
        self.host = host
        self.mode: Mode = mode
        self._socket = _bind(host, port)
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(app, log_config=None, log_level=log_level, access_log=access_log,
                                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN, **config_options)
        self._uvicorn = _KernelFriendlyServer(config)
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._done = threading.Event()

    # -- addresses -------------------------------------------------------------

    @property
    def url(self) -> str:
        """The URL for clients running in this kernel, e.g. ``http://127.0.0.1:50123``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """The same address with the ``ws://`` scheme, for WebSocket clients."""
        return "ws" + self.url[len("http"):]

    @property
    def link(self) -> str:
        """A URL for a human's browser: local, or through JupyterHub/Binder's proxy."""
        return human_url(self.port)

    @property
    def running(self) -> bool:
        return not self._done.is_set()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Server {self.url} ({self.mode}, {state})>"

    def _repr_markdown_(self) -> str:
        state = "running" if self.running else "stopped"
        return f"Server {state} at `{self.url}` (in-kernel clients) — open in a browser: [{self.link}]({self.link})"

    # -- running ---------------------------------------------------------------

    async def _serve(self) -> None:
        self._task = asyncio.current_task()
        try:
            await self._uvicorn.serve(sockets=[self._socket])
        except SystemExit as exc:  # uvicorn's way of saying "startup failed"
            self._error = ServerError(f"the app failed to start (uvicorn exit code {exc.code}); see the log above")
        except asyncio.CancelledError:  # stop() while the app's startup was still running
            self._error = ServerError("the server was stopped before its startup finished")
        except BaseException as exc:  # noqa: BLE001 - reported to the caller, not lost in a thread
            self._error = exc
        finally:
            self._socket.close()
            cells.unregister(self)
            self._done.set()

    def _run_in_thread(self) -> None:
        # asyncio.Runner (not a bare loop) cancels what is left when serving ends and
        # lets it finish, so cancelled connections really close before the loop does.
        with asyncio.Runner() as runner:
            self._loop = runner.get_loop()
            runner.run(self._serve())

    def start(self, timeout: float) -> "Server":
        """Start serving and return once uvicorn is ready (thread mode) or scheduled (loop mode)."""
        _configure_uvicorn_logging()
        if self.mode == "thread":
            self._thread = threading.Thread(target=self._run_in_thread, name=f"uvicorn:{self.port}", daemon=True)
            self._thread.start()
            deadline = time.monotonic() + timeout
            while not self._uvicorn.started:
                if self._done.is_set():
                    raise self._error or ServerError("the server stopped while starting")
                if time.monotonic() > deadline:
                    self.stop()
                    raise ServerError(f"the server did not start within {timeout} s (is the app's startup stuck?)")
                time.sleep(0.002)
        else:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self._socket.close()
                raise ServerError("mode='loop' needs a running event loop: call it from a notebook cell "
                                  "or from async code, or use the default mode='thread'") from None
            self._loop = loop
            self._task = loop.create_task(self._serve())
            # Cancelled before it ever ran, the coroutine's own clean-up never runs.
            self._task.add_done_callback(lambda _: self._done.set())
        return self

    async def wait_started(self, timeout: float = 5.0) -> "Server":
        """In loop mode, wait until uvicorn has finished starting (the socket already accepts)."""
        deadline = time.monotonic() + timeout
        while not self._uvicorn.started:
            if self._done.is_set():
                raise self._error or ServerError("the server stopped while starting")
            if time.monotonic() > deadline:
                raise ServerError(f"the server did not start within {timeout} s")
            await asyncio.sleep(0.005)
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the server: stop listening at once, then let uvicorn shut down."""
        self._uvicorn.should_exit = True
        cells.unregister(self)
        if not self._uvicorn.started:
            self._call_in_loop(self._cancel_task)  # a startup that never finishes must not keep it alive
        self._call_in_loop(self._wake)
        if self.mode == "loop":
            # We cannot wait for a task of the loop we are running on; close the
            # listening socket now so nothing listens, and let the task finish.
            for server in getattr(self._uvicorn, "servers", []):
                server.close()
            self._socket.close()
            return
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
            if self._thread.is_alive():
                self._uvicorn.force_exit = True
                self._thread.join(timeout)

    def _call_in_loop(self, callback: Any) -> None:
        """Run ``callback`` on the server's loop, from any thread, if the loop still runs."""
        if self._loop is None or self._done.is_set():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed in the meantime
            self._loop.call_soon_threadsafe(callback)

    def _wake(self) -> None:
        if self._uvicorn.wakeup is not None:
            self._uvicorn.wakeup.set()

    def _cancel_task(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def astop(self, timeout: float = 2.0) -> None:
        """Stop the server from async code, waiting for it to finish in either mode."""
        if self.mode == "thread":
            await asyncio.to_thread(self.stop, timeout)
            return
        self.stop()
        if self._task is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._task), timeout)

    # -- context managers ------------------------------------------------------

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> "Server":
        if self.mode == "loop":
            await self.wait_started()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.astop()


def serve(app: Any, *, host: str = "127.0.0.1", port: int = 0, mode: Mode = "thread",
          log_level: str = "warning", access_log: bool = False, startup_timeout: float = 5.0,
          **config_options: Any) -> Server:
    """Serve an ASGI ``app`` with uvicorn and return the running ``Server``.

    ``port=0`` lets the operating system pick a free port; read it from ``.port``.
    Extra keyword arguments go to ``uvicorn.Config`` (``lifespan="on"``, ``http="h11"``, …).
    """
    key = cells.caller_key()
    cells.replace_previous(key, host, port)
    server = Server(app, host=host, port=port, mode=mode, log_level=log_level, access_log=access_log,
                    config_options=config_options)
    server.start(startup_timeout)
    cells.register(server, key, cells.current_run())
    return server


def running_servers() -> list[Any]:
    """Every server the kit started (uvicorn or socket servers) that has not been stopped."""
    return cells.running()


def stop_all() -> None:
    """Stop every server the kit started (also done automatically when Python exits)."""
    cells.stop_all()
