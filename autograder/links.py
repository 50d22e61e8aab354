"""Links a human can open: local, or through JupyterHub/Binder's server proxy."""

from __future__ import annotations

import os

__all__ = ["human_url"]


def human_url(port: int, path: str = "/", *, scheme: str = "http") -> str:
    """The URL of an in-kernel server on ``port`` as the learner's browser must spell it.

    Locally that is ``http://127.0.0.1:PORT/``. Under JupyterHub or Binder the browser
    cannot reach the container's loopback; ``jupyter-server-proxy`` forwards
    ``{JUPYTERHUB_SERVICE_PREFIX}proxy/PORT/`` to it instead (WebSockets included).
    Use ``scheme="ws"`` for a WebSocket URL. Clients *inside* the kernel always use
    ``Server.url`` (127.0.0.1).
    """
    if not path.startswith("/"):
        path = "/" + path
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX")
    if prefix:
        prefix = "/" + prefix.strip("/") + "/"
        base = os.environ.get("JUPYTERHUB_EXTERNAL_URL") or ""
        if base.startswith("http"):
            base = base.rstrip("/")
            if scheme == "ws":
                base = "ws" + base[len("http"):]
            return f"{base}{prefix}proxy/{port}{path}"
        # A relative link: the browser resolves it against the hub's own origin.
        return f"{prefix}proxy/{port}{path}"
    return f"{scheme}://127.0.0.1:{port}{path}"
