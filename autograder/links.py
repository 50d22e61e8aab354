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
    public = os.environ.get("JUPYTERHUB_PUBLIC_URL", "")
    if public.startswith("http"):
        # JupyterHub's full public URL of this user's server, prefix included.
        base = public.rstrip("/")
        if scheme == "ws":
            base = "ws" + base[len("http"):]
        return f"{base}/proxy/{port}{path}"
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX")
    if prefix:
        # A link relative to the hub's origin, which the browser is already on.
        return "/" + prefix.strip("/") + f"/proxy/{port}{path}"
    return f"{scheme}://127.0.0.1:{port}{path}"
