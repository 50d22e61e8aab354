"""Remember which notebook cell started which server, so running the cell again replaces it.

A server registers itself when it starts and unregisters when it stops. Before a
cell starts a new one, ``replace_previous`` stops what an *earlier run of the same
cell* started (JupyterLab's cell id identifies the cell; without one, as under
nbclient and nbgrader, the cell's code does), and anything the kit is running on
the port asked for. Every server still running is stopped when Python exits.
"""

from __future__ import annotations

import atexit
import threading
from typing import Protocol

__all__ = ["Stoppable", "caller_key", "current_run", "register", "replace_previous", "running", "stop_all",
           "unregister"]


class Stoppable(Protocol):
    host: str
    port: int

    def stop(self, timeout: float = ...) -> None: ...


_started: dict[str, list[Stoppable]] = {}
_runs: dict[int, str | None] = {}  # id(server) -> the cell execution that started it
_lock = threading.Lock()


def _parent() -> dict:
    """The kernel's current execute request, or {} outside a kernel."""
    try:
        from IPython import get_ipython

        return get_ipython().kernel.get_parent() or {}  # type: ignore[union-attr]
    except Exception:  # noqa: BLE001 - not in a kernel
        return {}


def caller_key() -> str | None:
    """Identify the notebook cell that is running, if any (JupyterLab's cell id, else its code)."""
    parent = _parent()
    cell_id = (parent.get("metadata") or {}).get("cellId")
    if cell_id:
        return f"cell:{cell_id}"
    code = (parent.get("content") or {}).get("code")
    return f"code:{code}" if code else None


def current_run() -> str | None:
    """The message id of the cell execution in progress (one per run of a cell)."""
    return (_parent().get("header") or {}).get("msg_id")


def register(server: Stoppable, key: str | None, run: str | None) -> None:
    with _lock:
        _started.setdefault(key or f"object:{id(server)}", []).append(server)
        _runs[id(server)] = run


def unregister(server: Stoppable) -> None:
    with _lock:
        _runs.pop(id(server), None)
        for key, servers in list(_started.items()):
            if server in servers:
                servers.remove(server)
            if not servers:
                del _started[key]


def replace_previous(key: str | None, host: str, port: int) -> None:
    """Stop servers an earlier run of this cell started, and any kit server on ``host:port``."""
    run = current_run()
    with _lock:
        stale = [s for s in _started.get(key, []) if _runs.get(id(s)) != run] if key else []
        if port:
            stale += [s for servers in _started.values() for s in servers if s.port == port and s.host == host]
    for server in stale:
        server.stop()


def running() -> list[Stoppable]:
    """Every server the kit started that has not been stopped."""
    with _lock:
        return [s for servers in _started.values() for s in servers]


def stop_all() -> None:
    """Stop every server the kit started (also done automatically when Python exits)."""
    for server in running():
        server.stop(timeout=1.0)


atexit.register(stop_all)
