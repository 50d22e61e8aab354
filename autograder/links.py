"""Links a human can open: local, or through JupyterHub/Binder's server proxy."""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["Links", "human_url", "links"]


def human_url(port: int, path: str = "/", *, scheme: str = "http") -> str:
    """The URL of an in-kernel server on ``port`` as the learner's browser must spell it.

    Locally that is ``http://127.0.0.1:PORT/``. Under JupyterHub or Binder the browser
    cannot reach the container's loopback; ``jupyter-server-proxy`` forwards
    ``{JUPYTERHUB_SERVICE_PREFIX}proxy/PORT/`` to it instead (WebSockets included).
    Use ``scheme="ws"`` for a WebSocket URL: ``ws://`` locally, ``wss://`` behind a hub
    served over https. When only the hub's path prefix is known (not its public
    address), the link is a path on the hub's own address, for ``http`` and ``ws`` alike.
    Clients *inside* the kernel always use ``Server.url`` (127.0.0.1).
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


@dataclass(frozen=True)
class Links:
    """Where a human reaches an in-kernel server: a page to open, and its WebSocket endpoint.

    Shown in a notebook as clickable Markdown; ``str()`` gives the plain text.
    """

    page: str
    websocket: str | None = None

    @property
    def relative(self) -> bool:
        """True when the links are paths on the hub's own address (its public URL is unknown)."""
        return self.page.startswith("/")

    def _lines(self, markdown: bool) -> list[str]:
        page = f"[{self.page}]({self.page})" if markdown else self.page
        lines = [f"Open in your browser: {page}"]
        if self.websocket:
            lines.append(f"WebSocket endpoint: `{self.websocket}`" if markdown else f"WebSocket endpoint: {self.websocket}")
        if self.relative:
            lines.append("(paths on this JupyterHub's own address, which your browser is already on; the WebSocket "
                         "is the same path with wss:// when the hub uses https, ws:// otherwise)")
        return lines

    def __str__(self) -> str:
        return "\n".join(self._lines(markdown=False))

    def _repr_markdown_(self) -> str:
        return "  \n".join(self._lines(markdown=True))


def links(port: int, page: str = "/", websocket: str | None = None) -> Links:
    """The links a learner's browser needs for an in-kernel server on ``port``.

    ``page`` is the path of a page to open; ``websocket`` (optional) the path of a WebSocket
    endpoint, given with the ``ws``/``wss`` scheme that matches the page's.
    """
    return Links(human_url(port, page), human_url(port, websocket, scheme="ws") if websocket else None)
